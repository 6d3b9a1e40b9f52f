"""gradflow: its ‖∂L/∂h_t‖ agree with finite differences, and the LSTM keeps far more gradient than the RNN."""
import numpy as np
import pytest

import tinygrad_rnn as tg

from tinygrad_rnn.apps import gradflow
from tinygrad_rnn.apps.gradflow import LastStepNet, hidden_gradient_norms

VOCAB, HIDDEN, STEPS, BATCH = 5, 3, 6, 2


def finite_difference_norms(net, ids, targets, eps=1e-6):
    """‖∂L/∂h_t‖ by central differences: perturb h_t (c_t held, for the LSTM), rerun the rest."""
    states = net.states(ids)

    def loss_from(t, state):
        rest = net.states(ids[t + 1:], state) if t + 1 < len(ids) else [state]
        return net.loss(rest[-1], targets).item()

    norms = []
    for t, state in enumerate(states):
        h = net.hidden(state)
        gradient = np.zeros(h.shape)
        for index in np.ndindex(h.shape):
            shifted = []
            for sign in (1, -1):
                bumped = h.numpy().copy()
                bumped[index] += sign * eps
                bumped = type(h)(bumped)
                shifted.append(loss_from(t, (bumped, state[1]) if isinstance(state, tuple) else bumped))
            gradient[index] = (shifted[0] - shifted[1]) / (2 * eps)
        norms.append(np.linalg.norm(gradient))
    return np.array(norms)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_norms_match_finite_differences(cell):
    rng = np.random.default_rng(0)
    net = LastStepNet(cell, VOCAB, HIDDEN, forget_bias=1.0)
    ids, targets = rng.integers(0, VOCAB, (STEPS, BATCH)), rng.integers(0, VOCAB, BATCH)
    norms, _ = hidden_gradient_norms(net, ids, targets)
    expected = finite_difference_norms(net, ids, targets)
    np.testing.assert_allclose(norms, expected, rtol=1e-6)
    assert expected[0] > 0  # the first step does reach the loss


def test_lstm_keeps_at_least_1e4_times_the_rnn_gradient_50_steps_back():
    """The issue's check: forget bias 1, H=128, T=100, relative to each one's last-step norm."""
    results = gradflow.measure(("rnn", "lstm"), seq_len=100, hidden=128, forget_bias=1.0, train_steps=0,
                               batch_size=4, log=lambda _: None)
    ratio = gradflow.steps_back_ratio(results, 50)
    rnn = results["rnn"]["init"]
    assert rnn[-51] / rnn[-1] < 1e-8  # the tanh RNN's gradient has vanished
    assert ratio >= 1e4, ratio


def test_forget_bias_sets_only_the_forget_gate():
    net = LastStepNet("lstm", VOCAB, HIDDEN, forget_bias=2.5)
    total = net.cell.bias_ih.numpy() + net.cell.bias_hh.numpy()
    assert np.all(total[HIDDEN:2 * HIDDEN] == 2.5) and not np.any(total[:HIDDEN] == 2.5)


def test_format_table_shows_relative_norms():
    table = gradflow.format_table({"rnn": {"init": np.array([1e-6, 1.0, 1.0, 1.0, 1.0, 2.0]), "trained": None}})
    assert "rnn init" in table and "5.00e-01" in table and "5.00e-07" in table


def cell_finite_difference_norms(net, ids, targets, eps=1e-6):
    """‖∂L/∂c_t‖ of the LSTM by central differences: perturb c_t, recompute h_t = o_t ⊙ tanh(c_t)
    with the step's own output gate (o_t = h_t / tanh(c_t)), rerun the rest."""
    states = net.states(ids)
    norms = []
    for t, (h, c) in enumerate(states):
        gradient = np.zeros(c.shape)
        for index in np.ndindex(c.shape):
            shifted = []
            for sign in (1, -1):
                bumped = c.numpy().copy()
                bumped[index] += sign * eps
                output_gate = h.numpy() / np.tanh(c.numpy())
                state = (type(h)(output_gate * np.tanh(bumped)), type(c)(bumped))
                rest = net.states(ids[t + 1:], state) if t + 1 < len(ids) else [state]
                shifted.append(net.loss(rest[-1], targets).item())
            gradient[index] = (shifted[0] - shifted[1]) / (2 * eps)
        norms.append(np.linalg.norm(gradient))
    return np.array(norms)


def test_lstm_cell_state_gradient_norms_match_finite_differences():
    rng = np.random.default_rng(1)
    net = LastStepNet("lstm", VOCAB, HIDDEN, forget_bias=1.0)
    ids, targets = rng.integers(0, VOCAB, (STEPS, BATCH)), rng.integers(0, VOCAB, BATCH)
    h_norms, c_norms, _ = gradflow.state_gradient_norms(net, ids, targets)
    np.testing.assert_allclose(c_norms, cell_finite_difference_norms(net, ids, targets), rtol=1e-6)
    assert gradflow.state_gradient_norms(LastStepNet("gru", VOCAB, HIDDEN), ids, targets)[1] is None


@pytest.mark.parametrize("cell, bias, expected", [("lstm", 30.0, 1.0), ("lstm", -30.0, 0.0),
                                                  ("gru", 30.0, 1.0), ("gru", -30.0, 0.0)])
def test_carry_factor_reads_the_forget_or_update_gate(cell, bias, expected):
    net = LastStepNet(cell, VOCAB, HIDDEN)
    gate = slice(HIDDEN, 2 * HIDDEN)   # LSTM f, GRU z
    net.cell.bias_ih.data[gate] = bias
    mean, best = gradflow.carry_factor(net, np.random.default_rng(0).integers(0, VOCAB, (STEPS, BATCH)))
    assert mean == pytest.approx(expected, abs=1e-9) and best == pytest.approx(expected, abs=1e-9)
    assert gradflow.carry_factor(LastStepNet("rnn", VOCAB, HIDDEN), np.zeros((2, 1), int)) is None


def test_recurrent_scale_multiplies_w_hh():
    tg.manual_seed(0)
    plain = LastStepNet("rnn", VOCAB, HIDDEN)
    tg.manual_seed(0)
    scaled = LastStepNet("rnn", VOCAB, HIDDEN, recurrent_scale=3.0)
    np.testing.assert_allclose(scaled.cell.weight_hh.numpy(), 3.0 * plain.cell.weight_hh.numpy())


def test_clipping_rescues_sgd_in_the_exploding_regime():
    runs = gradflow.clipping_study()   # W_hh x 2, SGD lr 0.5, the same start and batches
    none, clipped = runs["none"], runs["clipped"]
    assert none["grad_norm"].max() > 10 * clipped["grad_norm"][0]   # a gradient explodes
    assert np.isfinite(clipped["loss"]).all()
    assert clipped["loss"][-10:].mean() < 0.5 * none["loss"][-10:].mean()
