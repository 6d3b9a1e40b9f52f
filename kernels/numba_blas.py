"""One BLAS product on 2-D views, from Numba kernels: ``c = op(a) @ op(b)`` or ``c += ...``.

Numba's ``np.dot`` only overwrites contiguous arrays; the time loops add ``h @ W_hh^T`` into a
step's slice of the hoisted projection and multiply blocks of larger arrays. So this calls the
GEMM ``np.dot`` calls (Numba's ``numba_xxgemm``, SciPy's BLAS). BLAS is column-major: ``c = a @
b`` is ``c^T = b^T a^T``, so ``b`` goes first. Every array has unit stride along its rows (rows
may be apart by more: the leading dimension); with k = 0, BLAS sets ``c = beta c``. ``gemm``,
inlined, only takes addresses and strides; ``_blas``, a function of integers, is compiled once
for all callers (inlined code is compiled again at each caller).
"""
import numpy as np
from numba import njit, types
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

ensure_blas()   # loads SciPy's BLAS, which numba_xxgemm looks up on its first call

_xxgemm = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char,           # kind ('s' or 'd'), transa, transb
    types.intp, types.intp, types.intp,           # m, n, k (column-major)
    types.voidptr, types.voidptr, types.intp,     # alpha, a, lda
    types.voidptr, types.intp,                    # b, ldb
    types.voidptr, types.voidptr, types.intp))    # beta, c, ldc
_N, _T, _SINGLE, _DOUBLE = ord("n"), ord("t"), ord("s"), ord("d")
_DOUBLE_FLAG, _TRANSPOSE_A, _TRANSPOSE_B, _ACCUMULATE = 8, 4, 2, 1
# alpha = 1, beta = 0 (overwrite) and beta = 1 (accumulate): BLAS takes them by pointer
_SCALARS_32 = np.array([1, 0, 1], np.float32)
_SCALARS_64 = np.array([1, 0, 1], np.float64)


@njit(cache=True, nogil=True, inline="always")
def gemm(a, b, c, accumulate=False, transpose_a=False, transpose_b=False):
    """``c = op(a) @ op(b)``, or ``c += ...`` when ``accumulate``; ``op(a)`` is ``a.T`` when
    ``transpose_a`` (likewise b). Float32 or float64, all three of one dtype."""
    m, n = c.shape
    k = a.shape[0] if transpose_a else a.shape[1]
    # one integer of flags: literal or omitted booleans would each give _blas another signature
    flags = ((_DOUBLE_FLAG if c.itemsize == 8 else 0) | (_TRANSPOSE_A if transpose_a else 0)
             | (_TRANSPOSE_B if transpose_b else 0) | (_ACCUMULATE if accumulate else 0))
    _blas(flags, m, n, k, _address(a), a.strides[0] // a.itemsize, _address(b),
          b.strides[0] // b.itemsize, _address(c), c.strides[0] // c.itemsize)


@njit(cache=True, nogil=True)
def _blas(flags, m, n, k, a, a_rows, b, b_rows, c, c_rows):
    """The GEMM of ``gemm`` on addresses; ``*_rows`` the row strides in elements."""
    if m == 0 or n == 0:
        return
    double, accumulate = flags & _DOUBLE_FLAG, flags & _ACCUMULATE
    transpose_a, transpose_b = flags & _TRANSPOSE_A, flags & _TRANSPOSE_B
    if double:
        alpha, beta = _alpha_beta(_SCALARS_64, accumulate)
    else:
        alpha, beta = _alpha_beta(_SCALARS_32, accumulate)
    _xxgemm(_DOUBLE if double else _SINGLE, _T if transpose_b else _N, _T if transpose_a else _N,
            n, m, k, alpha, b, _leading(b_rows, k if transpose_b else n),
            a, _leading(a_rows, m if transpose_a else k), beta, c, _leading(c_rows, n))


@njit(inline="always")
def _alpha_beta(scalars, accumulate):
    """Pointers to alpha = 1 and to beta (1 when accumulating, else 0) in ``scalars``."""
    return _address(scalars), _address(scalars[2:] if accumulate else scalars[1:2])


@njit(inline="always")
def _leading(row_stride, columns):
    """BLAS's leading dimension of a row-major matrix: its row stride (any value is valid for
    one row, but BLAS insists on at least the row length, and on 1)."""
    if row_stride < columns:
        row_stride = columns
    return row_stride if row_stride > 1 else 1


@intrinsic
def _address(typingctx, array):
    """The address of ``array``'s first element."""
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.bitcast(data, context.get_value_type(types.voidptr))
    return types.voidptr(array), codegen
