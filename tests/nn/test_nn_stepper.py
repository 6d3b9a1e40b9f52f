"""Stepper (one step at a time, outside the graph) against the layer run on the whole sequence."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import kernels, nn
from tinygrad_rnn.nn.stepper import Stepper

LAYERS = [(nn.LSTM, {}), (nn.LSTM, dict(peephole=True)), (nn.GRU, {}), (nn.RNN, {}),
          (nn.RNN, dict(nonlinearity="relu")), (nn.LSTM, dict(bias=False))]
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.mark.parametrize("layer_class, options", LAYERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_steps_equal_the_layer_on_the_whole_sequence(device, layer_class, options, dtype, impl):
    if impl == "fused" and kernels.find("lstm", device) is None:
        pytest.skip(f"no fused kernels on {device}")
    layer = layer_class(5, 7, num_layers=2, impl=impl, device=device, dtype=dtype, **options)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 5)).astype(dtype)
    state = tuple(tg.Tensor(rng.standard_normal((2, 3, 7)).astype(dtype), device=device)
                  for _ in range(2 if layer.mode == "lstm" else 1))
    state = state if layer.mode == "lstm" else state[0]
    with tg.no_grad():
        out, final = layer(tg.Tensor(x, device=device), state)
    stepper = Stepper(layer, batch=3)
    stepper.reset(state)
    steps = [stepper.step(tg.Tensor(x_t, device=device).data).copy() for x_t in x]
    to_numpy = tg.Tensor(steps[0], device=device).device.to_numpy
    np.testing.assert_allclose(np.stack([to_numpy(s) for s in steps]), out.numpy(), **TOLERANCE[dtype])
    finals = final if layer.mode == "lstm" else (final,)
    mine = stepper.state() if layer.mode == "lstm" else (stepper.state(),)
    for theirs, ours in zip(finals, mine):
        np.testing.assert_allclose(to_numpy(ours), theirs.numpy(), **TOLERANCE[dtype])


def test_reset_without_a_state_starts_from_zero():
    layer = nn.GRU(4, 6)
    x = np.random.default_rng(1).standard_normal((1, 2, 4)).astype(np.float32)
    stepper = Stepper(layer, batch=2)
    first = stepper.step(x[0]).copy()
    stepper.step(x[0])
    stepper.reset()
    np.testing.assert_array_equal(stepper.step(x[0]), first)


def test_bidirectional_layers_are_refused():
    with pytest.raises(ValueError, match="bidirectional"):
        Stepper(nn.LSTM(3, 4, bidirectional=True))
