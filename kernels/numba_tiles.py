"""The per-step recurrent product ``a (B, K) @ w (K, N)`` cut into the BLAS calls that run fastest.

How fast a BLAS build runs a thin product repeated at every step depends on its shape in ways
only that build knows, so the cut is measured (``tiling``). A cut is ``(parts, rows)``: ``w``'s
columns in ``parts`` contiguous blocks (``split_columns``; copies, whose rows do not compete for
cache sets as a view's do), each multiplied ``rows`` rows of ``a`` at a time:

    out[r:r + rows, block p] (+)= a[r:r + rows] @ w_parts[p]

Cuts round differently (BLAS picks its inner kernels by shape), so a cut measured anew in each
process, where two ran about as fast, made one seed train differently from run to run: the first
measurement is kept in a file beside Numba's cache of these kernels (``tilings-*.json``, one per
BLAS build and CPU; delete it to measure again), and every later process takes the same cut.
"""
import fcntl
import hashlib
import json
import os
import tempfile
import time

import llvmlite.binding
import numpy as np
from numba import njit

from . import cpu_threads
from .numba_blas import gemm

PARTS = (1, 2, 4)
ROWS = (None, 16, 8, 4)   # None: all rows in one call
_tilings = {}


@njit(cache=True, nogil=True, inline="always")
def tiled_matmul(a, w_parts, out, accumulate, rows):
    """``out = a @ w`` (``out += a @ w`` when ``accumulate``), ``w`` given as its column blocks
    ``w_parts``, ``rows`` rows of ``a`` per call."""
    parts, _, width = w_parts.shape
    for p in range(parts):
        cols = slice(p * width, (p + 1) * width)
        for r in range(0, a.shape[0], rows):
            gemm(a[r:r + rows], w_parts[p], out[r:r + rows, cols], accumulate)


def split_columns(w, parts, out=None):
    """``w (K, N)`` as ``(parts, K, N / parts)``, each block contiguous (written into ``out`` if
    given)."""
    k, n = w.shape
    blocks = w.reshape(k, parts, n // parts).transpose(1, 0, 2)
    if out is None:
        return np.ascontiguousarray(blocks)
    out[...] = blocks
    return out


def tiling(dtype, rows, k, n, threads, repeats=5):
    """The fastest ``(parts, rows per call)`` for ``(rows, k) @ (k, n)`` in ``dtype`` with the
    BLAS threading of a team of ``threads`` (``cpu_threads.blas_threads``): the cut stored for
    this machine, else measured (best of 5 rounds of ``repeats`` calls per candidate) and stored."""
    if rows == 0:
        return 1, 1
    key = f"{np.dtype(dtype).str} {rows} {k} {n} {threads}"
    if key not in _tilings:
        def valid(cut):
            return cut is not None and cut[0] in PARTS and n % cut[0] == 0 and 1 <= cut[1] <= rows

        path = _stored_path()
        cut = _read(path).get(key)
        if not valid(cut):
            with cpu_threads.blas_threads(threads):
                cut = _fastest(dtype, rows, k, n, repeats)
            cut = _store(path, key, cut, valid)
        _tilings[key] = cut
    return _tilings[key]


def _stored_path():
    """The file of the cuts measured with this BLAS build on this CPU, in the folder of Numba's
    cache of these kernels; None when Numba caches nothing."""
    cache = tiled_matmul._cache
    if not getattr(cache, "_enabled", False):
        return None
    controller = cpu_threads._blas_controller()   # OpenBLAS's only: others (torch's MKL) may come
    builds = sorted((lib.version, lib.architecture) for lib in getattr(controller, "lib_controllers", ())
                    if lib.internal_api == "openblas")
    name = hashlib.sha256(repr((builds, llvmlite.binding.get_host_cpu_name())).encode()).hexdigest()
    return os.path.join(cache._cache_path, f"tilings-{name[:16]}.json")


def _read(path):
    """The stored cuts by key, leaving out entries that are not two integers; none when there is
    no file to read."""
    try:
        with open(path) as file:
            stored = json.load(file)
    except (TypeError, ValueError, OSError):   # TypeError: no path
        return {}
    if not isinstance(stored, dict):
        return {}
    return {key: tuple(cut) for key, cut in stored.items()
            if isinstance(cut, list) and len(cut) == 2 and all(type(value) is int for value in cut)}


def _store(path, key, cut, valid):
    """``cut`` stored under ``key``, unless another process stored a ``valid`` one for it
    meanwhile: that one is returned instead, so processes measuring at once take one cut. With no
    file (or no folder to write it in), ``cut`` stays this process's."""
    if path is None:
        return cut
    try:
        with open(f"{path}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # released when closed
            stored = _read(path)
            if valid(stored.get(key)):
                return stored[key]
            stored[key] = cut
            handle, partial = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".partial")
            try:
                with os.fdopen(handle, "w") as file:
                    json.dump({name: [int(v) for v in c] for name, c in stored.items()}, file, sort_keys=True)
                os.replace(partial, path)   # whole, for a process reading without the lock
            finally:
                if os.path.exists(partial):
                    os.remove(partial)
    except OSError:
        pass
    return cut


def _fastest(dtype, rows, k, n, repeats):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, k)).astype(dtype)
    w = rng.standard_normal((k, n)).astype(dtype)
    out = np.zeros((rows, n), dtype)
    best = None
    for parts in (p for p in PARTS if n % p == 0):
        w_parts = split_columns(w, parts)
        for per_call in sorted({min(r or rows, rows) for r in ROWS}, reverse=True):
            tiled_matmul(a, w_parts, out, True, per_call)   # compile / warm up
            seconds = min(_timed(a, w_parts, out, per_call, repeats) for _ in range(5))
            if best is None or seconds < best[0]:
                best = (seconds, parts, per_call)
    return best[1:]


def _timed(a, w_parts, out, per_call, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        tiled_matmul(a, w_parts, out, True, per_call)
    return time.perf_counter() - start
