"""Bad input to the recurrent cells and layers: each raises an error that says what was expected."""
import re

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def x_of(*shape, dtype=np.float32, device="cpu"):
    return tg.Tensor(np.zeros(shape, dtype=dtype), device=device)


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5)])
def test_wrong_rank(layer, shape):
    with pytest.raises(ValueError, match=rf"{layer}: expected input of rank 3 .* got rank {len(shape)}"):
        getattr(nn, layer)(5, 4)(x_of(*shape))


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
def test_wrong_feature_size(layer):
    with pytest.raises(ValueError, match=rf"{layer}: expected input_size=5 .* got 3"):
        getattr(nn, layer)(5, 4)(x_of(7, 2, 3))


def test_wrong_feature_size_batch_first_and_unbatched():
    with pytest.raises(ValueError, match="expected input_size=5 .* got 6"):
        nn.GRU(5, 4, batch_first=True)(x_of(2, 7, 6))
    with pytest.raises(ValueError, match="expected input_size=5 .* got 6"):
        nn.GRU(5, 4)(x_of(7, 6))


@pytest.mark.parametrize("shape", [(1, 2, 4), (2, 3, 4), (2, 2, 3), (2, 4)])
def test_h0_of_wrong_shape(shape):
    rnn = nn.RNN(5, 4, bidirectional=True)
    with pytest.raises(ValueError, match=re.escape(f"RNN: expected h0 of shape (2, 2, 4), got {shape}")):
        rnn(x_of(3, 2, 5), x_of(*shape))


def test_lstm_state_errors():
    lstm = nn.LSTM(5, 4, num_layers=2)
    h = x_of(2, 3, 4)
    with pytest.raises(TypeError, match=r"LSTM: the initial state must be a tuple \(h0, c0\)"):
        lstm(x_of(6, 3, 5), h)
    with pytest.raises(ValueError, match=r"LSTM: expected c0 of shape \(2, 3, 4\), got \(2, 3, 5\)"):
        lstm(x_of(6, 3, 5), (h, x_of(2, 3, 5)))
    with pytest.raises(ValueError, match=r"LSTM: expected h0 of shape \(2, 4\), got \(2, 3, 4\)"):
        lstm(x_of(6, 5), (h, h))  # unbatched input takes unbatched states


def test_dtype_differs_from_parameters():
    lstm = nn.LSTM(5, 4)
    with pytest.raises(TypeError, match="LSTM: input has dtype float64 but the parameters have float32"):
        lstm(x_of(3, 2, 5, dtype=np.float64))
    with pytest.raises(TypeError, match="LSTM: h0 has dtype float64"):
        lstm(x_of(3, 2, 5), (x_of(1, 2, 4, dtype=np.float64), x_of(1, 2, 4)))
    with pytest.raises(TypeError, match="LSTMCell: input has dtype float64"):
        nn.LSTMCell(5, 4)(x_of(2, 5, dtype=np.float64))


def test_device_differs_from_parameters():
    gru = nn.GRU(5, 4)
    with pytest.raises(RuntimeError, match="GRU: input is on device 'strict' but the parameters are on 'cpu'"):
        gru(x_of(3, 2, 5, device="strict"))
    with pytest.raises(RuntimeError, match="GRU: h0 is on device 'strict'"):
        gru(x_of(3, 2, 5), x_of(1, 2, 4, device="strict"))
    with pytest.raises(RuntimeError, match="GRUCell: h is on device 'strict'"):
        nn.GRUCell(5, 4)(x_of(2, 5), x_of(2, 4, device="strict"))


@pytest.mark.parametrize("dropout", [-0.1, 1.0, 1.5, "0.2"])
def test_dropout_outside_unit_interval(dropout):
    with pytest.raises(ValueError, match=r"LSTM: dropout must be a probability in \[0, 1\)"):
        nn.LSTM(5, 4, num_layers=2, dropout=dropout)


@pytest.mark.parametrize("make", [lambda h: nn.RNN(3, h), lambda h: nn.GRU(3, h), lambda h: nn.LSTMCell(3, h),
                                  lambda h: nn.RNNCell(3, h)])
@pytest.mark.parametrize("hidden_size", [0, -2, 2.5])
def test_hidden_size_not_positive(make, hidden_size):
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        make(hidden_size)


def test_other_constructor_arguments():
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNNCell: unknown nonlinearity 'gelu'"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="GRU: num_layers must be a positive integer, got 0"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="LSTM: input_size must be a positive integer"):
        nn.LSTM(0, 4)
    with pytest.raises(ValueError, match=r"GRU: impl must be one of \('auto', 'fused', 'reference'\), got 'cuda'"):
        nn.GRU(3, 4, impl="cuda")


@pytest.mark.parametrize("lengths, message", [
    ([3, 0], r"every length must be in \[1, L=4\], got 0"),
    ([5, 2], r"every length must be in \[1, L=4\], got 5"),
    ([3, 2, 1], "got 3 lengths for a batch of N=2 sequences"),
    ([3], "got 1 lengths for a batch of N=2 sequences"),
    ([[3, 2]], "lengths must be a 1-D sequence of integers"),
    ([2.0, 3.0], "lengths must be a 1-D sequence of integers"),
])
def test_bad_lengths(lengths, message):
    with pytest.raises(ValueError, match="LSTM: " + message):
        nn.LSTM(5, 4)(x_of(4, 2, 5), lengths=lengths)


def test_lengths_with_unbatched_input():
    with pytest.raises(ValueError, match="lengths= needs a batched input"):
        nn.RNN(5, 4)(x_of(4, 5), lengths=[4])


def test_cell_input_errors():
    with pytest.raises(ValueError, match=r"RNNCell: expected input of rank 1 \(unbatched\) or 2 .* \(2, 3, 5\)"):
        nn.RNNCell(5, 4)(x_of(2, 3, 5))
    with pytest.raises(ValueError, match="GRUCell: expected input_size=5 features, got 3"):
        nn.GRUCell(5, 4)(x_of(2, 3))
    with pytest.raises(ValueError, match=r"LSTMCell: c has shape \(3, 4\), expected \(2, 4\)"):
        nn.LSTMCell(5, 4)(x_of(2, 5), (x_of(2, 4), x_of(3, 4)))
