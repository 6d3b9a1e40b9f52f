"""Gradient masks select, never multiply by 0: where an op passes no gradient (relu below 0,
clip outside its range, the loser of maximum/minimum), an infinite or NaN incoming gradient
gives exactly 0, as in PyTorch (before, 0·inf made the input's gradient NaN). The issue's
padding bug (item 18.2) in the engine's own ops."""
import numpy as np
import pytest

import tinygrad_rnn as tg

X = [-1.0, 2.0, 3.0]  # x[0] is blocked by every op below; each output is 0 there
BLOCKED = {"relu": [0], "clip": [0, 2], "maximum": [0], "minimum": [0]}


def _apply(name, x, zeros):
    """The op on ``x`` (ours or torch's: both spell these the same), an output ≥ 0."""
    if name == "relu":
        return x.relu()
    if name == "clip":
        return x.clip(0.0, 2.5)
    if name == "maximum":
        return x.maximum(zeros)
    return -((-x).minimum(zeros))


def _gradient(name, device="cpu"):
    """x's gradient of Σ sqrt(op(x)): sqrt's gradient at 0 is inf, and flows into the op."""
    x = tg.tensor(X, dtype="float64", device=device, requires_grad=True)
    _apply(name, x, tg.zeros(3, dtype="float64", device=device)).sqrt().sum().backward()
    return x.grad.numpy()


@pytest.mark.filterwarnings("ignore:divide by zero")
@pytest.mark.parametrize("name", sorted(BLOCKED))
def test_blocked_positions_get_exact_zeros_from_infinite_gradients(name, device):
    grad = _gradient(name, device)
    assert (grad[BLOCKED[name]] == 0.0).all(), grad
    assert np.isfinite(grad).all() and (np.delete(grad, BLOCKED[name]) > 0).all()


@pytest.mark.filterwarnings("ignore:divide by zero")
@pytest.mark.parametrize("name", sorted(BLOCKED))
def test_blocked_positions_match_torch(name):
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    _apply(name, x, torch.zeros(3, dtype=torch.float64)).sqrt().sum().backward()
    np.testing.assert_allclose(_gradient(name), x.grad.numpy(), rtol=1e-15, atol=0)


def test_ties_still_split_the_gradient_evenly():
    a = tg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    b = tg.tensor([1.0, 5.0, 0.0], dtype="float64", requires_grad=True)
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.0])
