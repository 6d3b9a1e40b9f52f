"""Accuracy of the kernels' scalar tanh and sigmoid (float32: rational approximation; float64:
library functions)."""
import numpy as np
import pytest
from numba import njit

from tinygrad_rnn.kernels.numba_math import JIT_OPTIONS, sigmoid, tanh


@njit(cache=True, **JIT_OPTIONS)
def _tanh_all(x, out):
    for k in range(x.size):
        out[k] = tanh(x[k])


@njit(cache=True, **JIT_OPTIONS)
def _sigmoid_all(x, out):
    for k in range(x.size):
        out[k] = sigmoid(x[k])


def _run(function, x):
    out = np.empty_like(x)
    function(x, out)
    return out


def _grid(dtype):
    return np.concatenate([np.linspace(-30, 30, 200_001), [0.0, 1e-30, -1e-30, 1e-8, 88.0, -88.0,
                                                           1e4, -1e4, np.inf, -np.inf]]).astype(dtype)


def test_float32_tanh_is_within_5_ulp_everywhere_and_saturates_at_large_x():
    x = _grid(np.float32)
    got = _run(_tanh_all, x).astype(np.float64)
    want = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got - want) <= 5 * ulp)
    big = np.abs(x) > 8
    np.testing.assert_allclose(got[big], np.sign(x[big]), atol=3e-7, rtol=0)
    small = (np.abs(x) < 1e-3) & (x != 0)
    np.testing.assert_allclose(got[small], want[small], rtol=2e-7)  # relative accuracy near 0


def test_float32_sigmoid_is_within_2e_7_absolute():
    x = _grid(np.float32)
    got = _run(_sigmoid_all, x).astype(np.float64)
    with np.errstate(over="ignore"):
        want = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, atol=2e-7, rtol=0)


@pytest.mark.parametrize("function, reference", [
    (_tanh_all, np.tanh), (_sigmoid_all, lambda x: 1 / (1 + np.exp(-x)))])
def test_float64_functions_are_exact_to_a_few_ulp(function, reference):
    with np.errstate(over="ignore"):
        x = _grid(np.float64)
        got, want = _run(function, x), reference(x)
    assert np.all(np.abs(got - want) <= 4 * np.spacing(np.abs(want)))
