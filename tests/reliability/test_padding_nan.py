"""Values of x past a sequence's ``lengths`` are padding: NaN, Inf or 1e30 there must change
nothing, neither outputs and states nor any gradient, on the fused and the reference path
(issue 18, item 2). The layers select the padded positions away, so the run with poisoned
padding is bitwise the run with zero padding, and x's gradient there is exactly 0."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn

LENGTHS = (3, 1, 4)  # the longest shorter than T, so some steps are padding for every sequence
STEPS, INPUT, HIDDEN = 5, 3, 2
CELLS = {"rnn_tanh": ("RNN", {"nonlinearity": "tanh"}), "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
         "lstm": ("LSTM", {}), "lstm_peephole": ("LSTM", {"peephole": True}), "gru": ("GRU", {})}
POISONS = [np.nan, np.inf, -np.inf, 1e30]


def _padded(lengths, steps):
    """(T, B) bool: True where step t of sequence b is padding."""
    return np.arange(steps)[:, None] >= np.asarray(lengths)[None, :]


def _run(cell, impl, x, seed=0):
    """Outputs and every gradient of a fixed random linear loss, as NumPy arrays by name."""
    name, kwargs = CELLS[cell]
    tg.manual_seed(seed)
    layer = getattr(nn, name)(INPUT, HIDDEN, num_layers=2, bidirectional=True, impl=impl,
                              dtype=np.float64, **kwargs)
    x = tg.Tensor(x, requires_grad=True)
    out, state = layer(x, lengths=list(LENGTHS))
    states = state if isinstance(state, tuple) else (state,)
    rng = np.random.default_rng(1)
    loss = sum((t * tg.Tensor(rng.standard_normal(t.shape))).sum() for t in (out,) + states)
    loss.backward()
    results = {"out": out.numpy(), "grad_x": x.grad.numpy()}
    results.update({f"state{i}": s.numpy() for i, s in enumerate(states)})
    results.update({f"grad_{k}": p.grad.numpy() for k, p in layer.named_parameters()})
    return results


def _inputs(poison):
    x = np.random.default_rng(0).standard_normal((STEPS, len(LENGTHS), INPUT))
    clean, poisoned = x.copy(), x.copy()
    clean[_padded(LENGTHS, STEPS)] = 0.0
    poisoned[_padded(LENGTHS, STEPS)] = poison
    return clean, poisoned


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_poisoned_padding_changes_nothing(cell, impl):
    """Every poison gives bitwise the results of zero padding, all finite, and a gradient for x
    that is exactly 0 at every padded step."""
    clean, _ = _inputs(0.0)
    expected = _run(cell, impl, clean)
    for poison in POISONS:
        got = _run(cell, impl, _inputs(poison)[1])
        for key, want in expected.items():
            assert np.isfinite(got[key]).all(), f"{cell} {impl} poison {poison}: {key} not finite"
            np.testing.assert_array_equal(got[key], want, err_msg=f"{cell} {impl} poison {poison}: {key}")
        assert (got["grad_x"][_padded(LENGTHS, STEPS)] == 0).all()
    assert (expected["grad_x"][~_padded(LENGTHS, STEPS)] != 0).any()  # the check above is not vacuous


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_poisoned_padding_matches_torch_packed(cell, impl):
    """NaN padding: our outputs and gradients equal PyTorch's pack_padded_sequence run, which
    never reads the padding."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    name, kwargs = CELLS[cell]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(INPUT, HIDDEN, num_layers=2, bidirectional=True, dtype=torch.float64,
                                     **kwargs)
    ours = getattr(nn, name)(INPUT, HIDDEN, num_layers=2, bidirectional=True, impl=impl, dtype=np.float64,
                             **kwargs)
    ours.load_state_dict(theirs.state_dict())
    _, poisoned = _inputs(np.nan)
    x_theirs = torch.tensor(poisoned, requires_grad=True)
    packed = pack_padded_sequence(x_theirs, torch.tensor(LENGTHS), enforce_sorted=False)
    out_theirs, state_theirs = theirs(packed)
    out_theirs, _ = pad_packed_sequence(out_theirs, total_length=STEPS)
    x_ours = tg.Tensor(poisoned, requires_grad=True)
    out_ours, state_ours = ours(x_ours, lengths=list(LENGTHS))
    h_theirs, h_ours = (state_theirs[0], state_ours[0]) if cell == "lstm" else (state_theirs, state_ours)
    (out_theirs.sum() + (h_theirs * 2).sum()).backward()
    (out_ours.sum() + (h_ours * 2).sum()).backward()
    np.testing.assert_allclose(out_ours.numpy(), out_theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    for key, parameter in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, key).grad.numpy(), parameter.grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=key)


@pytest.mark.parametrize("ignored_logit", [-np.inf, np.nan])
def test_ignored_targets_contribute_exact_zeros_to_the_loss(ignored_logit):
    """The same class of bug in nll_loss: an ignored row whose picked log-probability is -inf
    (a class masked out with -inf) made the loss NaN through 0·inf; PyTorch skips the row."""
    logits = np.array([[0.0, 1.0, 2.0], [ignored_logit, 1.0, 2.0]])
    target = [2, -100]
    x = tg.Tensor(logits, requires_grad=True)
    losses = tg.functional.cross_entropy(x, tg.tensor(target), reduction="none")
    assert losses.numpy()[1] == 0.0 and np.isfinite(losses.numpy()).all()
    loss = tg.functional.cross_entropy(x, tg.tensor(target))
    loss.backward()
    assert np.isfinite(loss.item()) and (x.grad.numpy()[0] != 0).all()
    if ignored_logit == -np.inf:  # NaN logits give NaN gradients through log_softmax, in PyTorch too
        assert (x.grad.numpy()[1] == 0).all()
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
