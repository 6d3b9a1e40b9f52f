"""Scalar ``tanh`` and ``sigmoid`` for Numba kernels, chosen by dtype at compile time.

* float32: ``tanh(x) ~= x P(x^2) / Q(x^2)`` with x clamped to [-c, c], c = 7.9053111 (Eigen's
  ``generic_fast_tanh_float``; at most 4.4 ulp on [-12, 12], +-1 beyond, NaN stays NaN), and
  ``sigmoid(x) = 0.5 + 0.5 tanh(x / 2)``. No library calls, so LLVM vectorizes the loops.
* float64: ``math.tanh`` and ``1 / (1 + exp(-x))`` (0, not NaN, when exp overflows), so fused
  kernels equal the composed reference path to ~1e-15.

Kernels using these compile with ``error_model="numpy"`` (Python's checks every division for
zero, which stops vectorization).
"""
import math

import numpy as np
from numba import njit, types
from numba.extending import overload

# Fast-math without "nnan"/"ninf": exp may overflow to inf in float64 and must stay correct.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
JIT_OPTIONS = {"fastmath": FASTMATH, "error_model": "numpy"}

_CLAMP = np.float32(7.90531110763549805)
_ALPHA = tuple(np.float32(a) for a in (
    -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
    1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03))
_BETA = tuple(np.float32(b) for b in (
    1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03))
_HALF = np.float32(0.5)


def tanh(x):
    """Hyperbolic tangent of a float scalar (usable only inside Numba kernels)."""
    return math.tanh(x)


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)) of a float scalar (usable only inside Numba kernels)."""
    return 1.0 / (1.0 + math.exp(-x))


@njit(inline="always", **JIT_OPTIONS)
def _tanh_float32(x):
    a0, a1, a2, a3, a4, a5, a6 = _ALPHA
    b0, b1, b2, b3 = _BETA
    v = -_CLAMP if x < -_CLAMP else x   # not min/max: each call of those is typed anew
    v = _CLAMP if v > _CLAMP else v      # NaN stays NaN
    v2 = v * v
    p = ((((((a0 * v2 + a1) * v2 + a2) * v2 + a3) * v2 + a4) * v2 + a5) * v2 + a6) * v
    q = ((b0 * v2 + b1) * v2 + b2) * v2 + b3
    return p / q


def _is_float32(x):
    return isinstance(x, types.Float) and x.bitwidth == 32


@overload(tanh, jit_options=JIT_OPTIONS)
def _tanh_overload(x):
    if _is_float32(x):
        return lambda x: _tanh_float32(x)
    if isinstance(x, types.Float):
        return lambda x: math.tanh(x)


@overload(sigmoid, jit_options=JIT_OPTIONS)
def _sigmoid_overload(x):
    if _is_float32(x):
        return lambda x: _HALF + _HALF * _tanh_float32(_HALF * x)
    if isinstance(x, types.Float):
        return lambda x: 1.0 / (1.0 + math.exp(-x))
