"""inspect's NumPy replay of a trained layer gives the layer's own outputs, for every mode."""
import types

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.apps import inspect_units


@pytest.mark.parametrize("make", [lambda: nn.LSTM(5, 6, num_layers=2), lambda: nn.GRU(5, 6),
                                  lambda: nn.GRU(5, 6, reset_after=False), lambda: nn.RNN(5, 6),
                                  lambda: nn.RNN(5, 6, nonlinearity="relu")],
                         ids=["lstm", "gru", "gru_reset_before", "rnn_tanh", "rnn_relu"])
def test_inspect_recomputes_the_layers_own_outputs(make):
    """inspect_units.activations rebuilds a layer step by step in NumPy: its h must be the layer's."""
    model = types.SimpleNamespace(rnn=make(), embedding=nn.Embedding(4, 5))
    vocab = types.SimpleNamespace(encode=lambda text: np.array(["abcd".index(c) for c in text]))
    text = "abcadbcadd"
    found = inspect_units.activations(model, vocab, text)
    with tg.no_grad():
        out = model.rnn(model.embedding(tg.Tensor(vocab.encode(text)[:, None])))[0].numpy()[:, 0]
    np.testing.assert_allclose(found["h"], out, atol=1e-5)
