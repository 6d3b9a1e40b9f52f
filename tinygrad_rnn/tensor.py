"""Tensor: an array on a device, its gradient, and the node of the op that made it."""
import math
import numbers

import numpy as np

from . import backend
from .dtypes import check_real, check_tensor_dtype, get_default_dtype, is_floating


def _host_array(data, dtype):
    """Python data as a NumPy array with PyTorch's defaults (floats -> default float dtype).

    NumPy first infers the data's own kind, so None, a string or bytes anywhere in ``data``
    raises TypeError instead of becoming NaN or a number under a requested ``dtype``.
    """
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        if array.dtype.kind != "O" or not all(isinstance(v, numbers.Integral) for v in array.flat):
            check_tensor_dtype(array.dtype, f"Tensor from {_abbreviated(data)}")
        elif dtype is None:  # Python ints beyond 64 bits; a float dtype may round them
            raise OverflowError(f"Tensor: the integers in {_abbreviated(data)} do not fit in int64 or "
                                "uint64; pass dtype=float64 to store them rounded")
    if dtype is not None:
        return np.asarray(data, dtype=dtype)  # converts from the data (out-of-range ints raise)
    if array.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
        array = array.astype(get_default_dtype())
    return array


def _abbreviated(data):
    text = repr(data)
    return f"{type(data).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


class Tensor:
    """An n-dimensional array that records how it was computed, for reverse-mode autodiff.

    ``Tensor(data, requires_grad=False, dtype=None, device=None)``: ``data`` is a Python
    number or (nested) list (floats become the default dtype, float32), a NumPy array (its
    dtype is kept), a device array (CuPy, ...) or a Tensor. ``device`` is "cpu" (NumPy),
    "cuda" (CuPy) or "strict" (the test backend).
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_retains_grad", "_hooks", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            dtype = check_tensor_dtype(dtype, "Tensor")
        target = backend.get_device(device) if device is not None else None
        source = backend.find_device(data)
        if source is None:
            data = (target or backend.get_device("cpu")).asarray(_host_array(data, dtype))
        elif data.dtype.kind not in "biuf":
            check_tensor_dtype(data.dtype, f"Tensor from {type(data).__name__} data")
        elif target is not None and target is not source:
            data = target.asarray(source.to_numpy(data), dtype=dtype)
        elif dtype is not None and data.dtype != dtype:
            data = data.astype(dtype)
        self.data = data
        self.grad = None
        self._node = None
        self._retains_grad = False
        self._hooks = ()
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _from_op(cls, data, node):
        """The output of an op (no conversion; ``node`` is None when no graph is recorded)."""
        tensor = object.__new__(cls)
        tensor.data = np.asarray(data) if isinstance(data, np.generic) else data
        tensor.grad = None
        tensor._node = node
        tensor.requires_grad = node is not None
        tensor._retains_grad = False
        tensor._hooks = ()
        return tensor

    # ----- properties ---------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)  # a tuple on every device
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: backend.device_of(self.data))
    xp = property(lambda self: backend.device_of(self.data).xp, doc="the array namespace of the device")
    grad_fn = property(lambda self: self._node, doc="the op node that produced this tensor")
    is_leaf = property(lambda self: self._node is None)
    T = property(lambda self: self.permute(*reversed(range(self.ndim))))
    mT = property(lambda self: self.transpose(-2, -1))

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        text = np.array2string(self.numpy(), separator=", ", prefix="Tensor(")
        extras = []
        if self.device.name != "cpu":
            extras.append(f"device='{self.device.name}'")
        if self.dtype != get_default_dtype() and self.dtype.kind == "f":
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({text}{''.join(', ' + e for e in extras)})"

    # ----- conversion ---------------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (copied from the GPU if needed; detached)."""
        return self.device.to_numpy(self.data)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python number; "
                             f"this one has shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def astype(self, dtype):
        """A copy converted to ``dtype``; differentiable between floating dtypes."""
        dtype = np.dtype(dtype)
        return self if dtype == self.dtype else _ew.Cast.apply(self, dtype=dtype)

    def to(self, device=None, dtype=None):
        """Move to ``device`` and/or convert to ``dtype`` (``to("cuda")``, ``to(np.float64)``)."""
        if device is not None and not isinstance(device, (str, backend.Device)):
            device, dtype = None, device
        out = self
        if device is not None and backend.get_device(device) is not self.device:
            out = _ew.ToDevice.apply(self, device=backend.get_device(device))
        return out if dtype is None else out.astype(dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    # ----- autograd -----------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and not is_floating(self.dtype):
            raise TypeError(f"only floating-point tensors can require gradients; this one is {self.dtype}")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring grad; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """The same data, cut from the graph (the way to carry states across truncated BPTT chunks)."""
        return Tensor._from_op(self.data, None)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): the tensor does not require grad")
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces
        the gradient. Returns a handle whose ``remove()`` unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad")
        self._hooks = list(self._hooks) + [hook]
        return _HookHandle(self, hook)

    def backward(self, grad=None, retain_graph=None, create_graph=False):
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf that requires grad.

        Non-scalar outputs need ``grad`` (the vector of the vector-Jacobian product). The graph
        is freed afterwards unless ``retain_graph``; ``create_graph`` records the backward
        itself so the gradients can be differentiated again.
        """
        from .autograd import backward
        backward(self, grad, retain_graph, create_graph)

    def zero_grad(self):
        self.grad = None

    # ----- factories from this tensor ------------------------------------------------------
    def zeros_like(self, dtype=None):
        return Tensor._from_op(self.xp.zeros(self.shape, dtype=dtype or self.dtype), None)

    def ones_like(self, dtype=None):
        return Tensor._from_op(self.xp.ones(self.shape, dtype=dtype or self.dtype), None)

    # ----- arithmetic ---------------------------------------------------------------------
    def __add__(self, other): return _ew.add(self, other)
    def __radd__(self, other): return _ew.add(other, self)
    def __sub__(self, other): return _ew.sub(self, other)
    def __rsub__(self, other): return _ew.sub(other, self)
    def __mul__(self, other): return _ew.mul(self, other)
    def __rmul__(self, other): return _ew.mul(other, self)
    def __truediv__(self, other): return _ew.div(self, other)
    def __rtruediv__(self, other): return _ew.div(other, self)
    def __pow__(self, other): return _ew.pow(self, other)
    def __rpow__(self, other): return _ew.pow(other, self)
    def __matmul__(self, other): return _linalg.matmul(self, _ew.lift(other, self, "matmul"))
    def __rmatmul__(self, other): return _linalg.matmul(_ew.lift(other, self, "matmul"), self)
    def __neg__(self): return _ew.Neg.apply(self)
    def __pos__(self): return self
    def __abs__(self): return self.abs()

    # Comparisons give bool tensors outside the graph (they have no gradient).
    def _compare(self, other, op):
        try:
            a, b = _ew.binary_operands(self, other, op.__name__)
        except TypeError:
            if op in (_operator.eq, _operator.ne):  # Python's fallback: t == None is False, as in PyTorch
                return NotImplemented
            raise
        return Tensor._from_op(op(a.data, b.data), None)

    def __lt__(self, other): return self._compare(other, _operator.lt)
    def __le__(self, other): return self._compare(other, _operator.le)
    def __gt__(self, other): return self._compare(other, _operator.gt)
    def __ge__(self, other): return self._compare(other, _operator.ge)
    def __eq__(self, other): return self._compare(other, _operator.eq)
    def __ne__(self, other): return self._compare(other, _operator.ne)
    __hash__ = object.__hash__

    def exp(self): return _ew.Exp.apply(self)
    def log(self): return _ew.Log.apply(self)
    def sqrt(self): return _ew.Sqrt.apply(self)
    def abs(self): return _ew.Abs.apply(self)
    def tanh(self): return _ew.Tanh.apply(self)
    def sigmoid(self): return _ew.Sigmoid.apply(self)
    def relu(self): return _ew.Relu.apply(self)
    def leaky_relu(self, negative_slope=0.01): return _ew.LeakyRelu.apply(self, slope=negative_slope)
    def softplus(self): return _ew.Softplus.apply(self)
    def clip(self, low=None, high=None): return _ew.clip(self, low, high)
    clamp = clip
    def maximum(self, other): return _ew.maximum(self, other)
    def minimum(self, other): return _ew.minimum(self, other)
    def matmul(self, other): return self @ other

    # ----- reductions ---------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None): return _reduce.sum(self, _axis(axis, dim), keepdims)
    def mean(self, axis=None, keepdims=False, *, dim=None): return _reduce.mean(self, _axis(axis, dim), keepdims)
    def max(self, axis=None, keepdims=False, *, dim=None): return _reduce.max(self, _axis(axis, dim), keepdims)
    def min(self, axis=None, keepdims=False, *, dim=None): return _reduce.min(self, _axis(axis, dim), keepdims)
    def logsumexp(self, axis=None, keepdims=False, *, dim=None):
        return _reduce.logsumexp(self, _axis(axis, dim), keepdims)
    def var(self, axis=None, keepdims=False, correction=1, *, dim=None):
        return _reduce.var(self, _axis(axis, dim), keepdims, correction)

    def argmax(self, axis=None, keepdims=False):
        """Indices of the maxima (an integer tensor, outside the graph)."""
        return Tensor._from_op(self.xp.argmax(self.data, axis=axis, keepdims=keepdims), None)

    def argmin(self, axis=None, keepdims=False):
        return Tensor._from_op(self.xp.argmin(self.data, axis=axis, keepdims=keepdims), None)

    def softmax(self, axis=-1): return self.log_softmax(axis).exp()
    def log_softmax(self, axis=-1): return _reduce.log_softmax(self, axis)

    # ----- movement -----------------------------------------------------------------------
    def reshape(self, *shape): return _movement.reshape(self, *shape)
    view = reshape
    def permute(self, *axes): return _movement.permute(self, *axes)
    def transpose(self, axis0=-2, axis1=-1): return _movement.transpose(self, axis0, axis1)
    def expand(self, *shape): return _movement.expand(self, *shape)
    broadcast_to = expand
    def squeeze(self, axis=None): return _movement.squeeze(self, axis)
    def unsqueeze(self, axis): return _movement.unsqueeze(self, axis)
    def flip(self, axis=None): return _movement.flip(self, axis)
    def flatten(self, start_axis=0, end_axis=-1):
        start, end = start_axis % max(self.ndim, 1), end_axis % max(self.ndim, 1)
        if self.ndim == 0:
            return self.reshape(1)
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])
    def split(self, split_size_or_sections, axis=0): return _movement.split(self, split_size_or_sections, axis)
    def __getitem__(self, index): return _movement.getitem(self, index)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def as_device_array(value, device, what):
    """A stored value (our Tensor, a NumPy, CuPy or strict array, a NumPy scalar or a torch
    tensor) as an array on ``device``, copied across devices when needed; ``what`` names the
    value in the TypeError raised for anything else (e.g. a list)."""
    if isinstance(value, Tensor):
        value = value.data
    elif type(value).__module__.startswith("torch"):
        try:
            value = value.detach().cpu().numpy()
        except TypeError as error:  # torch dtypes NumPy lacks, e.g. bfloat16
            raise TypeError(f"{what} has torch dtype {value.dtype}, which NumPy cannot hold; convert it "
                            f"first (e.g. .float()) [{error}]") from None
    source = backend.find_device(value)
    if source is None and not isinstance(value, (np.ndarray, np.generic)):
        raise TypeError(f"{what} is a {type(value).__name__}, not an array or tensor")
    check_tensor_dtype(value.dtype, what)
    if source is None:
        return device.asarray(value)
    return value if source is device else device.asarray(source.to_numpy(value))


def _axis(axis, dim):
    """Accept PyTorch's ``dim=`` as an alias of ``axis=``."""
    if dim is not None and axis is not None:
        raise TypeError("pass either axis= or dim=, not both")
    return dim if dim is not None else axis


class _HookHandle:
    def __init__(self, tensor, hook):
        self._tensor, self._hook = tensor, hook

    def remove(self):
        self._tensor._hooks = [h for h in self._tensor._hooks if h is not self._hook]


def shape_args(args):
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))`` (NumPy integers too) as a tuple of ints."""
    sizes = args[0] if len(args) == 1 and not isinstance(args[0], numbers.Integral) else args
    return tuple(int(s) for s in sizes)


def _factory_dtype(dtype):
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A new tensor from data (PyTorch's ``torch.tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def full(shape, value, dtype=None, device=None, requires_grad=False):
    check_real(value, "full: the fill value")
    device = backend.get_device(device)
    shape = shape_args((shape,))
    data = device.xp.full(shape, value, dtype=_factory_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return full(shape_args(shape), 0, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return full(shape_args(shape), 1, dtype, device, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return full(t.shape, 0, dtype or t.dtype, t.device, requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return full(t.shape, 1, dtype or t.dtype, t.device, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the device's generator (seeded by ``manual_seed``)."""
    device = backend.get_device(device)
    return Tensor(device.standard_normal(shape_args(shape), _factory_dtype(dtype)), requires_grad=requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) from the device's generator."""
    device = backend.get_device(device)
    return Tensor(device.uniform(shape_args(shape), _factory_dtype(dtype)), requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None):
    """Evenly spaced values in [start, stop): integers unless a bound or ``dtype`` is floating."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError(f"arange: step must be nonzero, got arange({start}, {stop}, {step})")
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ValueError(f"arange: start, stop and step must be finite, got arange({start}, {stop}, {step})")
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = get_default_dtype()
    device = backend.get_device(device)
    return Tensor(device.xp.arange(start, stop, step, dtype=dtype if dtype is not None else np.int64))


import operator as _operator  # noqa: E402  (the op modules import Tensor, so they come last)

from .ops import elementwise as _ew, linalg as _linalg, movement as _movement, reduce as _reduce  # noqa: E402
