"""Zero-size and edge shapes behave as in PyTorch (issue 18, item 16): an empty batch runs the
recurrent layers on both paths, an empty sequence is refused with a clear error, softmax and
logsumexp work over an empty axis, ``arange`` refuses a zero step, and a state dict value of
a dtype we cannot hold names its key."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn

LAYERS = {"rnn_tanh": ("RNN", {}), "lstm": ("LSTM", {}), "lstm_peephole": ("LSTM", {"peephole": True}),
          "gru": ("GRU", {})}


def _layer(cell, impl, **options):
    name, kwargs = LAYERS[cell]
    return getattr(nn, name)(3, 2, impl=impl, dtype=np.float64, **kwargs, **options)


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("cell", sorted(LAYERS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_batch_gives_empty_outputs_and_gradients(cell, impl, batch_first):
    layer = _layer(cell, impl, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = tg.zeros(*((0, 4, 3) if batch_first else (4, 0, 3)), dtype="float64", requires_grad=True)
    out, state = layer(x, lengths=[])
    h_n = state[0] if cell.startswith("lstm") else state
    assert out.shape == ((0, 4, 4) if batch_first else (4, 0, 4)) and h_n.shape == (4, 0, 2)
    (out.sum() + h_n.sum()).backward()
    assert x.grad.shape == x.shape
    for key, parameter in layer.named_parameters():
        np.testing.assert_array_equal(parameter.grad.numpy(), np.zeros(parameter.shape), err_msg=key)


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_empty_batch_matches_torch_shapes(cell, impl):
    torch = pytest.importorskip("torch")
    name, _ = LAYERS[cell]
    theirs, _ = getattr(torch.nn, name)(3, 2)(torch.zeros(4, 0, 3))
    ours, _ = _layer(cell, impl)(tg.zeros(4, 0, 3, dtype="float64"))
    assert ours.shape == tuple(theirs.shape)


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("cell", sorted(LAYERS))
@pytest.mark.parametrize("shape", [(0, 2, 3), (0, 3), (0, 0, 3)])
def test_empty_sequence_is_refused_as_in_torch(cell, impl, shape):
    with pytest.raises(ValueError, match=rf"expected a sequence length L > 0 .*got input shape \({shape[0]}, "):
        _layer(cell, impl)(tg.zeros(*shape, dtype="float64"))


def test_empty_sequence_batch_first_names_the_length_axis():
    layer = _layer("gru", "fused", batch_first=True)
    with pytest.raises(ValueError, match=r"L > 0 .*\(2, 0, 3\)"):
        layer(tg.zeros(2, 0, 3, dtype="float64"))
    assert layer(tg.zeros(0, 2, 3, dtype="float64"))[0].shape == (0, 2, 2)  # N=0 is fine


def test_softmax_family_over_an_empty_axis(device):
    x = tg.zeros(2, 0, dtype="float64", device=device, requires_grad=True)
    np.testing.assert_array_equal(x.logsumexp(-1).numpy(), [-np.inf, -np.inf])  # log of an empty sum
    assert x.logsumexp(-1, keepdims=True).shape == (2, 1)
    assert tg.zeros(0, device=device).logsumexp().item() == -np.inf
    assert x.softmax(-1).shape == (2, 0) and x.log_softmax(-1).shape == (2, 0)
    (x.softmax(-1).sum() + x.logsumexp(-1).sum()).backward()
    assert x.grad.shape == (2, 0)
    assert tg.zeros(0, 3, device=device).logsumexp(-1).shape == (0,)  # empty, but not the reduced axis


def test_logsumexp_over_an_empty_axis_matches_torch():
    torch = pytest.importorskip("torch")
    expected = torch.logsumexp(torch.zeros(3, 0, dtype=torch.float64), 1).numpy()
    np.testing.assert_array_equal(tg.zeros(3, 0, dtype="float64").logsumexp(1).numpy(), expected)


@pytest.mark.parametrize("args, message", [((0, 5, 0), "step must be nonzero"), ((0, 5, 0.0), "step must be nonzero"),
                                           ((0, float("nan")), "start, stop and step must be finite"),
                                           ((0, float("inf")), "start, stop and step must be finite")])
def test_arange_refuses_a_zero_step_and_unbounded_ranges(args, message):
    with pytest.raises(ValueError, match=rf"arange: {message}, got arange\("):
        tg.arange(*args)
    assert tg.arange(0, 5, -1).shape == (0,)  # an empty range is not an error


def test_load_state_dict_with_torch_bfloat16_names_the_key():
    torch = pytest.importorskip("torch")
    source = torch.nn.Linear(2, 1).to(torch.bfloat16)
    with pytest.raises(TypeError, match=r"load_state_dict: value for 'weight' has torch dtype torch.bfloat16"):
        nn.Linear(2, 1).load_state_dict(source.state_dict())


@pytest.mark.parametrize("dtype", ["complex64", "U3", "datetime64[s]", [("a", "f4"), ("b", "i4")]])
def test_load_state_dict_with_an_unsupported_numpy_dtype_names_the_key(dtype):
    layer = nn.Linear(2, 1)
    before = layer.weight.numpy().copy()
    state = {"weight": np.zeros((1, 2), dtype=dtype), "bias": np.zeros(1, dtype=np.float32)}
    with pytest.raises(TypeError, match=r"load_state_dict: value for 'weight': tensors hold bool, integer or"):
        layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.weight.numpy(), before)  # nothing half-loaded


def test_optimizer_state_with_an_unsupported_dtype_names_the_entry():
    from tinygrad_rnn import optim

    model = nn.Linear(2, 1)
    optimizer = optim.Adam(model.parameters())
    (model(tg.ones(1, 2)) ** 2).sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    state["state"][0]["exp_avg"] = np.zeros((1, 2), dtype=np.complex64)
    with pytest.raises(TypeError, match=r"Adam.load_state_dict: state\[0\]\['exp_avg'\]: .*complex64"):
        optimizer.load_state_dict(state)


def test_split_of_an_empty_axis_is_one_empty_chunk_as_in_torch(device):
    x = tg.zeros(0, 2, dtype="float64", device=device, requires_grad=True)
    chunks = x.split(2)
    assert [c.shape for c in chunks] == [(0, 2)]
    chunks[0].sum().backward()
    assert x.grad.shape == (0, 2)
    torch = pytest.importorskip("torch")
    assert [tuple(c.shape) for c in torch.zeros(0, 2).split(2)] == [c.shape for c in chunks]
