"""Elementwise ops. Binary ops broadcast like NumPy; the engine sums gradients back to shape.

Notation: ``g`` is the gradient flowing into the op's output ``y``.
"""
from ..autograd import Function
from ..dtypes import check_real, promote, scalar_dtype
from ..tensor import Tensor


def broadcast_shape(a, b, op):
    """NumPy's broadcast shape of shapes ``a`` and ``b``, or an error naming ``op`` and both."""
    if a == b or not b:  # () broadcasts against anything
        return a
    if not a:
        return b
    result = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{op}: shapes {a} and {b} cannot be broadcast together")
        result.append(y if x == 1 else x)
    return tuple(reversed(result))


_constants = {}  # (value, type, dtype, device) -> Tensor: scalars lifted once, not per op


def lift(value, like, op):
    """``value`` as a Tensor on ``like``'s device; Python scalars take a weak dtype. Anything
    that makes no numeric tensor (None, a string, ...) raises TypeError naming ``op``."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)):
        dtype = scalar_dtype(value, like.dtype)
        device = like.device
        # float zeros (0.0 == -0.0) and NaN (never equal to itself) cannot be told apart by a dict
        if type(value) is float and not (value == value and value != 0.0):
            return Tensor._from_op(device.asarray(value, dtype=dtype), None)
        key = (value, type(value), dtype, device)
        constant = _constants.get(key)
        if constant is None:
            if len(_constants) >= 1024:
                _constants.clear()
            constant = _constants[key] = Tensor._from_op(device.asarray(value, dtype=dtype), None)
        return constant
    try:
        return Tensor(value, device=like.device)
    except TypeError:
        raise TypeError(f"{op}: unsupported operand of type {type(value).__name__} (expected a Tensor, a real "
                        "number or an array of bool, integer or floating values)") from None


def binary_operands(a, b, op):
    """Both operands as Tensors of one dtype, after checking that their shapes broadcast."""
    if not isinstance(a, Tensor):
        a = lift(a, b, op)
    elif not isinstance(b, Tensor):
        b = lift(b, a, op)
    broadcast_shape(a.shape, b.shape, op)
    if a.dtype != b.dtype:
        dtype = promote(a.dtype, b.dtype)
        a, b = a.astype(dtype), b.astype(dtype)
    return a, b


class Add(Function):
    """y = a + b;  dy/da = 1, dy/db = 1."""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b;  dy/da = b, dy/db = a."""

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        return (g * b if self.needs_input_grad[0] else None,
                g * a if self.needs_input_grad[1] else None)


class Div(Function):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b² = -y/b."""

    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.inputs
        grad_a = g / b
        return grad_a, (-grad_a * a / b if self.needs_input_grad[1] else None)


class Pow(Function):
    """y = a ** b;  dy/da = b·a^(b-1), dy/db = y·log(a)."""

    def forward(self, a, b):
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        return (g * b * a ** (b - 1) if self.needs_input_grad[0] else None,
                g * self.output * a.log() if self.needs_input_grad[1] else None)


def _split_at_ties(g, a, b, a_wins):
    """Route ``g`` to ``a`` where it wins, to ``b`` where it loses, half to each at ties.
    Selected, never multiplied by 0, so an infinite g at the loser's place gives it 0, not NaN
    (as PyTorch); the same holds for every gradient mask below."""
    ties = a.data == b.data
    shared = _select(ties, g * 0.5, g)
    return _select(a_wins | ties, shared), _select(~a_wins, shared)


def _select(condition, g, otherwise=None):
    """``g`` where ``condition`` holds, else ``otherwise`` (default 0): ``where`` without its
    operand checks, for the backward passes whose shapes match by construction."""
    return Where.apply(g, lift(0, g, "where") if otherwise is None else otherwise, condition=condition)


class Maximum(Function):
    """y = max(a, b);  dy/da = [a > b] + ½[a = b] (ties split the gradient evenly, as PyTorch)."""

    def forward(self, a, b):
        return self.xp.maximum(a, b)

    def backward(self, g):
        a, b = self.inputs
        return _split_at_ties(g, a, b, a.data > b.data)


class Minimum(Function):
    """y = min(a, b);  dy/da = [a < b] + ½[a = b]."""

    def forward(self, a, b):
        return self.xp.minimum(a, b)

    def backward(self, g):
        a, b = self.inputs
        return _split_at_ties(g, a, b, a.data < b.data)


class Where(Function):
    """y = a where condition else b;  dy/da = [condition], dy/db = [not condition]."""

    def forward(self, a, b, condition):
        self.condition = condition
        return self.xp.where(condition, a, b)

    def backward(self, g):
        zero = g.zeros_like()
        condition = self.condition
        return (where(condition, g, zero) if self.needs_input_grad[0] else None,
                where(condition, zero, g) if self.needs_input_grad[1] else None)


def where(condition, a, b):
    """Elementwise ``a`` where ``condition`` (a bool Tensor or array) holds, else ``b``."""
    if isinstance(condition, Tensor):
        condition = condition.data
    a, b = binary_operands(a, b, "where")
    broadcast_shape(tuple(condition.shape), broadcast_shape(a.shape, b.shape, "where"), "where")
    return Where.apply(a, b, condition=condition)


class Neg(Function):
    """y = -a;  dy/da = -1."""

    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Exp(Function):
    """y = exp(a);  dy/da = y."""

    def forward(self, a):
        return self.xp.exp(a)

    def backward(self, g):
        return g * self.output


class Log(Function):
    """y = log(a);  dy/da = 1/a."""

    def forward(self, a):
        return self.xp.log(a)

    def backward(self, g):
        return g / self.inputs[0]


class Sqrt(Function):
    """y = √a;  dy/da = 1/(2y)."""

    def forward(self, a):
        return self.xp.sqrt(a)

    def backward(self, g):
        return g * 0.5 / self.output


class Abs(Function):
    """y = |a|;  dy/da = sign(a) (0 at a = 0, as PyTorch)."""

    def forward(self, a):
        return self.xp.abs(a)

    def backward(self, g):
        return g * Tensor._from_op(self.xp.sign(self.inputs[0].data), None)


class Tanh(Function):
    """y = tanh(a);  dy/da = 1 - y²."""

    def forward(self, a):
        return self.xp.tanh(a)

    def backward(self, g):
        y = self.output
        return g * (1 - y * y)


class Sigmoid(Function):
    """y = σ(a) = 1/(1+e^(-a));  dy/da = y(1-y).

    Computed from e = exp(-|a|) ∈ (0, 1] as 1/(1+e) for a ≥ 0 and e/(1+e) for a < 0, so
    no exp ever overflows, whatever the magnitude of ``a``.
    """

    def forward(self, a):
        xp = self.xp
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1, e) / (1 + e)

    def backward(self, g):
        y = self.output
        return g * y * (1 - y)


class Relu(Function):
    """y = max(a, 0);  dy/da = [a > 0]."""

    def forward(self, a):
        return self.xp.maximum(a, 0)

    def backward(self, g):
        return _select(self.inputs[0].data > 0, g)


class LeakyRelu(Function):
    """y = a if a > 0 else slope·a;  dy/da = 1 if a > 0 else slope."""

    def forward(self, a, slope):
        self.slope = slope
        return self.xp.where(a > 0, a, a * slope)

    def backward(self, g):
        a = self.inputs[0].data
        return g * Tensor._from_op(self.xp.where(a > 0, 1.0, self.slope).astype(g.dtype), None)


class Softplus(Function):
    """y = log(1 + e^a) (computed as logaddexp(0, a): no overflow);  dy/da = σ(a)."""

    def forward(self, a):
        return self.xp.logaddexp(0, a)

    def backward(self, g):
        return g * self.inputs[0].sigmoid()


class Clip(Function):
    """y = min(max(a, low), high);  dy/da = [low ≤ a ≤ high] (PyTorch's clamp convention)."""

    def forward(self, a, low, high):
        self.low, self.high = low, high
        if low is not None:
            a = self.xp.maximum(a, low)
        return a if high is None else self.xp.minimum(a, high)

    def backward(self, g):
        a = self.inputs[0].data
        inside = a == a  # all True; NaN inputs pass no gradient
        if self.low is not None:
            inside = inside & (a >= self.low)
        if self.high is not None:
            inside = inside & (a <= self.high)
        return _select(inside, g)


class Cast(Function):
    """y = a converted to ``dtype``;  dy/da = 1 (the engine casts the gradient back)."""

    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, g):
        return g


class ToDevice(Function):
    """y = a copied to another device;  dy/da = 1, copied back."""

    def forward(self, a, device):
        self.source = self.device
        return device.asarray(self.device.to_numpy(a)) if device is not self.device else a

    def backward(self, g):
        return g.to(self.source)


def _binary(function, op):
    return lambda a, b: function.apply(*binary_operands(a, b, op))


add = _binary(Add, "add")
sub = _binary(Sub, "sub")
mul = _binary(Mul, "mul")
div = _binary(Div, "div")
pow = _binary(Pow, "pow")
maximum = _binary(Maximum, "maximum")
minimum = _binary(Minimum, "minimum")


def clip(a, low=None, high=None):
    """Clamp ``a`` into [low, high] (either bound may be None)."""
    if low is None and high is None:
        raise ValueError("clip: at least one of low and high must be given")
    for name, bound in (("low", low), ("high", high)):
        if bound is not None:
            check_real(bound, f"clip: {name}")
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip: low={low} is greater than high={high}")
    return Clip.apply(a, low=low, high=high)
