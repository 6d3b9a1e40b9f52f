"""How many threads the CPU kernels may use (``set_num_threads``), how a GRU or RNN call cuts its
batch into shards for them (``shards``), and BLAS's threads while they run (``blas_threads``:
one per call, through threadpoolctl; without it, kernels run one shard with BLAS's threads).
"""
import contextlib
import os

MIN_ROWS = 8            # fewer rows per shard: the per-step GEMMs get too thin
MIN_FLOPS = 4_000_000   # less work per shard does not pay for a thread

_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_controller = None


def set_num_threads(threads):
    """Number of threads the CPU kernels may use; 1 runs every kernel on the calling thread."""
    global _threads
    if int(threads) < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {threads}")
    _threads = int(threads)


def get_num_threads():
    """Number of threads the CPU kernels may use (default: the usable cores)."""
    return _threads


def shards(batch, flops_per_row):
    """Contiguous slices of ``range(batch)``, one per thread; one slice when sharding is off or
    the work (``flops_per_row`` per batch row) is too small to share."""
    count = max(1, min(_threads, batch // MIN_ROWS, int(batch * flops_per_row // MIN_FLOPS)))
    if count > 1 and _blas_controller() is None:
        count = 1
    bounds = [batch * k // count for k in range(count + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


@contextlib.contextmanager
def blas_threads(callers):
    """BLAS limited to one thread per call while ``callers`` of our threads call it at once (a
    team of numba_team), BLAS's own setting for a single caller; also for timing BLAS calls the
    way those threads make them."""
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
