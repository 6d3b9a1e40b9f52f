"""Compile a layer's backward in a second process while this one compiles its forward.

Numba compiles one function at a time in a process. A layer's first training forward (per
dtype) calls ``start(backward_work, args)`` with arguments of the backward's types; when Numba's
cache lacks that function, a second Python process compiles it into the cache, and the
backward's first run (numba_team.run) calls ``wait`` and loads it. Nothing starts when it is
compiled or cached already, its cache is off, or with one thread; if the process fails or takes
over ``TIMEOUT`` seconds, the run compiles for itself. The two processes also save the helpers
they share (``next_ticket``, ``finish``, ``_blas``), each of one signature, so under the same
keys, and may write their cache index at once: a lost entry costs a later process a compilation.
Nothing else is compiled here: Numba names a new entry's data file from the index it has read,
so two different signatures of one function saved at the same moment could share one file.
"""
import atexit
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
from numba import typeof
from numba._dispatcher import compute_fingerprint

TIMEOUT = 60
_CHILD = """import importlib, pickle, sys
path, module, name, types = pickle.load(sys.stdin.buffer)
sys.path[:] = path
getattr(importlib.import_module(module), name).compile(types)
"""
_running = {}   # (work, fingerprint of the arguments) -> the process compiling it
_asked = set()  # (work, dtype) of the calls to first
_lock = threading.Lock()
_owner = os.getpid()   # a forked child leaves its parent's processes alone


def first(work, dtype):
    """Whether this is the first ask for ``work`` in ``dtype`` (the kernels start once per dtype,
    and so build their stand-in arguments once)."""
    with _lock:
        new = (work, dtype) not in _asked
        _asked.add((work, dtype))
    return new


def start(work, args):
    """Start compiling the jitted ``work`` for the types of ``args`` in a second process."""
    from .numba_team import available
    if available() < 2 or getattr(sys, "frozen", False) or not sys.executable:
        return
    key, types = (work, compute_fingerprint(args)), tuple(typeof(a) for a in args)
    with _lock:
        if key in _running or types in work.overloads or _cached(work, types) is not False:
            return
        try:
            process = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:   # no second process here: the backward compiles in this one
            return
        try:
            process.stdin.write(pickle.dumps((sys.path, work.py_func.__module__,
                                              work.py_func.__name__, types)))
            process.stdin.close()
        except OSError:
            _stop(process)
            return
        _running[key] = process


def stand_ins(dtype, *ndims):
    """Empty writable C-contiguous arrays of ``dtype`` with these numbers of axes (a tuple of
    numbers gives a tuple of arrays): arguments of the types the arrays of a later call will
    have, for ``start``."""
    return tuple(stand_ins(dtype, *n) if isinstance(n, tuple) else np.empty((0,) * n, dtype)
                 for n in ndims)


def wait(work, args):
    """Until the process compiling ``work`` for the types of ``args``, if any, has ended."""
    if not _running or os.getpid() != _owner:
        return
    key = (work, compute_fingerprint(args))
    process = _running.get(key)
    if process is None:
        return
    try:
        process.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        _stop(process)
    _running.pop(key, None)   # another thread may have waited for it too


def _cached(work, types):
    """Whether Numba's cache holds ``work`` for ``types``; None when its cache is off."""
    cache = work._cache   # Numba's own lookup, without loading the code
    if not getattr(cache, "_enabled", False):
        return None
    return cache._index_key(types, work.targetctx.codegen()) in cache._cache_file._load_index()


def _stop(process):
    process.kill()
    process.wait()


@atexit.register
def _stop_all():
    """A process compiling for a run that will not come ends with this one."""
    if os.getpid() == _owner:
        for process in _running.values():
            _stop(process)
