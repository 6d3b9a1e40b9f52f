"""Reductions over any axes, with ``keepdims``. ``g`` is the gradient of the output ``y``."""
from ..autograd import Function
from ..tensor import Tensor


def normalize_axes(axis, ndim, op):
    """``axis`` (None, an int or a sequence, negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(a % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(normalized))


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


class Reduction(Function):
    """Base of reductions: remembers the axes and how to broadcast the output back."""

    def forward(self, a, axes, keepdims):
        self.axes, self.keepdims, self.input_shape = axes, keepdims, a.shape
        return self.reduce(a, axes, keepdims)

    def reduce(self, a, axes, keepdims):
        raise NotImplementedError

    def kept(self, t):
        """``t`` (output-shaped) reshaped so it broadcasts against the input."""
        return t if self.keepdims else t.reshape(_kept_shape(self.input_shape, self.axes))


class Sum(Reduction):
    """y = Σ_axes a;  dy/da = 1, broadcast back over the reduced axes."""

    def reduce(self, a, axes, keepdims):
        return a.sum(axis=axes, keepdims=keepdims)

    def backward(self, g):
        return self.kept(g).expand(self.input_shape)


class _Extreme(Reduction):
    """y = max or min over axes;  dy/da = [a = y] / #ties (ties share the gradient evenly)."""

    def backward(self, g):
        a = self.inputs[0].data
        winners = (a == self.kept(self.output).data).astype(g.dtype)
        winners = winners / winners.sum(axis=self.axes, keepdims=True)
        return self.kept(g) * Tensor._from_op(winners, None)


class Max(_Extreme):
    """y = max_axes a;  dy/da = [a = y] / #ties."""

    def reduce(self, a, axes, keepdims):
        return a.max(axis=axes, keepdims=keepdims)


class Min(_Extreme):
    """y = min_axes a;  dy/da = [a = y] / #ties."""

    def reduce(self, a, axes, keepdims):
        return a.min(axis=axes, keepdims=keepdims)


class LogSumExp(Reduction):
    """y = log Σ_axes e^a, computed as m + log Σ e^(a-m) with m = max a (no overflow);
    dy/da = e^(a-y) = softmax(a) over the axes. Over an empty axis y = log 0 = -inf, as in PyTorch."""

    def reduce(self, a, axes, keepdims):
        xp = self.xp
        if any(a.shape[i] == 0 for i in axes):  # an empty sum has no max to shift by
            out = xp.full(_kept_shape(a.shape, axes), -xp.inf, dtype=a.dtype)
        else:
            shift = a.max(axis=axes, keepdims=True)
            shift = xp.where(xp.isfinite(shift), shift, 0)  # all -inf rows: log 0 = -inf, not NaN
            out = xp.log(xp.exp(a - shift).sum(axis=axes, keepdims=True)) + shift
        return out if keepdims else out.reshape(tuple(s for i, s in enumerate(out.shape) if i not in axes))

    def backward(self, g):
        return self.kept(g) * (self.inputs[0] - self.kept(self.output)).exp()


class LogSoftmax(Function):
    """y = a - logsumexp(a) along ``axis``, computed as (a - m) - log Σ e^(a-m) with m = max a:
    no overflow, and no cancellation between two huge numbers (exact where a = m);
    dy/da: g - softmax(a) · Σ_axis g, with softmax(a) = e^y."""

    def forward(self, a, axis):
        xp = self.xp
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(self, g):
        return g - self.output.exp() * g.sum(axis=self.axis, keepdims=True)


def _reduce(function, op):
    def reduction(a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, op)
        if op in ("max", "min") and any(a.shape[i] == 0 for i in axes):
            raise ValueError(f"{op}: cannot reduce over an empty axis of a tensor of shape {a.shape}")
        return function.apply(a, axes=axes, keepdims=keepdims)
    reduction.__name__ = op
    reduction.__doc__ = f"{op}(a, axis=None, keepdims=False): {function.__doc__.splitlines()[0]}"
    return reduction


sum = _reduce(Sum, "sum")
max = _reduce(Max, "max")
min = _reduce(Min, "min")
logsumexp = _reduce(LogSumExp, "logsumexp")


def _count(a, axis):
    count = 1
    for i in normalize_axes(axis, a.ndim, "mean"):
        count *= a.shape[i]
    return count


def mean(a, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``: Σ a / n."""
    return sum(a, axis, keepdims) / _count(a, axis)


def var(a, axis=None, keepdims=False, correction=1):
    """Variance Σ(a - mean)² / (n - correction); ``correction=1`` is the unbiased estimate (PyTorch's default)."""
    centered = a - mean(a, axis, keepdims=True)
    return sum(centered * centered, axis, keepdims) / (_count(a, axis) - correction)


def log_softmax(a, axis=-1):
    """log softmax(a) along one ``axis``; stable for any magnitude."""
    axis = normalize_axes(axis, a.ndim, "log_softmax")[0] if a.ndim else None
    if axis is None or a.shape[axis] == 0:
        return a - logsumexp(a, axis, keepdims=True)
    return LogSoftmax.apply(a, axis=axis)
