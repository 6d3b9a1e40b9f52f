"""The per-step recurrent product ``a (B, K) @ w (K, N)`` cut into BLAS calls that run fast.

A time loop multiplies a thin ``a`` (a shard's rows) by the same weight at every step, and
OpenBLAS repacks the weight on each call. How well that goes depends on the call's shape in ways
that only the BLAS build knows; measured here (float32, one thread, SkylakeX kernels), per step:

=====================  ===========  ==================================================
a @ w                  one call     best cut
=====================  ===========  ==================================================
(16x128) @ (128x512)   21 us        8 rows at a time: 11 us (its unpacked small-matrix
                                    kernel takes calls with m*n*k <= 10^6)
(32x256) @ (256x1024)  125 us       2 column blocks, 4 rows at a time: 69 us
(32x1024) @ (1024x256) 131 us       4 column blocks, 8 rows at a time: 68 us
=====================  ===========  ==================================================

while OpenBLAS's Haswell kernels (no small-matrix kernel) are fastest with one call, and
slowest with 4 rows (4x). So the cut is measured once per shape and process (:func:`tiling`,
a few ms) rather than fixed. A cut is ``(parts, rows)``: the weight's columns are split into
``parts`` blocks, and each block is computed ``rows`` rows of ``a`` at a time, each call a GEMM
on views of the whole arrays (numba_blas), adding into ``out`` or overwriting it:

    out[r:r + rows, block p] (+)= a[r:r + rows] @ w[:, block p]
"""
import contextlib
import time

import numpy as np
from numba import njit

from .numba_blas import gemm

PARTS = (1, 2, 4)
ROWS = (None, 16, 8, 4)   # None: all rows in one call
_tilings = {}


@njit(cache=True, nogil=True)
def tiled_matmul(a, w, out, accumulate, parts, rows):
    """``out = a @ w`` (``out += a @ w`` when ``accumulate``) in ``parts`` column blocks of
    ``w``, ``rows`` rows of ``a`` per call."""
    width = w.shape[1] // parts
    for p in range(parts):
        cols = slice(p * width, (p + 1) * width)
        for r in range(0, a.shape[0], rows):
            gemm(a[r:r + rows], w[:, cols], out[r:r + rows, cols], accumulate)


def tiling(dtype, rows, k, n, measuring=contextlib.nullcontext, repeats=5):
    """The fastest ``(parts, rows per call)`` for ``(rows, k) @ (k, n)`` in ``dtype``, measured
    on the first request for the shape (best of 3 rounds of ``repeats`` calls per candidate),
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
        for per_call in sorted({min(r or rows, rows) for r in ROWS}, reverse=True):
            tiled_matmul(a, w, out, True, parts, per_call)   # compile / warm up
            seconds = min(_timed(a, w, out, parts, per_call, repeats) for _ in range(3))
            if best is None or seconds < best[0]:
                best = (seconds, parts, per_call)
    return best[1:]


def _timed(a, w, out, parts, per_call, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        tiled_matmul(a, w, out, True, parts, per_call)
    return time.perf_counter() - start
