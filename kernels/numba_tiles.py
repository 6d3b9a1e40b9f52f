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
``parts`` contiguous blocks, ``w_parts (parts, K, N / parts)``, the product lands in
``out_parts (parts, B, N / parts)``, and each block is computed ``rows`` rows of ``a`` at a time:

    out_parts[p, r:r + rows] = a[r:r + rows] @ w_parts[p]
"""
import time

import numpy as np
from numba import njit

PARTS = (1, 2, 4)
ROWS = (None, 16, 8, 4)   # None: all rows in one call
_tilings = {}


@njit(cache=True, nogil=True)
def tiled_matmul(a, w_parts, out_parts, rows):
    """``out_parts[p] = a @ w_parts[p]`` for every block p, ``rows`` rows of ``a`` per call."""
    for p in range(w_parts.shape[0]):
        for r in range(0, a.shape[0], rows):
            np.dot(a[r:r + rows], w_parts[p], out_parts[p, r:r + rows])


def split_columns(w, parts):
    """``w (K, N)`` as ``(parts, K, N / parts)``, each block contiguous."""
    k, n = w.shape
    return np.ascontiguousarray(w.reshape(k, parts, n // parts).transpose(1, 0, 2))


def tiling(dtype, rows, k, n, repeats=5):
    """The fastest ``(parts, rows per call)`` for ``(rows, k) @ (k, n)`` in ``dtype``, measured
    on the first request for the shape (best of 3 rounds of ``repeats`` calls per candidate)."""
    key = (np.dtype(dtype).str, rows, k, n)
    if rows == 0:
        return 1, 1
    if key not in _tilings:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((rows, k)).astype(dtype)
        w = rng.standard_normal((k, n)).astype(dtype)
        best = None
        for parts in (p for p in PARTS if n % p == 0):
            w_parts = split_columns(w, parts)
            out = np.empty((parts, rows, n // parts), dtype)
            for per_call in sorted({min(r or rows, rows) for r in ROWS}, reverse=True):
                tiled_matmul(a, w_parts, out, per_call)   # compile / warm up
                seconds = min(_timed(a, w_parts, out, per_call, repeats) for _ in range(3))
                if best is None or seconds < best[0]:
                    best = (seconds, parts, per_call)
        _tilings[key] = best[1:]
    return _tilings[key]


def _timed(a, w_parts, out, per_call, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        tiled_matmul(a, w_parts, out, per_call)
    return time.perf_counter() - start
