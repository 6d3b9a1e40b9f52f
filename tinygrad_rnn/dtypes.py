"""Dtypes and the promotion rules every op follows.

* float32 is the default floating dtype (``get_default_dtype``/``set_default_dtype``).
* Python scalars are *weak*: ``x * 2`` and ``x * 2.0`` keep the dtype of a floating ``x``;
  a Python float with an integer or bool tensor gives the default floating dtype.
* Two tensors: if exactly one is floating, its dtype wins (int64 + float32 -> float32);
  otherwise NumPy's ``result_type`` decides (float32 + float64 -> float64, int32 + int64 -> int64).
* Only floating tensors may require gradients.
* Tensors hold bool, integer or floating data, never objects, strings, bytes or complex
  numbers (``check_tensor_dtype``).
"""
import numbers

import numpy as np

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_

_default_float = np.dtype(np.float32)


def get_default_dtype():
    return _default_float


def set_default_dtype(dtype):
    """Set the floating dtype used for Python floats and factories (float32 or float64)."""
    global _default_float
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_float = dtype


def check_tensor_dtype(dtype, what):
    """``dtype`` as a NumPy dtype if a tensor may hold it, else a TypeError naming ``what``.

    An object or string tensor would turn ``x * None`` into NaNs and ``x + "1.5"`` into
    numbers, and could only be saved with pickle; no op here is written for complex numbers.
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"{what}: tensors hold bool, integer or floating data, not dtype {dtype} "
                        f"({_KIND_NAMES.get(dtype.kind, 'unsupported')})")
    return dtype


def check_real(value, what):
    """``value`` if it is a real number (Python's or NumPy's, bools included), else a TypeError
    naming ``what``: NumPy would silently fill with NaN for None and with 1.5 for "1.5"."""
    if not isinstance(value, (numbers.Real, np.bool_)):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__} {value!r:.40}")
    return value


_KIND_NAMES = {"O": "Python objects", "U": "strings", "S": "bytes", "c": "complex numbers",
               "V": "raw records", "M": "datetimes", "m": "time deltas"}


def is_floating(dtype):
    return np.dtype(dtype).kind == "f"


def promote(a, b):
    """The dtype of a binary op between tensors of dtypes ``a`` and ``b``."""
    if a == b:
        return a
    a_float, b_float = a.kind == "f", b.kind == "f"
    if a_float != b_float:
        return a if a_float else b
    return np.result_type(a, b)


def scalar_dtype(value, tensor_dtype):
    """The dtype a Python scalar takes when combined with a tensor of ``tensor_dtype``."""
    if tensor_dtype.kind == "f":
        return tensor_dtype
    if isinstance(value, float):
        return _default_float
    if isinstance(value, bool) and tensor_dtype.kind == "b":
        return tensor_dtype
    return tensor_dtype if tensor_dtype.kind in "iu" else np.dtype(np.int64)
