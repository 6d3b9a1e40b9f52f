"""The basic layers: Linear, Embedding, Dropout, LayerNorm and activation modules.

Names, shapes, defaults and initialisation follow ``torch.nn``, so a PyTorch ``state_dict``
loads into these layers unchanged.
"""
import math
import numbers

from .. import backend, functional as F
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


def _empty_parameter(shape, device, dtype):
    """An uninitialised Parameter (its values are set by an ``init`` function right after)."""
    device = backend.get_device(device)
    return Parameter(device.xp.empty(shape, dtype=dtype or get_default_dtype()))


def _check_size(layer, name, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{layer}: {name} must be an integer >= {minimum}, got {value!r}")


def check_same_kind(layer, what, tensor, parameter):
    """``tensor`` (the ``what`` of ``layer``: "input", "h0", "query", ...) must be a Tensor on
    the parameters' device and of their dtype: layers never cast or move inputs silently."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{layer}: expected a Tensor {what}, got {type(tensor).__name__}")
    if tensor.device is not parameter.device:
        raise RuntimeError(f"{layer}: {what} is on device '{tensor.device.name}' but the parameters "
                           f"are on '{parameter.device.name}'")
    if tensor.dtype != parameter.dtype:
        raise TypeError(f"{layer}: {what} has dtype {tensor.dtype} but the parameters have {parameter.dtype} "
                        "(convert one with .to(dtype))")


class Linear(Module):
    """y = x Wᵀ + b over the last axis: (*, in_features) -> (*, out_features).

    ``weight`` (out_features, in_features) ~ kaiming_uniform(a=√5), i.e. U(±1/√in_features),
    and ``bias`` (out_features,) ~ U(±1/√in_features), as in PyTorch.
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _check_size("Linear", "in_features", in_features)
        _check_size("Linear", "out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty_parameter((out_features, in_features), device, dtype)
        self.register_parameter("bias", _empty_parameter((out_features,), device, dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        check_same_kind(self, "input", x, self.weight)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self}: expected input with {self.in_features} features in the last axis, "
                             f"got shape {x.shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: integer ids of any shape (*) -> rows of ``weight``, shape (*, embedding_dim).

    ``weight`` (num_embeddings, embedding_dim) ~ N(0, 1). The row at ``padding_idx`` (negative
    values count from the end) starts at zero and receives no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None, _weight=None):
        super().__init__()
        _check_size("Embedding", "num_embeddings", num_embeddings)
        _check_size("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"[-{num_embeddings}, {num_embeddings}) for num_embeddings={num_embeddings}")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        if _weight is None:
            self.weight = _empty_parameter((num_embeddings, embedding_dim), device, dtype)
            self.reset_parameters()
        elif _weight.shape != (num_embeddings, embedding_dim):
            raise ValueError(f"Embedding: _weight has shape {_weight.shape}, expected ({num_embeddings}, {embedding_dim})")
        else:  # given values (from_pretrained): no random draw, the padding row is kept as given
            self.weight = Parameter(_weight)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding holding a copy of ``embeddings`` (num_embeddings, dim); frozen by default."""
        embeddings = embeddings if isinstance(embeddings, Tensor) else Tensor(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {embeddings.shape}")
        layer = cls(*embeddings.shape, padding_idx=padding_idx, _weight=embeddings.detach().data.copy())
        layer.weight.requires_grad = not freeze
        return layer

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) while training;
    the identity in eval mode."""

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
            raise ValueError(f"Dropout: probability p must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` axes (Ba et al. 2016):

        y = (x - E[x]) / √(Var[x] + eps) · weight + bias,   Var the biased variance,

    with ``weight`` = 1 and ``bias`` = 0 of shape ``normalized_shape`` when
    ``elementwise_affine`` (``bias=False`` keeps only the weight).
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        if not shape:
            raise ValueError("LayerNorm: normalized_shape must have at least one dimension")
        for size in shape:
            _check_size("LayerNorm", "each size of normalized_shape", size, minimum=1)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.register_parameter("weight", _empty_parameter(shape, device, dtype) if elementwise_affine else None)
        self.register_parameter("bias", _empty_parameter(shape, device, dtype) if elementwise_affine and bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        if self.weight is not None:
            check_same_kind(self, "input", x, self.weight)
        n = len(self.normalized_shape)
        if x.shape[x.ndim - n:] != self.normalized_shape or x.ndim < n:
            raise ValueError(f"{self}: expected input whose last {n} axes are {self.normalized_shape}, "
                             f"got shape {x.shape}")
        axes = tuple(range(x.ndim - n, x.ndim))
        centred = x - x.mean(axis=axes, keepdims=True)
        variance = (centred * centred).mean(axis=axes, keepdims=True)
        y = centred / (variance + self.eps).sqrt()
        if self.weight is not None:
            y = y * self.weight
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Identity(Module):
    """Returns its input (a placeholder, e.g. for an optional layer)."""

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge axes ``start_dim`` … ``end_dim`` into one (by default all but the batch axis)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
