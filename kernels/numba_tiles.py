"""The per-step recurrent product ``a (B, K) @ w (K, N)`` cut into the BLAS calls that run fastest.

How fast a BLAS build runs a thin product repeated at every step depends on its shape in ways
only that build knows, so the cut is measured once per shape and process (``tiling``). A cut is
``(parts, rows)``: ``w``'s columns in ``parts`` contiguous blocks (``split_columns``; copies,
whose rows do not compete for cache sets as a view's do), each multiplied ``rows`` rows of ``a``
at a time:

    out[r:r + rows, block p] (+)= a[r:r + rows] @ w_parts[p]
"""
import contextlib
import time

import numpy as np
from numba import njit

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


def tiling(dtype, rows, k, n, measuring=contextlib.nullcontext, repeats=5):
    """The fastest ``(parts, rows per call)`` for ``(rows, k) @ (k, n)`` in ``dtype``, measured
    on the first request for the shape (best of 5 rounds of ``repeats`` calls per candidate),
    inside the context ``measuring()`` (e.g. the BLAS threading the calls will have)."""
    key = (np.dtype(dtype).str, rows, k, n)
    if rows == 0:
        return 1, 1
    if key not in _tilings:
        with measuring():
            _tilings[key] = _fastest(dtype, rows, k, n, repeats)
    return _tilings[key]


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
