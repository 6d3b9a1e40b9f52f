"""Running a recurrent kernel on several cores: independent batch shards, one thread each (the
GRU and RNN kernels), and the number of threads every CPU kernel may use (``set_num_threads``;
the LSTM kernel's team, numba_team, cuts each step by hidden units instead).

The rows of a batch never interact in a recurrent layer, so the batch is cut into contiguous
shards and each thread runs the whole sequence (forward or BPTT) for its shard; the threads meet
once, at the end. Threading each step's small GEMM inside BLAS instead would cost a barrier per
step, and on a busy machine each barrier can wait a scheduler quantum.

The shards run on a pool of worker threads, each pinned to its own core (Linux; round-robin
over the cores the process may use), while the calling thread waits: unpinned, the scheduler
sometimes leaves both workers on one core after an idle spell. Handing out shards has a cost of
its own, which small calls feel (benchmarks/PERFORMANCE.md has the measurements).

A child made by ``fork`` has none of the parent's threads: it starts a pool of its own on its
first call (``os.register_at_fork``), where the parent's pool would wait for ever.

While shards run, BLAS is limited to one thread (through threadpoolctl, for the duration of the
call) so that the threads do not oversubscribe the cores; without threadpoolctl installed,
kernels run as a single shard with BLAS's own threading.
"""
import contextlib
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

MIN_ROWS = 8            # fewer rows per shard: the per-step GEMMs get too thin
MIN_FLOPS = 4_000_000   # less work per shard does not pay for a thread

_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_pool = None
_controller = None


def set_num_threads(threads):
    """Number of threads (batch shards) the CPU kernels may use; 1 disables sharding."""
    global _threads, _pool
    if int(threads) < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {threads}")
    if _pool is not None:
        _pool.shutdown(wait=False)
    _threads, _pool = int(threads), None


def get_num_threads():
    """Number of threads (batch shards) the CPU kernels may use (default: the usable cores)."""
    return _threads


def shards(batch, flops_per_row):
    """Contiguous slices of ``range(batch)``, one per thread; one slice when sharding is off or
    the work (``flops_per_row`` per batch row) is too small to share."""
    count = max(1, min(_threads, batch // MIN_ROWS, int(batch * flops_per_row // MIN_FLOPS)))
    if count > 1 and _blas_controller() is None:
        count = 1
    bounds = [batch * k // count for k in range(count + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def run(function, parts):
    """``[function(part) for part in parts]``, on the pinned worker threads when there are
    several parts."""
    if len(parts) == 1:
        return [function(parts[0])]
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads, thread_name_prefix="tinygrad_rnn-kernel",
                                   initializer=_pin, initargs=(itertools.count(),))
    with blas_threads(len(parts)):
        return list(_pool.map(function, parts))


def _forget_pool_in_child():
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def _pin(workers):
    """Pin the calling (new worker) thread to the next of the process's cores (Linux only)."""
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {allowed[next(workers) % len(allowed)]})


@contextlib.contextmanager
def blas_threads(callers):
    """BLAS limited to one thread per call while ``callers`` of our threads call it at once (the
    shards of ``run``, a team of numba_team), BLAS's own setting for a single caller; also
    for timing BLAS calls the way those threads make them."""
    if callers == 1:
        yield
        return
    # threadpoolctl's own limit() context re-inspects every library on entry; the BLAS
    # libraries' get/set functions are far cheaper
    controller = _blas_controller()   # None: BLAS keeps its threads (slower, still correct)
    libraries = [lib for lib in getattr(controller, "lib_controllers", ()) if lib.user_api == "blas"]
    before = [lib.get_num_threads() for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, threads in zip(libraries, before):
            lib.set_num_threads(threads)


def _blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries, or None without threadpoolctl."""
    global _controller
    if _controller is None:
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (load the BLAS Numba calls)
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            try:
                _controller = ThreadpoolController()
            except Exception:  # threadpoolctl could not inspect the loaded libraries
                _controller = False
    return _controller or None
