"""Our RNN/LSTM/GRU (and cells) against PyTorch with the same weights: outputs and the gradients of
x, the initial states and every parameter, for configurations chosen by hypothesis.

Loading torch's state_dict into our layer (no renaming, strict) proves that names and shapes match.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from recurrent_support import (Config, assert_float32_results_close, assert_results_close, make_inputs, run_ours,
                               run_torch)

torch = pytest.importorskip("torch")

@st.composite
def configs(draw, max_steps=5, max_batch=3, max_size=4):
    steps = draw(st.integers(1, max_steps))
    batch = draw(st.integers(0, max_batch))  # 0: unbatched input
    lengths = None
    if batch and draw(st.booleans()):
        lengths = tuple(draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch)))
    return Config(mode=draw(st.sampled_from(["rnn_tanh", "rnn_relu", "lstm", "gru"])),
                  num_layers=draw(st.integers(1, 3)), bidirectional=draw(st.booleans()),
                  batch_first=batch > 0 and draw(st.booleans()), lengths=lengths, steps=steps, batch=batch,
                  input_size=draw(st.integers(1, max_size)), hidden_size=draw(st.integers(1, max_size)),
                  bias=draw(st.booleans()), initial_state=draw(st.booleans()))


def check_against_torch(config, dtype, impl, seed):
    arrays = make_inputs(config, seed)
    state_dict, expected = run_torch(config, arrays, dtype, seed)
    ours = run_ours(config, arrays, state_dict, dtype, impl)
    if dtype == np.float64:
        assert_results_close(ours, expected, 1e-10)
    else:
        assert_float32_results_close(ours, expected, 1e-5)


@pytest.mark.parametrize("impl", ["reference", "fused"])
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs(), dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16))
def test_layers_match_torch(impl, config, dtype, seed):
    check_against_torch(config, dtype, impl, seed)


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["reference", "fused"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs(max_steps=8, max_batch=5, max_size=6), dtype=st.sampled_from([np.float64, np.float32]),
       seed=st.integers(0, 2**16))
def test_layers_match_torch_sweep(impl, config, dtype, seed):
    check_against_torch(config, dtype, impl, seed)


@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_every_layer_count_and_mode_with_lengths(mode, layers):
    """The issue's 'every combination', deterministically for the two hardest options together."""
    config = Config(mode, num_layers=layers, bidirectional=True, batch_first=layers == 2,
                    lengths=(2, 4, 1), steps=4, batch=3)
    check_against_torch(config, np.float64, "reference", seed=layers)


CELLS = {"rnn_tanh": ("RNNCell", {"nonlinearity": "tanh"}), "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
         "lstm": ("LSTMCell", {}), "gru": ("GRUCell", {})}


@pytest.mark.parametrize("mode", sorted(CELLS))
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(mode, batched, bias):
    name, kwargs = CELLS[mode]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(3, 4, bias=bias, dtype=torch.float64, **kwargs)
    ours = getattr(nn, name)(3, 4, bias=bias, dtype=np.float64, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(1)
    lead = (2,) if batched else ()
    x, h, c = rng.standard_normal(lead + (3,)), rng.standard_normal(lead + (4,)), rng.standard_normal(lead + (4,))
    u, w = rng.standard_normal(lead + (4,)), rng.standard_normal(lead + (4,))

    def run(module, make):
        xs = [make(a) for a in ((x, h, c) if mode == "lstm" else (x, h))]
        result = module(xs[0], tuple(xs[1:]) if mode == "lstm" else xs[1])
        outputs = result if mode == "lstm" else (result,)
        sum((o * make(cot, False)).sum() for o, cot in zip(outputs, (u, w))).backward()
        grads = [t.grad for t in xs] + [p.grad for _, p in module.named_parameters()]
        return [np.asarray(o.detach().numpy()) for o in outputs] + [np.asarray(g.numpy()) for g in grads]

    got = run(ours, lambda a, grad=True: tg.Tensor(a, requires_grad=grad))
    want = run(theirs, lambda a, grad=True: torch.tensor(a, requires_grad=grad))
    for got_array, want_array in zip(got, want):
        np.testing.assert_allclose(got_array, want_array, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_parameter_names_and_shapes_are_torchs(layer, bidirectional):
    theirs = getattr(torch.nn, layer)(5, 3, num_layers=2, bidirectional=bidirectional)
    ours = getattr(nn, layer)(5, 3, num_layers=2, bidirectional=bidirectional)
    assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == \
           [(k, v.shape) for k, v in ours.state_dict().items()]
