"""linear_cross_entropy (one node) against the composed F.cross_entropy(F.linear(...)), central
differences in float64, and PyTorch."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn.nn.fused_loss import linear_cross_entropy
from tinygrad_rnn.testing import gradcheck

TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}


def _problem(rows, features, classes, dtype, device="cpu", seed=0):
    rng = np.random.default_rng(seed)
    x, weight, bias = (tg.Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True, device=device)
                       for shape in ((rows, features), (classes, features), (classes,)))
    return x, weight, bias, rng.integers(0, classes, rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("shape", [(7, 5, 3), (1600, 256, 103)])   # the second runs on the team
def test_equals_the_composed_path(device, dtype, with_bias, shape):
    x, weight, bias, target = _problem(*shape, dtype, device)
    bias = bias if with_bias else None
    results = []
    for loss_of in (lambda: linear_cross_entropy(x, weight, bias, target),
                    lambda: F.cross_entropy(F.linear(x, weight, bias), tg.Tensor(target, device=device))):
        for t in (x, weight, bias):
            if t is not None:
                t.grad = None
        loss = loss_of()
        loss.backward()
        results.append([loss.numpy()] + [t.grad.numpy() for t in (x, weight, bias) if t is not None])
    assert results[0][0].dtype == dtype
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unrecorded_loss_equals_the_recorded_one(dtype):
    """Under no_grad the node skips the softmax it keeps for backward; the loss must not change."""
    x, weight, bias, target = _problem(40, 6, 9, dtype)
    recorded = linear_cross_entropy(x, weight, bias, target)
    with tg.no_grad():
        unrecorded = linear_cross_entropy(x, weight, bias, target)
    assert recorded.requires_grad and not unrecorded.requires_grad
    np.testing.assert_allclose(unrecorded.numpy(), recorded.numpy(), **TOLERANCE[dtype])


def test_gradients_match_central_differences():
    x, weight, bias, target = _problem(6, 4, 5, np.float64)
    assert gradcheck(lambda x, w, b: linear_cross_entropy(x, w, b, target), [x, weight, bias])


def test_matches_torch():
    torch = pytest.importorskip("torch")
    x, weight, bias, target = _problem(300, 64, 103, np.float32)
    loss = linear_cross_entropy(x, weight, bias, target)
    loss.backward()
    peers = [torch.tensor(t.numpy(), requires_grad=True) for t in (x, weight, bias)]
    peer = torch.nn.functional.cross_entropy(torch.nn.functional.linear(*peers), torch.from_numpy(target))
    peer.backward()
    np.testing.assert_allclose(loss.numpy(), peer.detach().numpy(), rtol=1e-5)
    for ours, theirs in zip((x, weight, bias), peers):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_double_backward_raises():
    x, weight, bias, target = _problem(4, 3, 2, np.float64)
    with pytest.raises(RuntimeError, match="create_graph"):
        tg.grad(linear_cross_entropy(x, weight, bias, target), [x], create_graph=True)


@pytest.mark.parametrize("case, error", [
    (dict(target=np.array([0, 1, 5])), IndexError),
    (dict(target=np.array([0.0, 1.0, 1.0])), ValueError),
    (dict(target=np.array([0, 1])), ValueError),
    (dict(bias=tg.zeros(3)), ValueError),
    (dict(weight=tg.zeros(2, 4)), ValueError),
    (dict(weight=tg.zeros(2, 3, dtype="float64")), TypeError),
])
def test_bad_arguments_raise(case, error):
    arguments = dict(x=tg.zeros(3, 3), weight=tg.zeros(2, 3), bias=tg.zeros(2), target=np.array([0, 1, 1]))
    arguments.update(case)
    with pytest.raises(error, match="linear_cross_entropy"):
        linear_cross_entropy(**arguments)
