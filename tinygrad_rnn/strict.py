"""A strict CPU array backend for tests: NumPy arrays that refuse to be handed to NumPy.

CuPy arrays raise when NumPy functions are called on them; on a machine without a GPU the
same mistake would go unnoticed, because NumPy happily converts anything array-like. A
``StrictArray`` wraps a NumPy array and behaves like a CuPy array in that respect: calling a
NumPy function on it, or mixing it with a NumPy array, raises ``TypeError``. The op test
suite runs on this backend, which proves that the engine takes its array functions from the
namespace of the tensor's device (``xp``), never from NumPy directly.
"""
import operator
import types

import numpy as np

_NOT_A_NUMPY_INPUT = (
    "strict backend: {what}; engine code must use the array namespace of the tensor's device "
    "(tensor.xp), never NumPy, so that the same code runs on CuPy"
)


def unwrap(value):
    """The NumPy data inside a StrictArray (inside lists and tuples too); other values pass
    through, but a bare NumPy array raises: mixing the two is the bug this backend catches."""
    if type(value) is StrictArray:
        return value._array
    if isinstance(value, np.ndarray):
        raise TypeError(_NOT_A_NUMPY_INPUT.format(what="a NumPy array was mixed with a StrictArray"))
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v) for v in value)
    return value


def _wrap(value):
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, np.generic):  # device libraries return 0-d arrays, not NumPy scalars
        return StrictArray(np.asarray(value))
    if isinstance(value, (list, tuple)):
        return type(value)(_wrap(v) for v in value)
    return value


def _wrap_callable(function):
    def strict_call(*args, **kwargs):
        args = tuple(unwrap(a) for a in args)
        kwargs = {k: unwrap(v) for k, v in kwargs.items()}
        return _wrap(function(*args, **kwargs))

    strict_call.__name__ = getattr(function, "__name__", "strict_call")
    return strict_call


class StrictArray:
    """A NumPy array that NumPy refuses: the CPU stand-in for a CuPy array."""

    __slots__ = ("_array",)

    def __init__(self, array):
        self._array = array

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise TypeError(_NOT_A_NUMPY_INPUT.format(what=f"numpy.{ufunc.__name__} was called on a StrictArray"))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(_NOT_A_NUMPY_INPUT.format(what="a StrictArray was converted by NumPy"))

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(_NOT_A_NUMPY_INPUT.format(what=f"numpy.{func.__name__} was called on a StrictArray"))

    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    T = property(lambda self: StrictArray(self._array.T))

    def __getattr__(self, name):
        if name.startswith("__"):  # __array_interface__ & co. would let NumPy read the data
            raise AttributeError(name)
        attribute = getattr(self._array, name)
        return _wrap_callable(attribute) if callable(attribute) else _wrap(attribute)

    def __getitem__(self, index):
        return _wrap(self._array[unwrap(index)])

    def __setitem__(self, index, value):
        self._array[unwrap(index)] = unwrap(value)

    def __len__(self):
        return len(self._array)

    def __iter__(self):
        return (StrictArray(np.asarray(row)) for row in self._array)

    def __bool__(self):
        return bool(self._array)

    def __float__(self):
        return float(self._array)

    def __int__(self):
        return int(self._array)

    def __index__(self):
        return operator.index(self._array)

    def __repr__(self):
        return f"StrictArray({self._array!r})"


def _binary(name):
    op = getattr(operator, name)
    return (lambda self, other: _wrap(op(self._array, unwrap(other))),
            lambda self, other: _wrap(op(unwrap(other), self._array)))


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
              "and_", "or_", "xor", "lt", "le", "gt", "ge", "eq", "ne"):
    _forward, _reflected = _binary(_name)
    _dunder = _name.rstrip("_")
    setattr(StrictArray, f"__{_dunder}__", _forward)
    if _name not in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(StrictArray, f"__r{_dunder}__", _reflected)
for _name in ("neg", "pos", "abs", "invert"):
    setattr(StrictArray, f"__{_name}__", (lambda op: lambda self: _wrap(op(self._array)))(getattr(operator, _name)))
StrictArray.__hash__ = None


class _StrictNamespace(types.SimpleNamespace):
    """``numpy`` as seen by the strict backend: every function unwraps and rewraps."""

    def __init__(self, module):
        super().__init__()
        object.__setattr__(self, "_module", module)

    def __getattr__(self, name):
        if name == "ndarray":
            return StrictArray
        attribute = getattr(self._module, name)
        if isinstance(attribute, types.ModuleType):
            return _StrictNamespace(attribute)
        if callable(attribute) and not isinstance(attribute, type):
            return _wrap_callable(attribute)
        return attribute


namespace = _StrictNamespace(np)
