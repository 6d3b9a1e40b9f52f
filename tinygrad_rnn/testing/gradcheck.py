"""Check analytic gradients against central finite differences, in float64.

For a function f of tensors x₁…xₖ with output y, both checks reduce y to the scalar
L = Σ u ⊙ y with a fixed random cotangent u (so every output element matters), then compare,
for every input element x, the analytic ∂L/∂x from backward with the numeric

    (L(x + ε) - L(x - ε)) / 2ε,

accepting |analytic - numeric| ≤ atol + rtol·|numeric|. Central differences are accurate to
O(ε²) in the function and O(δ/ε) in rounding (δ ≈ 1e-16 in float64), so ε = 1e-6 leaves
errors near 1e-10 for well-scaled functions: float32 inputs are refused.
"""
import numpy as np

from ..autograd import grad
from ..ops.movement import concatenate
from ..tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the numeric one."""


def _scalar_loss(fn, inputs, cotangent):
    out = fn(*inputs)
    outputs = out if isinstance(out, (tuple, list)) else (out,)
    if cotangent is None:
        rng = np.random.default_rng(0)
        cotangent = [Tensor(rng.standard_normal(o.shape), device=o.device) for o in outputs]
    loss = sum((o * c).sum() for o, c in zip(outputs, cotangent))
    return loss, cotangent


def _numeric_gradient(fn, inputs, index, cotangent, eps):
    x = inputs[index]
    host = x.numpy().astype(np.float64)
    numeric = np.zeros_like(host)
    flat, numeric_flat = host.reshape(-1), numeric.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        values = []
        for step in (eps, -eps):
            flat[i] = original + step
            shifted = list(inputs)
            # requires_grad is kept: gradgradcheck's function differentiates inside
            shifted[index] = Tensor(host.copy(), requires_grad=True, device=x.device)
            values.append(_scalar_loss(fn, shifted, cotangent)[0].item())
        flat[i] = original
        numeric_flat[i] = (values[0] - values[1]) / (2 * eps)
    return numeric


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when ``fn``'s gradients w.r.t. every input that requires grad match finite differences.

    ``fn`` takes the tensors in ``inputs`` and returns a Tensor or a tuple of Tensors. On a
    mismatch it raises ``GradcheckError`` naming the input, the worst element, the
    analytic and the numeric value (or returns False with ``raise_exception=False``).
    """
    inputs = list(inputs)
    differentiable = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not differentiable:
        raise ValueError("gradcheck: no input requires grad")
    for i in differentiable:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64")
    loss, cotangent = _scalar_loss(fn, inputs, None)
    # an output that does not depend on the inputs (the gradient of a linear op, in
    # gradgradcheck) records no graph: its analytic gradient is zero
    analytic = (grad(loss, [inputs[i] for i in differentiable], allow_unused=True) if loss.requires_grad
                else [None] * len(differentiable))
    for i, analytic_grad in zip(differentiable, analytic):
        numeric = _numeric_gradient(fn, inputs, i, cotangent, eps)
        analytic_np = np.zeros_like(numeric) if analytic_grad is None else analytic_grad.numpy()
        error = np.abs(analytic_np - numeric) - (atol + rtol * np.abs(numeric))
        if error.size and (error.max() > 0 or not np.all(np.isfinite(analytic_np))):
            worst = np.unravel_index(np.nanargmax(np.where(np.isfinite(error), error, np.inf)), numeric.shape)
            message = (f"gradcheck: gradient of input {i} (shape {inputs[i].shape}) differs at element "
                       f"{tuple(int(w) for w in worst)}: analytic {analytic_np[worst]!r}, numeric {numeric[worst]!r} "
                       f"(atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """gradcheck of the first derivative: checks the gradients that ``create_graph=True`` builds.

    The checked function maps the inputs to the concatenated gradients of Σ u ⊙ fn(inputs),
    so second derivatives (Hessian-vector products) are compared with finite differences.
    """
    inputs = list(inputs)
    differentiable = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    cotangent = []

    def first_derivatives(*xs):
        loss, used = _scalar_loss(fn, xs, cotangent or None)
        cotangent[:] = used
        wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        grads = grad(loss, wrt, create_graph=True, allow_unused=True)
        flat = [(g if g is not None else x.zeros_like()).reshape(-1) for g, x in zip(grads, wrt)]
        return concatenate(flat)

    if not differentiable:
        raise ValueError("gradgradcheck: no input requires grad")
    return gradcheck(first_derivatives, inputs, eps, atol, rtol, raise_exception)
