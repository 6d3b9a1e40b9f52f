"""Gradient clipping, the remedy for exploding gradients in recurrent networks.

Both functions replace ``p.grad`` by a new tensor rather than writing into its array: the
engine may share one gradient array between several tensors.
"""
import functools
import math

from ...autograd import no_grad
from ...dtypes import promote
from ...ops.movement import stack
from ...tensor import Tensor


def _with_grads(parameters):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in parameters if p.grad is not None]


def _norm(tensor, norm_type):
    """‖t‖_p = (Σ|tᵢ|^p)^(1/p); ‖t‖_∞ = max |tᵢ|."""
    if norm_type == math.inf:
        return tensor.abs().max()
    if norm_type == 2:
        return (tensor * tensor).sum().sqrt()
    return (tensor.abs() ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients of ``parameters`` so that their joint norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of the vector of per-parameter gradient norms
    (the norm of all gradients concatenated). Every gradient is multiplied by
    min(1, max_norm / (total + 1e-6)), as in PyTorch. Returns the total norm before clipping
    (a 0-d Tensor; 0 when no parameter has a gradient).
    """
    norm_type = float(norm_type)
    if not (norm_type > 0 or norm_type == math.inf):
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    with_grads = _with_grads(parameters)
    if not with_grads:
        return Tensor(0.0)
    device = with_grads[0].grad.device
    dtype = functools.reduce(promote, (p.grad.dtype for p in with_grads))  # mixed precision: the widest
    with no_grad():
        norms = stack([_norm(p.grad, norm_type).to(device, dtype) for p in with_grads])
        total = _norm(norms, norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients "
                               f"is {total.item()}, so they cannot be clipped")
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for p in with_grads:
            p.grad = p.grad * scale.to(p.grad.device).astype(p.grad.dtype)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element of ``parameters`` into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    with no_grad():
        for p in _with_grads(parameters):
            p.grad = p.grad.clip(-clip_value, clip_value)
