"""Gradient clipping: nn.utils.clip_grad_norm_ and clip_grad_value_ (NumPy oracle, live torch)."""
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.nn import Parameter
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_

GRADS = [np.array([[3.0, -4.0], [1.0, 0.5]]), np.array([-2.0, 6.0, 0.25])]


def _params_with_grads(device="cpu", grads=GRADS):
    params = []
    for g in grads:
        p = Parameter(np.zeros_like(g), device=device)
        p.grad = tg.Tensor(g, device=device)
        params.append(p)
    return params


def _total(norm_type):
    flat = np.concatenate([g.ravel() for g in GRADS])
    return np.abs(flat).max() if norm_type == math.inf else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf])
def test_clip_grad_norm_scales_to_max_norm_and_returns_the_norm_before(norm_type, device):
    params = _params_with_grads(device)
    total = clip_grad_norm_(params, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, tg.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), _total(norm_type), rtol=1e-12)
    scale = 1.5 / (_total(norm_type) + 1e-6)
    for p, g in zip(params, GRADS):
        np.testing.assert_allclose(p.grad.numpy(), g * scale, rtol=1e-12)
        assert p.grad.device.name == device


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = _params_with_grads()
    total = clip_grad_norm_(params, max_norm=100.0)
    assert total.item() == pytest.approx(_total(2))
    for p, g in zip(params, GRADS):
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_clip_grad_norm_with_mixed_dtypes_uses_the_widest():
    """float32 and float64 gradients (GRADS are exact in float32): the total is float64, each
    gradient keeps its dtype."""
    params = _params_with_grads(grads=[GRADS[0].astype(np.float32), GRADS[1]])
    total = clip_grad_norm_(params, max_norm=1.5)
    assert total.dtype == np.float64
    np.testing.assert_allclose(total.item(), _total(2), rtol=1e-7)  # one float32 norm rounds once
    assert [p.grad.dtype for p in params] == [np.float32, np.float64]


def test_clipping_replaces_gradients_instead_of_writing_into_them():
    params = _params_with_grads()
    arrays = [p.grad.data for p in params]
    clip_grad_norm_(params, 0.1)
    clip_grad_value_(params, 0.01)
    for array, g in zip(arrays, GRADS):
        np.testing.assert_array_equal(array, g)


def test_single_tensor_parameters_without_grads_and_no_grads():
    params = _params_with_grads()
    idle = Parameter(np.ones(3))
    assert clip_grad_norm_(params + [idle], 1.0).item() == pytest.approx(_total(2))
    assert idle.grad is None
    assert clip_grad_norm_(_params_with_grads()[0], 1.0).item() == pytest.approx(math.sqrt(9 + 16 + 1 + 0.25))
    assert clip_grad_norm_([idle], 1.0).item() == 0.0


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # inf · 0 = nan, as in torch
def test_non_finite_norm():
    params = _params_with_grads(grads=[np.array([1.0, np.inf])])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is inf"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_(params, 1.0).item())


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in GRADS]
    for p, g in zip(theirs, GRADS):
        p.grad = torch.tensor(g)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type)
    ours = _params_with_grads()
    np.testing.assert_allclose(clip_grad_norm_(ours, 2.0, norm_type).item(), expected.item(), rtol=1e-12)
    for mine, their in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), their.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_clamps_each_element(device):
    params = _params_with_grads(device)
    clip_grad_value_(params, 1.0)
    for p, g in zip(params, GRADS):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -1.0, 1.0))


@pytest.mark.parametrize("call, message", [
    (lambda p: clip_grad_norm_(p, 1.0, norm_type=0), "norm_type must be positive or inf"),
    (lambda p: clip_grad_norm_(p, 1.0, norm_type=-2), "norm_type"),
    (lambda p: clip_grad_value_(p, -1.0), "clip_value must be non-negative"),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(_params_with_grads())
