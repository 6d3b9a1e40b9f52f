"""A linear layer and the softmax cross-entropy after it as one autograd node.

With z = x Wᵀ + b (N, C) and integer targets t (N,),

    loss = (1/N) Σ_n [logsumexp(z_n) - z_n[t_n]]
    dz   = (softmax(z) - onehot(t)) · g / N,   dx = dz W,   dW = dzᵀ x,   db = Σ_n dz_n

which is what ``F.cross_entropy(F.linear(x, W, b), t)`` computes, in one pass over z forward
and one backward (the composed path records ten nodes, each a pass over an (N, C) array, and
scatters its gradient through ``np.add.at``). On the CPU the three products run on the
kernels' thread team (kernels.numba_matmul), not on NumPy's BLAS threads. The backward is not
itself differentiable (``create_graph=True`` raises: use the composed functions).
"""
from .. import kernels
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor


class LinearCrossEntropy(Function):
    """(x (N, H), weight (C, H)[, bias (C,)]) -> the mean cross-entropy of ``target`` (N,)."""

    def forward(self, x, weight, *bias, target, recorded):
        xp = self.xp
        self.product = _product(self.device, x.dtype)
        shifted = self.product(x, weight, False, True)
        if bias:
            shifted += bias[0]
        shifted -= shifted.max(axis=1, keepdims=True)
        rows = xp.arange(len(target))
        picked = shifted[rows, target]
        xp.exp(shifted, out=shifted)
        sums = shifted.sum(axis=1)
        if recorded:   # softmax(z), for backward
            shifted /= sums[:, None]
            self.probs, self.rows, self.target = shifted, rows, target
        return xp.asarray((xp.log(sums) - picked).mean(), dtype=x.dtype)

    def backward(self, grad_output):
        if is_grad_enabled():
            raise RuntimeError("linear_cross_entropy: create_graph=True (double backward) is not "
                               "supported by the fused node; use F.cross_entropy(F.linear(...))")
        x, weight = self.inputs[0].data, self.inputs[1].data
        d_logits = self.probs.copy()
        d_logits[self.rows, self.target] -= 1
        d_logits *= grad_output.data / len(self.target)
        grads = [self.product(d_logits, weight, False, False) if self.needs_input_grad[0] else None,
                 self.product(d_logits, x, True, False) if self.needs_input_grad[1] else None]
        if len(self.inputs) == 3:
            grads.append(d_logits.sum(axis=0) if self.needs_input_grad[2] else None)
        return tuple(None if g is None else Tensor(g, device=self.device) for g in grads)


def _product(device, dtype):
    """``op(a) @ op(b)`` on ``device``: the team's on the CPU (float32, float64), else the array
    library's."""
    kernel = kernels.find("matmul", device)
    if kernel is not None and dtype.kind == "f" and dtype.itemsize in (4, 8):
        return kernel
    return lambda a, b, transpose_a, transpose_b: (a.T if transpose_a else a) @ (b.T if transpose_b else b)


def linear_cross_entropy(x, weight, bias, target):
    """``F.cross_entropy(F.linear(x, weight, bias), target)`` (mean over the N rows) as one
    node: ``x`` (N, H), ``weight`` (C, H), ``bias`` (C,) or None, ``target`` N integers in
    [0, C) (a Tensor or an array of ``x``'s device)."""
    target = target.data if isinstance(target, Tensor) else x.device.asarray(target)
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"linear_cross_entropy: expected x (N, H) and weight (C, H), got shapes "
                         f"{x.shape} and {weight.shape}")
    if weight.dtype != x.dtype or bias is not None and bias.dtype != x.dtype:
        raise TypeError(f"linear_cross_entropy: x, weight and bias must have one dtype, got {x.dtype}, "
                        f"{weight.dtype} and {None if bias is None else bias.dtype}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear_cross_entropy: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    if target.shape != (x.shape[0],) or target.dtype.kind not in "iu":
        raise ValueError(f"linear_cross_entropy: target must be {x.shape[0]} integers, got "
                         f"dtype {target.dtype} and shape {tuple(target.shape)}")
    if target.size and (int(target.min()) < 0 or int(target.max()) >= weight.shape[0]):
        raise IndexError(f"linear_cross_entropy: targets must be in [0, {weight.shape[0]})")
    if x.shape[0] == 0:
        raise ValueError("linear_cross_entropy: the mean over zero rows is undefined")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    recorded = is_grad_enabled() and any(t.requires_grad for t in inputs)
    return LinearCrossEntropy.apply(*inputs, target=target, recorded=recorded)
