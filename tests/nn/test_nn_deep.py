"""DeepRNN: layer input sizes and output shapes for every option, equality with nn.LSTM's own
stacking where they coincide, the weighted combination by hand, and float64 gradchecks."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.testing import gradcheck

I, H, L, N, T = 3, 4, 3, 2, 5


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("skip_input", [False, True])
@pytest.mark.parametrize("combine, width", [("last", 1), ("concat", L), ("weighted", 1)])
def test_layer_input_sizes_and_output_shapes(bidirectional, skip_input, combine, width):
    D = 2 if bidirectional else 1
    deep = nn.DeepRNN("gru", I, H, L, skip_input=skip_input, combine=combine, bidirectional=bidirectional,
                      batch_first=True)
    assert [layer.input_size for layer in deep.layers] == [I] + [D * H + I * skip_input] * (L - 1)
    out, states = deep(tg.randn(N, T, I), lengths=[T, 2])
    assert out.shape == (N, T, width * D * H)
    assert [s.shape for s in states] == [(D, N, H)] * L
    assert ("layer_logits" in dict(deep.named_parameters())) == (combine == "weighted")


def test_without_options_it_is_nn_lstms_own_stack():
    deep = nn.DeepRNN("lstm", I, H, L, bidirectional=True, dtype=np.float64)
    stacked = nn.LSTM(I, H, num_layers=L, bidirectional=True, dtype=np.float64)
    stacked.load_state_dict({f"{name}_l{l}{suffix}": getattr(deep.layers[l], f"{name}_l0{suffix}")
                             for l in range(L) for suffix in ("", "_reverse")
                             for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    x = tg.randn(T, N, I, dtype="float64")
    out, states = deep(x)
    expected, (h_n, c_n) = stacked(x)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(np.concatenate([s[0].numpy() for s in states]), h_n.numpy())


def test_skip_input_and_weighted_sum_by_hand():
    deep = nn.DeepRNN("rnn", I, H, 2, skip_input=True, combine="weighted", dtype=np.float64)
    deep.layer_logits.data[...] = [0.5, -1.0]
    x = tg.randn(T, N, I, dtype="float64")
    y1, _ = deep.layers[0](x)
    y2, _ = deep.layers[1](tg.Tensor(np.concatenate([x.numpy(), y1.numpy()], axis=-1)))
    w = np.exp([0.5, -1.0]) / np.exp([0.5, -1.0]).sum()
    np.testing.assert_allclose(deep(x)[0].numpy(), w[0] * y1.numpy() + w[1] * y2.numpy(), rtol=1e-13)


@pytest.mark.parametrize("cell, combine, options", [("lstm", "weighted", {"peephole": True}),
                                                    ("gru", "concat", {"reset_after": False})])
def test_gradients_match_central_differences(cell, combine, options):
    deep = nn.DeepRNN(cell, 2, 2, 2, skip_input=True, combine=combine, impl="reference", dtype=np.float64,
                      **options)
    names = [name for name, _ in deep.named_parameters()]
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    params = [tg.Tensor(p.numpy() + (0.3 * rng.standard_normal(p.shape) if name == "layer_logits" else 0),
                        requires_grad=True) for name, p in deep.named_parameters()]

    def run(x, *tensors):
        for name, tensor in zip(names, tensors):
            module, attribute = deep, name
            while "." in attribute:
                head, attribute = attribute.split(".", 1)
                module = getattr(module, head)
            object.__setattr__(module, attribute, tensor)
        out, states = deep(x, lengths=[3, 2])
        return out, *(s[0] if isinstance(s, tuple) else s for s in states)

    assert gradcheck(run, [x] + params)


def test_bad_options_are_named():
    with pytest.raises(ValueError, match=r"DeepRNN: combine must be one of \('last', 'concat', 'weighted'\), got 'sum'"):
        nn.DeepRNN("lstm", I, H, L, combine="sum")
    with pytest.raises(ValueError, match=r"DeepRNN: cell must be one of \('rnn', 'lstm', 'gru'\), got 'LSTM'"):
        nn.DeepRNN("LSTM", I, H, L)
    with pytest.raises(ValueError, match="DeepRNN: num_layers must be a positive integer, got 0"):
        nn.DeepRNN("gru", I, H, 0)
    with pytest.raises(ValueError, match=r"DeepRNN: hx must hold one initial state per layer \(3\), got 1"):
        nn.DeepRNN("gru", I, H, L)(tg.randn(T, N, I), [tg.zeros(1, N, H)])
