"""nn.init: in place, seeded by manual_seed on every device, PyTorch's bounds, gains and fans."""
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.nn import init


def _empty(shape, device, dtype=np.float64):
    return tg.zeros(*shape, dtype=dtype, device=device)


def test_fills_in_place_and_keeps_dtype_and_device(device):
    t = _empty((4, 5), device, np.float32)
    data = t.data
    assert init.uniform_(t, -2, 3) is t
    assert t.data is data and t.dtype == np.float32 and t.device.name == device
    values = t.numpy()
    assert values.min() >= -2 and values.max() < 3 and np.unique(values).size == 20


@pytest.mark.parametrize("fill", [
    lambda t: init.uniform_(t, -1, 1), lambda t: init.normal_(t, 2, 3), init.xavier_uniform_,
    init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_])
def test_seeded_by_manual_seed_and_same_on_every_device(fill, device):
    tg.manual_seed(7)
    first = fill(_empty((6, 4), device)).numpy()
    second = fill(_empty((6, 4), device)).numpy()
    tg.manual_seed(7)
    np.testing.assert_array_equal(fill(_empty((6, 4), device)).numpy(), first)
    assert not np.array_equal(first, second)
    tg.manual_seed(7)
    np.testing.assert_array_equal(fill(_empty((6, 4), "cpu")).numpy(), first)


def test_constant_zeros_ones(device):
    t = _empty((2, 3), device)
    np.testing.assert_array_equal(init.constant_(t, 0.25).numpy(), np.full((2, 3), 0.25))
    np.testing.assert_array_equal(init.ones_(t).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(init.zeros_(t).numpy(), np.zeros((2, 3)))


@pytest.mark.parametrize("name, param, expected", [
    ("linear", None, 1.0), ("sigmoid", None, 1.0), ("conv2d", None, 1.0), ("tanh", None, 5 / 3),
    ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", math.sqrt(5), math.sqrt(2 / 6)), ("selu", None, 0.75)])
def test_calculate_gain(name, param, expected):
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("tanh", None), ("relu", None), ("leaky_relu", 0.2), ("selu", None), ("linear", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_fans_count_the_receptive_field():
    assert init._calculate_fan_in_and_fan_out(_empty((5, 3), "cpu")) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(_empty((5, 3, 2, 2), "cpu")) == (12, 20)


@pytest.mark.parametrize("fill, bound_of", [
    (lambda t: init.xavier_uniform_(t, gain=2.0), lambda fi, fo: 2.0 * math.sqrt(6 / (fi + fo))),
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), lambda fi, fo: 1 / math.sqrt(fi)),
    (lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), lambda fi, fo: math.sqrt(6 / fo)),
])
def test_uniform_initialisers_reach_their_bounds(fill, bound_of):
    t = fill(_empty((300, 200), "cpu"))
    bound = bound_of(200, 300)
    values = t.numpy()
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("fill, std", [
    (lambda t: init.normal_(t, 0.5, 2.0), 2.0),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / 500)),
    (lambda t: init.kaiming_normal_(t, nonlinearity="tanh"), (5 / 3) / math.sqrt(200)),
])
def test_normal_initialisers_have_their_std(fill, std):
    values = fill(_empty((300, 200), "cpu")).numpy()
    assert values.std() == pytest.approx(std, rel=0.02)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, device):
    values = init.orthogonal_(_empty(shape, device), gain=2.0).numpy().reshape(shape[0], -1)
    small = min(values.shape)
    gram = values @ values.T if values.shape[0] == small else values.T @ values
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda: init.xavier_uniform_(tg.zeros(5)), ValueError, "fewer than 2 dimensions"),
    (lambda: init.orthogonal_(tg.zeros(5)), ValueError, "2 or more dimensions"),
    (lambda: init.kaiming_uniform_(tg.zeros(2, 2), mode="fan_avg"), ValueError, "fan_in"),
    (lambda: init.kaiming_normal_(tg.zeros(2, 2), nonlinearity="swish"), ValueError, "unsupported nonlinearity"),
    (lambda: init.uniform_(tg.zeros(2, dtype=np.int64)), TypeError, "floating"),
    (lambda: init.uniform_(tg.zeros(2), 1, 0), ValueError, "lower bound"),
    (lambda: init.normal_(tg.zeros(2), std=-1), ValueError, "non-negative"),
    (lambda: init.zeros_(np.ones(2)), TypeError, "expected a Tensor"),
])
def test_bad_arguments_raise(call, error, message):
    with pytest.raises(error, match=message):
        call()
