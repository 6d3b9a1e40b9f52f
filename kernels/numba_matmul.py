"""A matrix product ``op(a) @ op(b)`` on the kernels' team of threads, for the products around them.

NumPy's products run on BLAS's own threads, which meet at a barrier in each call and then spin,
taking the cores from the team's next call. Here the team takes the product by ticket in blocks
of output rows, each a one-thread BLAS call (numba_blas), so a thread held back holds up one
block; a product whose sum is longer than its output (a weight gradient over T*B rows) is cut
along the sum into partial outputs that are added at the end. Small products are one call.
"""
import numpy as np
from numba import njit

from . import cpu_threads, numba_team
from .numba_blas import gemm
from .numba_team import finish, next_ticket

BLOCKS_PER_THREAD = 4   # blocks a thread takes on average: they even out an unfair scheduler


@njit(cache=True, nogil=True)
def _matmul_work(counters, a, b, out, transpose_a, transpose_b, blocks, partials):
    """One thread's share: blocks of the rows of ``out``, taken by ticket; or, when
    ``partials`` (P, M, N) is not empty, piece p of the sum into ``partials[p]``."""
    pieces = partials.shape[0]
    if pieces:
        blocks = pieces
    rows, inner = out.shape[0], a.shape[0] if transpose_a else a.shape[1]
    while True:
        ticket = next_ticket(counters, blocks, blocks)   # one step: every block may start
        if ticket >= blocks:
            return
        if pieces:
            first, last = inner * ticket // pieces, inner * (ticket + 1) // pieces
            part_a = a[first:last] if transpose_a else a[:, first:last]
            part_b = b[:, first:last] if transpose_b else b[first:last]
            gemm(part_a, part_b, partials[ticket], False, transpose_a, transpose_b)
        else:
            first, last = rows * ticket // blocks, rows * (ticket + 1) // blocks
            part = a[:, first:last] if transpose_a else a[first:last]
            gemm(part, b, out[first:last], False, transpose_a, transpose_b)
        finish(counters)


def matmul(a, b, transpose_a=False, transpose_b=False, out=None):
    """``op(a) @ op(b)`` for 2-D float32 or float64 NumPy arrays of one dtype (``op(a)`` is
    ``a.T`` when ``transpose_a``), into ``out`` (C-contiguous rows: unit stride, rows one row
    apart or more) or a new C-contiguous array."""
    a, b = (x if _blas_layout(x) else np.ascontiguousarray(x) for x in (a, b))
    rows = a.shape[1] if transpose_a else a.shape[0]
    inner, columns = (a.shape[0] if transpose_a else a.shape[1]), (b.shape[0] if transpose_b else b.shape[1])
    if out is None:
        out = np.empty((rows, columns), np.result_type(a, b))
    threads = max(1, min(numba_team.available(), int(2 * rows * inner * columns // cpu_threads.MIN_FLOPS)))
    blocks = min(rows, threads * BLOCKS_PER_THREAD)
    if threads == 1 or blocks < 2:
        gemm(a, b, out, False, transpose_a, transpose_b)
        return out
    summed = inner > rows
    partials = np.empty((threads if summed else 0, rows, columns), out.dtype)
    numba_team.run(_matmul_work, threads, (numba_team.counters(), a, b, out, transpose_a,
                                            transpose_b, blocks, partials))
    if summed:
        np.sum(partials, axis=0, out=out)
    return out


def _blas_layout(x):
    """Whether BLAS can read ``x`` in place: unit stride along rows, rows apart by at least one
    row (not reversed, not broadcast)."""
    return x.strides[-1] == x.itemsize and x.strides[0] >= x.shape[1] * x.itemsize
