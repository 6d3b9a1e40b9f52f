"""The GRU's two forms (``reset_after``): PyTorch's (default) and Cho et al.'s / Olah's, with the
reset gate before the recurrent product. Gradchecks and fused-vs-reference for the second form are
in test_recurrent_gradcheck.py and tests/kernels; Keras's weights in tests/tools/test_tools_interop.py."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn

I, H, N = 3, 4, 2


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_the_two_forms_differ_on_the_same_weights():
    rng = np.random.default_rng(0)
    after, before = nn.GRUCell(I, H, dtype=np.float64), nn.GRUCell(I, H, reset_after=False, dtype=np.float64)
    before.load_state_dict(after.state_dict())
    x, h = tg.Tensor(rng.standard_normal((N, I))), tg.Tensor(rng.standard_normal((N, H)))
    difference = np.abs(after(x, h).numpy() - before(x, h).numpy()).max()
    assert difference > 1e-2   # measured 0.078 (seed 0)


def test_reset_before_is_olahs_gru_with_z_flipped():
    """Olah: z_O = σ(W_z·[h, x]), r = σ(W_r·[h, x]), h̃ = tanh(W·[r⊙h, x]), h' = (1 - z_O)⊙h + z_O⊙h̃.
    Our cell with his weights, W_z negated (our z = 1 - z_O), computes the same h'."""
    rng = np.random.default_rng(1)
    w_z, w_r, w = (rng.standard_normal((H, H + I)) for _ in range(3))
    x, h = rng.standard_normal((N, I)), rng.standard_normal((N, H))
    hx = np.concatenate([h, x], axis=1)
    z_olah, r = sigmoid(hx @ w_z.T), sigmoid(hx @ w_r.T)
    candidate = np.tanh(np.concatenate([r * h, x], axis=1) @ w.T)
    expected = (1 - z_olah) * h + z_olah * candidate

    cell = nn.GRUCell(I, H, bias=False, reset_after=False, dtype=np.float64)
    stacked = np.concatenate([w_r, -w_z, w])   # gate order r, z, n; our z = 1 - z_O
    cell.load_state_dict({"weight_ih": stacked[:, H:], "weight_hh": stacked[:, :H]})
    np.testing.assert_allclose(cell(tg.Tensor(x), tg.Tensor(h)).numpy(), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_fused_layer_equals_reference_layer_with_lengths(bidirectional):
    tg.manual_seed(2)
    fused = nn.GRU(I, H, num_layers=2, bidirectional=bidirectional, reset_after=False, impl="fused",
                   dtype=np.float64)
    reference = nn.GRU(I, H, num_layers=2, bidirectional=bidirectional, reset_after=False,
                       impl="reference", dtype=np.float64)
    reference.load_state_dict(fused.state_dict())
    x = np.random.default_rng(3).standard_normal((6, 3, I))
    results = []
    for layer in (fused, reference):
        inputs = tg.Tensor(x, requires_grad=True)
        out, h_n = layer(inputs, lengths=[6, 2, 4])
        (out.sum() + (h_n * h_n).sum()).backward()
        results.append([out.numpy(), h_n.numpy(), inputs.grad.numpy()]
                       + [p.grad.numpy() for p in layer.parameters()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


def test_reset_after_is_checked_and_shown():
    with pytest.raises(ValueError, match=r"GRU: reset_after must be True \(PyTorch's GRU\) or False .*got 'no'"):
        nn.GRU(I, H, reset_after="no")
    with pytest.raises(ValueError, match="GRUCell: reset_after must be True"):
        nn.GRUCell(I, H, reset_after=0)
    assert repr(nn.GRU(I, H, reset_after=False)) == "GRU(3, 4, reset_after=False)"
    assert repr(nn.GRUCell(I, H)) == "GRUCell(3, 4)"
