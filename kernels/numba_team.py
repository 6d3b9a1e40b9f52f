"""A team of threads working through a kernel's steps together, each step cut into pieces.

An LSTM step needs the whole hidden state of the step before, so the threads of a layer cut
each step into pieces (blocks of hidden units) and meet between steps. They meet through two
counters rather than a barrier: the work of a call is numbered by tickets, ``step * pieces +
piece``; each thread, in a loop,

1. waits until the next unclaimed ticket may start: every ticket of the earlier steps is
   finished (``counters[FINISHED]`` has reached ``step * pieces``: a piece of step s starts
   only after all of step s - 1, so the finished tickets are always all those of earlier steps
   plus some of the current one),
2. claims it (an atomic compare-and-swap on ``counters[CLAIMED]``; if another thread was
   first, it looks again),
3. does the piece and counts it finished (an atomic add).

A thread only ever waits for tickets that running threads have claimed, so the team cannot
deadlock however many of its threads run, or in what order: one thread alone does every piece
(the serial path; also after ``fork``, where GNU OpenMP's threads are gone). A thread that
waits holds no ticket, so when the scheduler takes its core away (a loaded machine) the others
do its share; only a thread descheduled in the middle of a piece holds the team up. Waiting spins (a step takes microseconds, far less than a sleep and
wake-up) and yields the core after a while.

The threads are Numba's own (``parallel=True``, its OpenMP layer here): a team whose threads
are still spinning from a recent call starts far faster than tasks handed to a Python thread
pool (which also needs the GIL in each worker). GNU OpenMP keeps its idle threads spinning for
a few milliseconds after a call, as PyTorch's do. ``start`` pins Numba's worker threads one
per core on first use and moves the calling thread (which takes pieces too) off the workers'
cores when the scheduler has put it on one, where it would slow every call
(benchmarks/PERFORMANCE.md has the measurements).

While a team runs, BLAS runs one thread per call (cpu_threads.blas_threads). Numba's cache
stores a kernel with the functions of this module compiled in; after editing this module,
delete the kernels' ``__pycache__/*.nb*`` files (Numba only checks a kernel's own file).
"""
import ctypes
import os

import numpy as np
from numba import get_num_threads, get_thread_id, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

CLAIMED, FINISHED = 0, 8          # counter slots, a 64-byte cache line apart
SPINS_BEFORE_YIELD = 4096

_sched_yield = types.ExternalFunction("sched_yield", types.intc())
_sched_setaffinity = types.ExternalFunction(
    "sched_setaffinity", types.intc(types.intc, types.intp, types.voidptr))
_forked = False
_pinned = False
_worker_cores = set()
_libc = ctypes.CDLL(None, use_errno=True)


def counters():
    """Fresh counters for one call of a team."""
    return np.zeros(16, np.int64)


def _pointer(context, builder, array_type, array, index):
    ary = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [index])


@intrinsic
def _fetch_add(typingctx, array, index, value):
    """``array[index] += value`` atomically (sequentially consistent); returns the old value."""
    def codegen(context, builder, signature, args):
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.atomic_rmw("add", pointer, args[2], "seq_cst")
    return types.int64(array, types.intp, types.int64), codegen


@intrinsic
def _compare_exchange(typingctx, array, index, expected, value):
    """``array[index] = value`` if it holds ``expected``, atomically; whether it did."""
    def codegen(context, builder, signature, args):
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1])
        result = builder.cmpxchg(pointer, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(result, 1)
    return types.boolean(array, types.intp, types.int64, types.int64), codegen


@intrinsic
def _load(typingctx, array, index):
    """``array[index]``, read atomically with acquire ordering (sees what the writer wrote
    before its release)."""
    def codegen(context, builder, signature, args):
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(pointer, "acquire", 8)
    return types.int64(array, types.intp), codegen


@njit(nogil=True, cache=True)
def next_ticket(counters, pieces, total):
    """Claim the next of ``total`` tickets once its step may start (every ticket of the steps
    before it finished); a value >= ``total`` when none is left. The thread waits *before* it
    claims, so a waiting thread holds no ticket: if the scheduler takes its core away, nobody
    waits for it."""
    spins = 0
    while True:
        ticket = _load(counters, CLAIMED)
        if ticket >= total:
            return ticket
        if _load(counters, FINISHED) >= ticket // pieces * pieces:
            if _compare_exchange(counters, CLAIMED, ticket, ticket + 1):
                return ticket
            continue   # another thread took it: look again at once
        spins += 1
        if spins > SPINS_BEFORE_YIELD:
            _sched_yield()


@njit(nogil=True, cache=True)
def finish(counters):
    """Count one ticket finished (its writes become visible to whoever then sees the count)."""
    _fetch_add(counters, FINISHED, 1)


def available():
    """The threads a team may have: the cores cpu_threads allows, within Numba's threads; 1 in
    a forked child."""
    from . import cpu_threads
    return 1 if _forked else max(1, min(cpu_threads.get_num_threads(), get_num_threads()))


def start():
    """Before a team starts: pin Numba's worker threads one per core (the first time), and move
    the calling thread off the workers' cores if the scheduler has put it on one (Linux only)."""
    if not hasattr(os, "sched_getaffinity"):
        return
    if not _pinned:
        _pin_workers()
    if _libc.sched_getcpu() in _worker_cores:
        allowed = os.sched_getaffinity(0)
        free = allowed - _worker_cores
        if free:   # a migration, not a pin: the caller's own affinity comes straight back
            os.sched_setaffinity(0, free)
            os.sched_setaffinity(0, allowed)


def _pin_workers():
    global _pinned, _worker_cores
    allowed = sorted(os.sched_getaffinity(0))
    cores = [allowed[thread % len(allowed)] for thread in range(get_num_threads())]
    masks = np.zeros((len(cores), 16), np.uint64)   # a cpu_set_t of 1024 CPUs per thread
    for thread, core in enumerate(cores):
        masks[thread, core // 64] = np.uint64(1) << np.uint64(core % 64)
    _pin(masks)
    _worker_cores = set(cores[1:])   # thread 0 is the caller
    _pinned = True


@njit(parallel=True, cache=True)
def _pin(masks):
    """Pin each of Numba's worker threads to its core; the calling thread (id 0) stays free."""
    for _ in prange(masks.shape[0]):
        thread = get_thread_id()
        if thread > 0:
            _sched_setaffinity(0, masks.shape[1] * 8, masks[thread].ctypes)


def _after_fork_in_child():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
