"""Matrix products."""
from ..autograd import Function
from ..dtypes import promote
from .elementwise import broadcast_shape
from .movement import unsqueeze, squeeze


class MatMul(Function):
    """y = a @ b over the last two axes, batch axes broadcast;
    dy/da = g @ bᵀ, dy/db = aᵀ @ g (the engine sums over broadcast batch axes)."""

    def forward(self, a, b):
        return a @ b

    def backward(self, g):
        a, b = self.inputs
        return (g @ b.transpose(-1, -2) if self.needs_input_grad[0] else None,
                a.transpose(-1, -2) @ g if self.needs_input_grad[1] else None)


def matmul(a, b):
    """NumPy's ``matmul``: 1-D operands are promoted to a row / column and the added axis removed."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: inner dimensions "
                         f"{a.shape[-1]} and {b.shape[-2 if b.ndim > 1 else 0]} differ")
    broadcast_shape(a.shape[:-2], b.shape[:-2], "matmul")
    if a.dtype != b.dtype:
        dtype = promote(a.dtype, b.dtype)
        a, b = a.astype(dtype), b.astype(dtype)
    if a.ndim == 1:
        return squeeze(matmul(unsqueeze(a, 0), b), -2 if b.ndim > 1 else -1)
    if b.ndim == 1:
        return squeeze(MatMul.apply(a, unsqueeze(b, -1)), -1)
    return MatMul.apply(a, b)
