"""Autograd semantics: accumulation, weight sharing, graph freeing, hooks, retain_grad,
higher-order gradients, grad modes and very deep graphs."""
import numpy as np
import pytest

import tinygrad_rnn as tg


def leaf(values, device="cpu"):
    return tg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True, device=device)


def test_gradients_accumulate_across_backward_calls(device):
    x = leaf([1.0, 2.0, 3.0], device)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.array([1.0, 2.0, 3.0]))
    x.zero_grad()
    assert x.grad is None


def test_shared_weight_receives_the_sum_over_its_uses(device):
    """The BPTT weight-sharing rule: h_t = tanh(W h_{t-1}) for 3 steps, checked against the
    same recursion differentiated by hand."""
    rng = np.random.default_rng(0)
    w0, h0 = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3)
    w = leaf(w0, device)
    h = tg.Tensor(h0, device=device)
    states = [h0]
    for _ in range(3):
        h = (w @ h).tanh()
        states.append(h.numpy())
    h.sum().backward()
    expected, upstream = np.zeros((3, 3)), np.ones(3)
    for t in range(3, 0, -1):  # dL/dW = Σ_t (upstream_t ⊙ (1 - h_t²)) h_{t-1}ᵀ
        local = upstream * (1 - states[t] ** 2)
        expected += np.outer(local, states[t - 1])
        upstream = w0.T @ local
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


def test_leaf_gradients_are_separate_writable_arrays(device):
    """a + b hands the same gradient to both inputs, and sum's backward is a read-only
    broadcast view: each .grad must still be its own array, safe to update in place."""
    a, b = leaf(np.ones((2, 3)), device), leaf(np.ones((2, 3)), device)
    (a + b).sum().backward()
    a.grad.data *= 2  # an optimizer's in-place update must not touch b.grad
    np.testing.assert_array_equal(b.grad.numpy(), np.ones((2, 3)))


def _indexed_uses(x):
    """A loss that takes x[t] at every step, as an unrolled RNN does, with overlapping slices,
    a repeated advanced index and dense uses of x mixed in; returns (loss, its gradient)."""
    rng = np.random.default_rng(3)
    x0 = x.numpy()
    weights = rng.standard_normal(x0.shape)
    loss, expected = (x * 2).sum(), np.full(x0.shape, 2.0)
    for t in range(x0.shape[0]):
        loss = loss + (x[t] * tg.Tensor(weights[t], device=x.device)).sum()
        expected[t] += weights[t]
    loss = loss + x[1:3].sum() + x[2:4].sum() + x[[0, 0, 2]].sum() + (x * x).sum()
    expected[1:3] += 1
    expected[2:4] += 1
    expected[0] += 2
    expected[2] += 1
    return loss, expected + 2 * x0


def test_repeated_indexing_adds_its_gradients_into_one_buffer(device, monkeypatch):
    """Without create_graph, x[t]'s gradient is added in place into one buffer (backward_into),
    not scattered into a fresh zeros array per use: O(T) rather than O(T^2) for T steps. It
    must equal the gradient worked out by hand, and the recorded path's (create_graph)."""
    from tinygrad_rnn.ops import movement
    x = leaf(np.random.default_rng(2).standard_normal((5, 2, 3)), device)
    loss, expected = _indexed_uses(x)
    original, scatters = movement.ScatterAdd.forward, []

    def counting_forward(self, *args, **kwargs):
        scatters.append(args[0].shape)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(movement.ScatterAdd, "forward", counting_forward)
    loss.backward(retain_graph=True)
    assert scatters == []
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    loss.backward()   # the retained graph again: the gradients add up
    np.testing.assert_allclose(x.grad.numpy(), 2 * expected, rtol=1e-12)
    recorded_loss, _ = _indexed_uses(x)
    (recorded,) = tg.grad(recorded_loss, [x], create_graph=True)
    assert len(scatters) > 0
    np.testing.assert_allclose(recorded.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("indexed_first", [True, False])
def test_indexing_never_adds_into_a_gradient_another_tensor_shares(device, indexed_first):
    """x + w hands one gradient array to both; x[0]'s gradient added to x's in place must not
    reach w's (the buffer is a copy of what x had gathered)."""
    x, w = leaf(np.ones((3, 2)), device), leaf(np.ones((3, 2)), device)
    shared = ((x + w) * tg.Tensor(np.full((3, 2), 2.0), device=device)).sum()
    indexed = x[0].sum()
    (indexed + shared if indexed_first else shared + indexed).backward()
    np.testing.assert_allclose(w.grad.numpy(), np.full((3, 2), 2.0))
    np.testing.assert_allclose(x.grad.numpy(), [[3.0, 3.0], [2.0, 2.0], [2.0, 2.0]])


def test_a_hook_on_an_indexed_tensor_still_sees_its_gradient(device):
    x = leaf(np.ones((3, 2)), device)
    first = x[0]
    first.register_hook(lambda g: g * 10)
    (first.sum() + x[0:2].sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[11.0, 11.0], [1.0, 1.0], [0.0, 0.0]])


def test_graph_is_freed_after_backward_and_second_backward_raises(device):
    x = leaf([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = leaf([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_backward_of_non_scalar_needs_grad(device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match=r"scalar output.*shape \(2,\).*grad="):
        (x * 2).backward()
    (x * x).backward(tg.Tensor([1.0, 10.0], dtype=np.float64, device=device))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0])


def test_backward_with_wrong_shape_grad_raises(device):
    x = leaf([[1.0, 2.0]], device)
    with pytest.raises(RuntimeError, match=r"grad has shape \(2,\) but the output has shape \(1, 2\)"):
        (x * 2).backward(tg.Tensor([1.0, 1.0], device=device))


def test_backward_of_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.tensor([1.0, 2.0]).sum().backward()


def test_hook_replaces_gradient_and_can_be_removed(device):
    x = leaf([1.0, 2.0], device)
    y = x * 3
    handle = y.register_hook(lambda g: g * 10)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy()))  # returning None keeps the gradient
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    handle.remove()
    x.zero_grad()
    y = x * 3
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_retain_grad_keeps_intermediate_gradient(device):
    x = leaf([1.0, 2.0], device)
    y, z = x * 2, x * 3
    y.retain_grad()
    (y * y + z).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [4.0, 8.0])
    assert z.grad is None


def test_grad_with_create_graph_gives_hessian_vector_product(device):
    """f(x) = ½ xᵀAx + Σ exp(x): H = (A + Aᵀ)/2 + diag(exp x), so Hv is known in closed form."""
    rng = np.random.default_rng(1)
    a_np, x_np, v_np = rng.standard_normal((4, 4)), rng.standard_normal(4), rng.standard_normal(4)
    a, x, v = (tg.Tensor(t, device=device) for t in (a_np, x_np, v_np))
    x.requires_grad_()
    f = 0.5 * (x @ (a @ x)) + x.exp().sum()
    (g,) = tg.grad(f, [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 0.5 * (a_np + a_np.T) @ x_np + np.exp(x_np), rtol=1e-12)
    hv = tg.grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.numpy(), (0.5 * (a_np + a_np.T) + np.diag(np.exp(x_np))) @ v_np, rtol=1e-12)
    assert x.grad is None  # grad() returns gradients instead of accumulating them


def test_grad_runs_no_backward_where_no_wanted_input_lies():
    """grad(y, [h]) for an intermediate h needs nothing below h: that backward must not run."""
    from tinygrad_rnn.autograd import Function
    calls = []

    class Doubled(Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            calls.append(g.shape)
            return g * 2

    x = leaf([1.0, 2.0])
    h = Doubled.apply(x)
    y = (h * h).sum()
    (g,) = tg.grad(y, [h], retain_graph=True)
    assert calls == []
    np.testing.assert_allclose(g.numpy(), [4.0, 8.0])
    np.testing.assert_allclose(tg.grad(y, x).numpy(), [8.0, 16.0])
    assert calls == [(2,)]


def test_grad_without_create_graph_records_nothing():
    x = leaf([1.0, 2.0])
    g = tg.grad((x * x * x).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_grad_of_unused_input():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="not used"):
        tg.grad((x * 2).sum(), [x, unused])
    assert tg.grad((x * 2).sum(), [x, unused], allow_unused=True)[1] is None


def test_no_grad_and_enable_grad():
    x = leaf([1.0])
    with tg.no_grad():
        assert not (x * 2).requires_grad
        with tg.enable_grad():
            assert (x * 2).requires_grad
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled() and (x * 2).requires_grad

    @tg.no_grad()
    def inference(t):
        return t * 2
    assert not inference(x).requires_grad


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x.detach() * x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


def test_graph_of_200000_nodes_has_no_recursion_limit():
    """A long unrolled chain (deeper than Python's recursion limit by far)."""
    x = leaf([1.0])
    y = x
    for _ in range(200_000):
        y = y + 1e-6
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])
    np.testing.assert_allclose(y.numpy(), [1.2], rtol=1e-9)


def test_numpy_array_on_the_left_defers_to_tensor():
    x = leaf([1.0, 2.0])
    y = np.array([3.0, 4.0]) * x + np.array([1.0, 1.0])
    assert isinstance(y, tg.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
