"""One BLAS matrix product on 2-D views, callable from Numba kernels:
``c = op(a) @ op(b)`` or ``c += op(a) @ op(b)``, with ``op`` an optional transpose.

Numba's ``np.dot`` takes only contiguous arrays and always overwrites its output. The time loops
need both the other cases: they add ``h @ W_hh^T`` straight into the step's slice of the hoisted
gate pre-activations (no scratch array and no separate pass to add it), and multiply blocks of
rows or columns of larger arrays (numba_tiles). So this calls the GEMM that ``np.dot`` itself
calls: Numba's ``numba_xxgemm`` helper, which forwards to SciPy's BLAS (``sgemm``/``dgemm``).

BLAS is column-major; a row-major ``c (m, n) = a (m, k) @ b (k, n)`` is, read column-major,
``c^T = b^T a^T``, so ``b`` is passed first. Every array must have unit stride along its last
axis (rows may be strided: the leading dimension is the row stride); the kernels only pass
such views. The calls cost what ``np.dot``'s cost, and adding into ``c`` costs nothing more.
``gemm`` is inlined into the kernels that call it: as a function of its own it was compiled
for each combination of layouts and flags its callers pass, each time at full cost.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload
from numba.np.linalg import ensure_blas

ensure_blas()   # loads SciPy's BLAS, which numba_xxgemm looks up on its first call

_xxgemm = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char,           # kind ('s' or 'd'), transa, transb
    types.intp, types.intp, types.intp,           # m, n, k (column-major)
    types.voidptr, types.voidptr, types.intp,     # alpha, a, lda
    types.voidptr, types.intp,                    # b, ldb
    types.voidptr, types.voidptr, types.intp))    # beta, c, ldc
_N, _T, _SINGLE, _DOUBLE = ord("n"), ord("t"), ord("s"), ord("d")


@njit(cache=True, nogil=True, inline="always")
def gemm(a, b, c, accumulate=False, transpose_a=False, transpose_b=False):
    """``c = op(a) @ op(b)``, or ``c += ...`` when ``accumulate``; ``op(a)`` is ``a.T`` when
    ``transpose_a`` (likewise b). Float32 or float64, all three of one dtype."""
    m, n = c.shape
    k = a.shape[0] if transpose_a else a.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        if not accumulate:
            c[:] = 0
        return
    scalars = _scalars(c)   # BLAS takes alpha and beta by pointer
    beta = scalars[2:] if accumulate else scalars[1:2]
    _xxgemm(_SINGLE if c.itemsize == 4 else _DOUBLE, _T if transpose_b else _N,
            _T if transpose_a else _N, n, m, k, scalars[:1].ctypes, b.ctypes, _leading(b),
            a.ctypes, _leading(a), beta.ctypes, c.ctypes, _leading(c))


# alpha = 1, beta = 0 (overwrite) and beta = 1 (accumulate), compiled in as constants: an array
# made at each call costs a short product noticeably (benchmarks/PERFORMANCE.md)
_SCALARS = {np.dtype(t): np.array([1, 0, 1], t) for t in (np.float32, np.float64)}


def _scalars(c):
    """``_SCALARS`` for ``c``'s dtype (inside Numba kernels)."""


@overload(_scalars)
def _scalars_for(c):
    constant = _SCALARS[np.dtype(c.dtype.name)]
    return lambda c: constant


@njit(inline="always")
def _leading(x):
    """BLAS's leading dimension of a row-major view: its row stride in elements (any value is
    valid for one row, but BLAS insists on at least the row length)."""
    return max(x.strides[0] // x.itemsize, x.shape[1], 1)
