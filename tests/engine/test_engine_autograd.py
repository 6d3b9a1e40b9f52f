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
