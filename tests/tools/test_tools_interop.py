"""PyTorch state dicts both ways; Keras LSTM/GRU weights against hand-built arrays and Keras's formulas."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.interop import from_torch, keras_gru_to_torch, keras_lstm_to_torch, to_torch_state_dict

I, H, N = 3, 4, 2


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def keras_weights(gates, rng, bias_shape):
    return (rng.standard_normal((I, gates * H)), rng.standard_normal((H, gates * H)),
            rng.standard_normal(bias_shape))


def gate_blocks(gates):
    """A kernel whose gate block k holds the constant k + 1: shows where each block lands."""
    return np.repeat(np.arange(1.0, gates + 1), H)[None, :] * np.ones((I, 1))


def test_keras_lstm_gate_blocks_land_in_torch_order():
    converted = keras_lstm_to_torch(gate_blocks(4), np.zeros((H, 4 * H)), np.arange(4.0 * H))
    # i, f, c, o -> i, f, g, o: the same order, transposed
    assert converted["weight_ih"][:, 0].tolist() == np.repeat([1.0, 2, 3, 4], H).tolist()
    assert converted["weight_ih"].shape == (4 * H, I)
    assert converted["bias_ih"].tolist() == list(range(4 * H)) and not converted["bias_hh"].any()


def test_keras_gru_gate_blocks_land_in_torch_order():
    bias = np.stack([np.repeat([10.0, 20, 30], H), np.repeat([40.0, 50, 60], H)])
    converted = keras_gru_to_torch(gate_blocks(3), np.zeros((H, 3 * H)), bias, suffix="_l0")
    # z, r, h -> r, z, n
    assert converted["weight_ih_l0"][:, 0].tolist() == np.repeat([2.0, 1, 3], H).tolist()
    assert converted["bias_ih_l0"].tolist() == np.repeat([20.0, 10, 30], H).tolist()
    assert converted["bias_hh_l0"].tolist() == np.repeat([50.0, 40, 60], H).tolist()


def keras_lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """Keras LSTMCell.call: z = x·K + h·U + b; i, f, c̃, o = split(z); c' = f c + i tanh(c̃)."""
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_new), c_new


def keras_gru_step(x, h, kernel, recurrent_kernel, bias):
    """Keras GRUCell.call with reset_after=True."""
    x_z, x_r, x_h = np.split(x @ kernel + bias[0], 3, axis=-1)
    h_z, h_r, h_h = np.split(h @ recurrent_kernel + bias[1], 3, axis=-1)
    z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
    candidate = np.tanh(x_h + r * h_h)
    return z * h + (1 - z) * candidate


def keras_gru_reset_before_step(x, h, kernel, recurrent_kernel, bias):
    """Keras GRUCell.call with reset_after=False: one bias (3H,), r applied before U_h."""
    x_z, x_r, x_h = np.split(x @ kernel + bias, 3, axis=-1)
    u_z, u_r, u_h = np.split(recurrent_kernel, 3, axis=-1)
    z, r = sigmoid(x_z + h @ u_z), sigmoid(x_r + h @ u_r)
    candidate = np.tanh(x_h + (r * h) @ u_h)
    return z * h + (1 - z) * candidate


def _tensor(array):
    return tg.Tensor(array, dtype=np.float64)


def test_keras_lstm_step_equals_our_cell():
    rng = np.random.default_rng(0)
    weights = keras_weights(4, rng, (4 * H,))
    x, h, c = rng.standard_normal((N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    cell = nn.LSTMCell(I, H, dtype=np.float64)
    cell.load_state_dict(keras_lstm_to_torch(*weights))
    ours_h, ours_c = cell(_tensor(x), (_tensor(h), _tensor(c)))
    keras_h, keras_c = keras_lstm_step(x, h, c, *weights)
    np.testing.assert_allclose(ours_h.numpy(), keras_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours_c.numpy(), keras_c, rtol=1e-12, atol=1e-14)


def test_keras_gru_step_equals_our_cell_and_layer():
    rng = np.random.default_rng(1)
    weights = keras_weights(3, rng, (2, 3 * H))
    xs, h = rng.standard_normal((5, N, I)), rng.standard_normal((N, H))
    cell = nn.GRUCell(I, H, dtype=np.float64)
    cell.load_state_dict(keras_gru_to_torch(*weights))
    np.testing.assert_allclose(cell(_tensor(xs[0]), _tensor(h)).numpy(), keras_gru_step(xs[0], h, *weights),
                               rtol=1e-12, atol=1e-14)
    layer = nn.GRU(I, H, dtype=np.float64)
    layer.load_state_dict(keras_gru_to_torch(*weights, suffix="_l0"))
    out, _ = layer(_tensor(xs), _tensor(h[None]))
    expected = h
    for x in xs:
        expected = keras_gru_step(x, expected, *weights)
    np.testing.assert_allclose(out.numpy()[-1], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_keras_gru_reset_after_false_equals_our_reset_before_cell_and_layer(impl):
    rng = np.random.default_rng(4)
    weights = keras_weights(3, rng, (3 * H,))
    xs, h = rng.standard_normal((5, N, I)), rng.standard_normal((N, H))
    converted = keras_gru_to_torch(*weights, reset_after=False)
    assert converted["bias_ih"].shape == (3 * H,) and not converted["bias_hh"].any()
    cell = nn.GRUCell(I, H, reset_after=False, dtype=np.float64)
    cell.load_state_dict(converted)
    np.testing.assert_allclose(cell(_tensor(xs[0]), _tensor(h)).numpy(),
                               keras_gru_reset_before_step(xs[0], h, *weights), rtol=1e-12, atol=1e-14)
    layer = nn.GRU(I, H, reset_after=False, impl=impl, dtype=np.float64)
    layer.load_state_dict(keras_gru_to_torch(*weights, suffix="_l0", reset_after=False))
    out, _ = layer(_tensor(xs), _tensor(h[None]))
    expected = h
    for t, x in enumerate(xs):
        expected = keras_gru_reset_before_step(x, expected, *weights)
        np.testing.assert_allclose(out.numpy()[t], expected, rtol=1e-12, atol=1e-14)


def test_keras_conversion_errors_name_the_problem():
    rng = np.random.default_rng(2)
    kernel, recurrent, _ = keras_weights(3, rng, (1,))
    with pytest.raises(ValueError, match=r"reset_after=False the bias has shape \(12,\) \(one bias\), got \(2, 12\)"):
        keras_gru_to_torch(kernel, recurrent, np.zeros((2, 3 * H)), reset_after=False)
    with pytest.raises(ValueError, match=r"reset_after=True the bias has shape \(2, 12\)"):
        keras_gru_to_torch(kernel, recurrent, np.zeros(3 * H))
    with pytest.raises(ValueError, match="recurrent_kernel"):
        keras_lstm_to_torch(np.zeros((I, 4 * H)), np.zeros((H, 3 * H)))


def test_torch_round_trip_is_bit_exact_and_computes_the_same():
    torch = pytest.importorskip("torch")
    ours = nn.LSTM(I, H, num_layers=2, bidirectional=True, dtype=np.float64)
    theirs = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True).double()
    theirs.load_state_dict(to_torch_state_dict(ours))
    x = np.random.default_rng(3).standard_normal((6, N, I))
    expected, _ = theirs(torch.from_numpy(x))
    got, _ = ours(_tensor(x))
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)

    back = nn.LSTM(I, H, num_layers=2, bidirectional=True, dtype=np.float64)
    back.load_state_dict(from_torch(theirs.state_dict()))
    for key, value in ours.state_dict().items():
        assert value.numpy().tobytes() == back.state_dict()[key].numpy().tobytes(), key
