"""Behaviour of the recurrent layers that needs no peer: init, layouts, lengths, dropout, devices,
the fused/reference dispatch and truncated BPTT."""
import math
import types
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F, nn
from tinygrad_rnn.nn import recurrent
from tinygrad_rnn.nn.cells import PEEPHOLES
from tinygrad_rnn.nn.recurrent import reference_direction


def tensor(array, grad=False, device="cpu"):
    return tg.Tensor(np.asarray(array, dtype=np.float64), requires_grad=grad, device=device)


def random(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def lstm_hn(state):
    return state[0]


# ----- init ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: nn.LSTM(7, 16, num_layers=2, bidirectional=True, peephole=True),
                                  lambda: nn.GRUCell(7, 16), lambda: nn.RNN(7, 16)])
def test_init_is_uniform_within_one_over_sqrt_hidden(make):
    tg.manual_seed(3)
    module = make()
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p.numpy().ravel() for p in module.parameters()])
    assert np.abs(values).max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.1 * bound  # U(-k, k) has std k/√3
    tg.manual_seed(3)
    again = make()
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(module.parameters(), again.parameters()))


def test_parameter_names():
    lstm = nn.LSTM(3, 2, num_layers=2, bidirectional=True, peephole=True, bias=False)
    names = [name for name, _ in lstm.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "weight_ci_l0", "weight_cf_l0", "weight_co_l0"]
    assert "weight_co_l1_reverse" in names and not any(n.startswith("bias") for n in names)
    assert lstm.weight_ih_l1.shape == (8, 4) and lstm.weight_cf_l1_reverse.shape == (2,)


def test_repr():
    assert repr(nn.LSTM(3, 2, num_layers=2, peephole=True)) == "LSTM(3, 2, num_layers=2, peephole=True)"
    relu = nn.RNN(3, 2, nonlinearity="relu", impl="reference")
    assert repr(relu) == "RNN(3, 2, impl='reference', nonlinearity='relu')"
    assert repr(nn.GRUCell(3, 2, bias=False)) == "GRUCell(3, 2, bias=False)"


# ----- layouts and states -------------------------------------------------------------------------
@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
def test_unbatched_equals_batch_of_one_and_batch_first_equals_transposed(layer):
    module = getattr(nn, layer)(3, 2, num_layers=2, bidirectional=True, dtype=np.float64)
    x = random(5, 1, 3)
    out, state = module(tensor(x))
    out_unbatched, state_unbatched = module(tensor(x[:, 0]))
    np.testing.assert_allclose(out_unbatched.numpy(), out.numpy()[:, 0], rtol=1e-14)
    h, h_unbatched = (lstm_hn(state), lstm_hn(state_unbatched)) if layer == "LSTM" else (state, state_unbatched)
    assert h_unbatched.shape == (4, 2)
    np.testing.assert_allclose(h_unbatched.numpy(), h.numpy()[:, 0], rtol=1e-14)
    module.batch_first = True
    out_batch_first, _ = module(tensor(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(out_batch_first.numpy(), out.numpy().transpose(1, 0, 2), rtol=1e-14)


def test_missing_initial_state_means_zeros():
    lstm = nn.LSTM(3, 2, num_layers=2, dtype=np.float64)
    x = tensor(random(4, 2, 3))
    zeros = tensor(np.zeros((2, 2, 2)))
    np.testing.assert_array_equal(lstm(x)[0].numpy(), lstm(x, (zeros, zeros))[0].numpy())


def test_peephole_with_zero_peepholes_is_the_plain_lstm():
    peephole = nn.LSTM(3, 2, peephole=True, dtype=np.float64)
    plain = nn.LSTM(3, 2, dtype=np.float64)
    plain.load_state_dict({k: v for k, v in peephole.state_dict().items() if not k.startswith(PEEPHOLES)})
    x = tensor(random(4, 2, 3))
    assert not np.allclose(peephole(x)[0].numpy(), plain(x)[0].numpy())
    for name in PEEPHOLES:
        getattr(peephole, name + "_l0").data[...] = 0
    np.testing.assert_array_equal(peephole(x)[0].numpy(), plain(x)[0].numpy())


# ----- lengths ------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_lengths_equal_running_each_sequence_alone(layer, impl):
    """A padded batch with lengths gives, for every sequence, exactly what that sequence gives
    alone (trimmed to its length), zeros after it, and no gradient from the padding."""
    module = getattr(nn, layer)(3, 2, num_layers=2, bidirectional=True, impl=impl, dtype=np.float64)
    lengths = [2, 5, 1, 4]
    x = tensor(random(5, 4, 3) * 10, grad=True)  # large junk in the padding must not matter
    out, state = module(x, lengths=lengths)
    h_n = lstm_hn(state) if layer == "LSTM" else state
    (out.sum() + h_n.sum()).backward()
    for b, length in enumerate(lengths):
        alone = tensor(x.numpy()[:length, b:b + 1])
        out_alone, state_alone = module(alone)
        h_alone = lstm_hn(state_alone) if layer == "LSTM" else state_alone
        np.testing.assert_allclose(out.numpy()[:length, b], out_alone.numpy()[:, 0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(h_n.numpy()[:, b], h_alone.numpy()[:, 0], rtol=1e-12, atol=1e-15)
        assert not out.numpy()[length:, b].any()
        assert not x.grad.numpy()[length:, b].any()


def test_lengths_accept_arrays_and_tensors():
    gru = nn.GRU(3, 2, dtype=np.float64)
    x = tensor(random(4, 2, 3))
    expected = gru(x, lengths=[3, 4])[0].numpy()
    for lengths in (np.array([3, 4]), tg.Tensor(np.array([3, 4])), (3, 4)):
        np.testing.assert_array_equal(gru(x, lengths=lengths)[0].numpy(), expected)


# ----- dropout ------------------------------------------------------------------------------------
def test_dropout_between_layers_only_in_training():
    gru = nn.GRU(3, 4, num_layers=2, dropout=0.5, dtype=np.float64)
    x, h0 = tensor(random(5, 2, 3)), tensor(random(2, 2, 4))
    tg.manual_seed(7)
    out_train, _ = gru(x, h0)
    # the same computation by hand: layer 0, dropout from the same generator state, layer 1
    tg.manual_seed(7)

    def weights(k):
        return [getattr(gru, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    hidden, _, _ = reference_direction("gru", x, h0[0], None, *weights(0))
    expected, _, _ = reference_direction("gru", F.dropout(hidden, 0.5), h0[1], None, *weights(1))
    np.testing.assert_allclose(out_train.numpy(), expected.numpy(), rtol=1e-14)
    gru.eval()
    out_eval, _ = gru(x, h0)
    gru.dropout = 0.0
    np.testing.assert_array_equal(out_eval.numpy(), gru(x, h0)[0].numpy())
    assert not np.allclose(out_eval.numpy(), out_train.numpy())


def test_dropout_does_not_touch_a_single_layer():
    lstm = nn.LSTM(3, 4, dropout=0.5, dtype=np.float64)
    x = tensor(random(5, 2, 3))
    train = lstm(x)[0].numpy()
    np.testing.assert_array_equal(train, lstm.eval()(x)[0].numpy())


# ----- devices ------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
def test_every_device_gives_the_cpu_result(layer, device):
    reference = getattr(nn, layer)(3, 2, num_layers=2, bidirectional=True, dtype=np.float64)
    module = getattr(nn, layer)(3, 2, num_layers=2, bidirectional=True, dtype=np.float64, device=device)
    module.load_state_dict(reference.state_dict())
    results = []
    for mod, dev in ((reference, "cpu"), (module, device)):
        x = tensor(random(4, 3, 3), grad=True, device=dev)
        out, _ = mod(x, lengths=[4, 1, 3])
        (out * tensor(random(*out.shape, seed=1), device=dev)).sum().backward()
        results.append([out.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in mod.parameters()])
    for ours, cpu in zip(*results):
        np.testing.assert_allclose(ours, cpu, rtol=1e-12, atol=1e-14)


# ----- fused / reference dispatch ------------------------------------------------------------------
@pytest.fixture
def fake_fused(monkeypatch):
    """A stand-in for nn.fused that records calls and delegates to the reference path."""
    module = types.SimpleNamespace(calls=[], reason=None)
    module.unavailable = lambda mode, device, dtype: module.reason
    module.shared_output = lambda x, directions, hidden: None   # directions joined by a copy

    def fused_direction(mode, *args, **kwargs):
        module.calls.append(mode)
        return reference_direction(mode, *args, **kwargs)

    module.fused_direction = fused_direction
    monkeypatch.setattr(recurrent, "fused", module)
    monkeypatch.setattr(recurrent, "_REPORTED", set())
    return module


def test_auto_and_fused_impl_use_the_kernel_for_every_layer_and_direction(fake_fused):
    for impl in ("auto", "fused"):
        lstm = nn.LSTM(3, 2, num_layers=3, bidirectional=True, impl=impl)
        lstm(tg.Tensor(np.zeros((4, 2, 3), np.float32)))
    assert fake_fused.calls == ["lstm"] * 12


def test_reference_impl_never_asks_for_the_kernel(fake_fused):
    nn.GRU(3, 2, impl="reference")(tg.Tensor(np.zeros((4, 2, 3), np.float32)))
    assert fake_fused.calls == []


def test_auto_without_a_kernel_says_why_once_and_runs_the_reference_path(fake_fused):
    fake_fused.reason = "no kernel here"
    x = tg.Tensor(np.zeros((4, 2, 3), np.float32))
    with pytest.warns(RuntimeWarning, match=r"GRU runs the reference path \(impl='auto'\): no kernel here"):
        nn.GRU(3, 2)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.GRU(3, 2)(x)  # said once
    assert fake_fused.calls == []


def test_fused_impl_without_a_kernel_raises(fake_fused):
    fake_fused.reason = "no kernel here"
    with pytest.raises(RuntimeError, match="GRU: impl='fused' was asked for, but no kernel here"):
        nn.GRU(3, 2, impl="fused")(tg.Tensor(np.zeros((4, 2, 3), np.float32)))


def test_an_uninstalled_source_tree_says_the_kernels_are_missing(monkeypatch):
    from tinygrad_rnn.nn import fused
    monkeypatch.setattr(fused, "kernels", None)
    monkeypatch.setattr(fused, "_NOT_INSTALLED", "the fused kernels are not installed (test)", raising=False)
    assert fused.unavailable("lstm", "cpu", np.float32) == "the fused kernels are not installed (test)"


# ----- truncated backpropagation through time -------------------------------------------------------
def test_truncated_bptt_with_detach():
    """States carried across chunks with detach(): each chunk's backward stops at its start, and
    gives the same gradients as a fresh run from the carried (constant) state."""
    lstm = nn.LSTM(3, 4, dtype=np.float64)
    chunks = [tensor(random(5, 2, 3, seed=s)) for s in range(3)]
    state = None
    for chunk in chunks:
        start = None if state is None else tuple(s.detach() for s in state)
        out, state = lstm(chunk, start)
        lstm.zero_grad()
        out.sum().backward()  # would fail on the second chunk without detach (the graph is freed)
        grads = [p.grad.numpy() for p in lstm.parameters()]
        lstm.zero_grad()
        fresh = None if start is None else tuple(tensor(s.numpy()) for s in start)
        lstm(chunk, fresh)[0].sum().backward()
        for carried, again in zip(grads, (p.grad.numpy() for p in lstm.parameters())):
            np.testing.assert_array_equal(carried, again)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        lstm(chunks[1], state)[0].sum().backward()
