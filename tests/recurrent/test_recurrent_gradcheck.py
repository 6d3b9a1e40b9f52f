"""Float64 finite-difference checks of every cell, of one direction of every mode (forward and
reverse, with lengths) and of whole layers, including the peephole LSTM that PyTorch lacks."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn.cells import GATES
from tinygrad_rnn.nn.recurrent import reference_direction
from tinygrad_rnn.testing import gradcheck

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before"]


def leaf(array):
    return tg.Tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check_module(module, call, inputs):
    """gradcheck of ``call(module, *inputs)`` w.r.t. the inputs and every parameter of ``module``:
    the parameters are swapped for the checked tensors during each call."""
    names = [name for name, _ in module.named_parameters()]
    params = [leaf(p.numpy()) for _, p in module.named_parameters()]

    def run(*tensors):
        originals = {name: getattr(module, name) for name in names}
        for name, tensor in zip(names, tensors[len(inputs):]):
            object.__setattr__(module, name, tensor)
        try:
            return call(module, *tensors[:len(inputs)])
        finally:
            for name, tensor in originals.items():
                object.__setattr__(module, name, tensor)

    outputs = run(*inputs, *params)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    tg.grad(sum(o.sum() for o in outputs), params)  # raises if a swapped-in parameter went unused
    assert gradcheck(run, list(inputs) + params)


CELLS = [("RNNCell", {"nonlinearity": "tanh"}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
         ("LSTMCell", {"peephole": True}), ("GRUCell", {}), ("GRUCell", {"reset_after": False})]


@pytest.mark.parametrize("name, kwargs", CELLS, ids=lambda v: str(v))
def test_cells(name, kwargs):
    cell = getattr(nn, name)(3, 2, dtype=np.float64, **kwargs)
    rng = np.random.default_rng(0)
    x, h, c = (leaf(rng.standard_normal(shape)) for shape in ((2, 3), (2, 2), (2, 2)))
    if name == "LSTMCell":
        check_module(cell, lambda m, x, h, c: m(x, (h, c)), [x, h, c])
    else:
        check_module(cell, lambda m, x, h: m(x, h), [x, h])


@pytest.mark.parametrize("mode", MODES + ["peephole"])
@pytest.mark.parametrize("reverse", [False, True])
def test_direction_with_lengths(mode, reverse):
    """One direction with lengths (3, 1, 2) over T=3: the padded steps carry the state, output zero
    and send no gradient to x."""
    base = "lstm" if mode == "peephole" else mode
    hidden, rows = 2, GATES[base] * 2
    rng = np.random.default_rng(1)
    shapes = [(3, 3, 2), (3, hidden), (3, hidden), (rows, 2), (rows, hidden), (rows,), (rows,)]
    tensors = [leaf(rng.standard_normal(shape)) for shape in shapes + [(hidden,)] * 3 * (mode == "peephole")]
    lengths = np.array([3, 1, 2])

    def run(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, *peephole):
        out, h_n, c_n = reference_direction(base, x, h0, c0 if base == "lstm" else None, weight_ih, weight_hh,
                                            bias_ih, bias_hh, tuple(peephole) or None, lengths, reverse)
        return (out, h_n) if c_n is None else (out, h_n, c_n)

    assert gradcheck(run, tensors)


@pytest.mark.parametrize("layer, kwargs", [("LSTM", {"peephole": True}), ("GRU", {"num_layers": 2}),
                                           ("GRU", {"reset_after": False}),
                                           ("RNN", {"nonlinearity": "relu", "batch_first": True})],
                         ids=["peephole_lstm", "gru_2_layers", "gru_reset_before", "relu_rnn_batch_first"])
@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_bidirectional_layers_with_lengths(layer, kwargs, impl):
    module = getattr(nn, layer)(2, 2, bidirectional=True, impl=impl, dtype=np.float64, **kwargs)
    rng = np.random.default_rng(2)
    x = leaf(rng.standard_normal((2, 3, 2) if module.batch_first else (3, 2, 2)))  # L=3, N=2
    states = (2 * module.num_layers, 2, 2)
    h0, c0 = leaf(rng.standard_normal(states)), leaf(rng.standard_normal(states))
    lengths = [2, 3]
    if layer == "LSTM":
        def lstm_outputs(m, x, h0, c0):
            out, (h_n, c_n) = m(x, (h0, c0), lengths=lengths)
            return out, h_n, c_n
        check_module(module, lstm_outputs, [x, h0, c0])
    else:
        check_module(module, lambda m, x, h0: m(x, h0, lengths=lengths), [x, h0])
