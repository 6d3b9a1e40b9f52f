"""Nodes with several outputs: one node, one backward receiving a gradient per output."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn.autograd import Function
from tinygrad_rnn.testing import gradcheck, gradgradcheck


class TanhExp(Function):
    """(tanh a, exp a);  dL/da = g_t·(1 − tanh² a) + g_e·exp a (a missing gradient counts as 0)."""

    calls = []

    def forward(self, a):
        return self.xp.tanh(a), self.xp.exp(a)

    def backward(self, g_tanh, g_exp):
        TanhExp.calls.append((g_tanh is None, g_exp is None))
        a = self.inputs[0]
        grad = 0
        if g_tanh is not None:
            grad = grad + g_tanh * (1 - a.tanh() ** 2)
        if g_exp is not None:
            grad = grad + g_exp * a.exp()
        return grad


def tanh_exp(a):
    return TanhExp.apply(a)


def test_outputs_share_one_node_and_backward_runs_once():
    x = tg.randn(4, dtype="float64", requires_grad=True)
    s, c = tanh_exp(x)
    assert s.grad_fn is c.grad_fn and s.grad_fn.outputs == (s, c)
    TanhExp.calls.clear()
    (s * 2 + c * 3).sum().backward()
    assert TanhExp.calls == [(False, False)]
    a = x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (1 - np.tanh(a) ** 2) + 3 * np.exp(a), rtol=1e-12)


def test_an_unused_output_receives_none():
    x = tg.randn(4, dtype="float64", requires_grad=True)
    s, c = tanh_exp(x)
    TanhExp.calls.clear()
    c.sum().backward()
    assert TanhExp.calls == [(True, False)]
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.numpy()), rtol=1e-12)


def test_dropped_output_is_freed_and_the_other_still_differentiates():
    x = tg.randn(4, dtype="float64", requires_grad=True)
    s, c = tanh_exp(x)
    dropped = weakref.ref(c)
    del c
    gc.collect()
    assert dropped() is None and s.grad_fn.outputs[1] is None
    s.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 - np.tanh(x.numpy()) ** 2, rtol=1e-12)


def test_graph_is_freed_when_outputs_are_dropped():
    x = tg.randn(4, dtype="float64", requires_grad=True)
    s, c = tanh_exp(x)
    node = weakref.ref(s.grad_fn)
    del s, c
    gc.collect()
    assert node() is None


@pytest.mark.parametrize("fn", [
    lambda x: tanh_exp(x),
    lambda x: F.split(x, [1, 2], 1),
    lambda x: F.chunk(x, 2, 0),
    lambda x: F.unbind(x, 1),
], ids=["tanh_exp", "split", "chunk", "unbind"])
def test_first_and_second_derivatives(fn):
    x = tg.randn(3, 3, dtype="float64", requires_grad=True)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


def test_split_and_unbind_are_one_node():
    x = tg.randn(4, 3, requires_grad=True)
    pieces = F.split(x, 1, 0)
    assert len({id(p.grad_fn) for p in pieces}) == 1
    rows = F.unbind(x, 0)
    assert len(rows) == 4 and rows[0].shape == (3,) and len({id(r.grad_fn) for r in rows}) == 1


def test_pieces_used_partly_give_zeros_elsewhere():
    x = tg.randn(5, 2, dtype="float64", requires_grad=True)
    a, b, c = F.split(x, [2, 1, 2], 0)
    (b * 3).sum().backward()
    expected = np.zeros((5, 2))
    expected[2] = 3
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_retain_graph_and_second_backward():
    x = tg.randn(3, dtype="float64", requires_grad=True)
    s, c = tanh_exp(x)
    loss = (s * c).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_grad_of_one_output_wrt_another_path():
    x = tg.randn(3, dtype="float64", requires_grad=True)
    s, c = tanh_exp(x)
    y = s * 2
    g_s, = tg.grad((y + c).sum(), [s])
    np.testing.assert_array_equal(g_s.numpy(), np.full(3, 2.0))


class Triple(Function):
    """3a, with ``backward`` returning a new array each time (and keeping it, for the tests)."""

    fresh_gradients = True
    returned = []

    def forward(self, a):
        return 3 * a

    def backward(self, g):
        grad = tg.Tensor(3 * g.data, device=self.device)
        Triple.returned.append(grad.data)
        return grad


@pytest.mark.parametrize("fresh", [True, False])
def test_fresh_gradients_are_added_into_in_place_and_only_then(monkeypatch, fresh):
    """x used by two nodes: its second gradient is added into the first one's array when the node
    declares ``fresh_gradients``, else into a new array; the sum is right either way."""
    monkeypatch.setattr(Triple, "fresh_gradients", fresh)
    monkeypatch.setattr(Triple, "returned", [])
    x = tg.randn(4, 3, dtype="float64", requires_grad=True)
    (Triple.apply(x).sum() + (Triple.apply(x) * 2).sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((4, 3), 9.0))
    assert any(x.grad.data is returned for returned in Triple.returned) == fresh
    assert sorted(float(r[0, 0]) for r in Triple.returned) == ([6.0, 9.0] if fresh else [3.0, 6.0])


def test_fresh_gradients_are_left_alone_when_the_walk_records(monkeypatch):
    monkeypatch.setattr(Triple, "returned", [])
    x = tg.randn(4, 3, dtype="float64", requires_grad=True)
    (g,) = tg.grad(Triple.apply(x).sum() + (Triple.apply(x) * 2).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(g.numpy(), np.full((4, 3), 9.0))
    assert sorted(float(r[0, 0]) for r in Triple.returned) == [3.0, 6.0]
