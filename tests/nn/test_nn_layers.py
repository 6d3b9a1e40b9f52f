"""Linear, Embedding, Dropout, LayerNorm and the activation modules: values (NumPy formulas),
gradients (finite differences, float64), PyTorch's init and outputs (live torch), bad input."""
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.testing import gradcheck


def _rand(*shape, device="cpu", requires_grad=False, seed=0):
    return tg.Tensor(np.random.default_rng([seed, *shape]).standard_normal(shape), device=device,
                     requires_grad=requires_grad)


# ----- Linear ------------------------------------------------------------------------------
def test_linear_computes_x_wt_plus_b_on_any_leading_shape(device):
    layer = nn.Linear(4, 3, dtype=np.float64, device=device)
    x = _rand(2, 5, 4, device=device)
    expected = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12)
    assert layer(_rand(4, device=device)).shape == (3,)


def test_linear_gradients_match_finite_differences():
    layer = nn.Linear(3, 2, dtype=np.float64)
    assert gradcheck(lambda x, w, b: tg.functional.linear(x, w, b),
                     [_rand(4, 3, requires_grad=True), layer.weight, layer.bias])


def test_linear_init_is_pytorch_uniform_bound():
    layer = nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.95 * bound
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    assert nn.Linear(3, 2, bias=False).bias is None
    assert [k for k, _ in nn.Linear(3, 2, bias=False).named_parameters()] == ["weight"]


def test_linear_matches_torch_forward_and_gradients():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Linear(5, 3, dtype=np.float64), torch.nn.Linear(5, 3).double()
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 5))
    xt = torch.tensor(x, requires_grad=True)
    xo = tg.Tensor(x, requires_grad=True)
    (theirs(xt) ** 2).sum().backward()
    (ours(xo) ** 2).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m(tg.zeros(2, 5)), ValueError, r"expected input with 4 features in the last axis, got shape \(2, 5\)"),
    (lambda m: m(tg.zeros(())), ValueError, "4 features"),
    (lambda m: m(tg.zeros(2, 4, dtype=np.float64)), TypeError, "input has dtype float64 but the parameters have float32"),
    (lambda m: m(tg.zeros(2, 4, device="strict")), RuntimeError, "device 'strict' but the parameters are on 'cpu'"),
    (lambda m: m(np.zeros((2, 4))), TypeError, "expected a Tensor"),
])
def test_linear_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(nn.Linear(4, 3))


@pytest.mark.parametrize("args", [(0.5, 3), (-1, 3), (3, -2), (True, 2)])
def test_linear_bad_sizes(args):
    with pytest.raises(ValueError, match="must be an integer >= 0"):
        nn.Linear(*args)


# ----- Embedding ---------------------------------------------------------------------------
def test_embedding_gathers_rows_and_accumulates_repeated_ids(device):
    layer = nn.Embedding(6, 3, device=device, dtype=np.float64)
    ids = tg.Tensor(np.array([[1, 4, 1], [0, 5, 1]]), device=device)
    out = layer(ids)
    np.testing.assert_array_equal(out.numpy(), layer.weight.numpy()[ids.numpy()])
    out.sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy()[:, 0], [1, 3, 0, 0, 1, 1])
    assert layer([2, 3]).shape == (2, 3)


def test_embedding_init_is_standard_normal():
    values = nn.Embedding(400, 50).weight.numpy()
    assert abs(values.mean()) < 0.02 and values.std() == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize("padding_idx, row", [(2, 2), (-1, 4)])
def test_embedding_padding_row_is_zero_and_gets_no_gradient(padding_idx, row, device):
    layer = nn.Embedding(5, 3, padding_idx=padding_idx, device=device)
    assert layer.padding_idx == row
    np.testing.assert_array_equal(layer.weight.numpy()[row], 0)
    layer.weight.data[row] = 1.0  # even a trained (non-zero) padding row stays frozen
    out = layer(tg.Tensor(np.array([row, 0, row, 1]), device=device))
    (out * 3).sum().backward()
    grad = layer.weight.grad.numpy()
    np.testing.assert_array_equal(grad[row], 0)
    np.testing.assert_array_equal(grad[0], 3)
    np.testing.assert_array_equal(out.numpy()[0], 1.0)


def test_embedding_matches_torch_with_padding():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Embedding(7, 4, padding_idx=3).double()
    ours = nn.Embedding(7, 4, padding_idx=3, dtype=np.float64)
    ours.load_state_dict(theirs.state_dict())
    ids = np.array([[3, 1, 6], [0, 3, 1]])
    (theirs(torch.tensor(ids)) ** 2).sum().backward()
    (ours(tg.Tensor(ids)) ** 2).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


def test_embedding_from_pretrained_copies_and_draws_no_random_numbers():
    table = np.arange(12.0).reshape(4, 3)
    tg.manual_seed(5)
    frozen = nn.Embedding.from_pretrained(table, padding_idx=1)
    after = tg.rand(2).numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(tg.rand(2).numpy(), after)
    table[3] = -1
    np.testing.assert_array_equal(frozen([3, 1]).numpy(), [[9.0, 10.0, 11.0], [3.0, 4.0, 5.0]])
    assert not frozen.weight.requires_grad and frozen.weight.dtype == np.float64
    assert nn.Embedding.from_pretrained(tg.Tensor(table), freeze=False).weight.requires_grad


@pytest.mark.parametrize("ids, error, message", [
    ([0, 5], IndexError, r"ids must be in \[0, 5\), got values from 0 to 5"),
    ([-1, 2], IndexError, "out of range"),
    (np.array([0.0, 1.0]), TypeError, "indices must be integers, got dtype float64"),
    (tg.Tensor(np.array([0, 1]), device="strict"), RuntimeError, "indices are on device 'strict'"),
])
def test_embedding_bad_ids(ids, error, message):
    with pytest.raises(error, match=message):
        nn.Embedding(5, 2)(ids)


@pytest.mark.parametrize("args, message", [((5, 2, 5), "padding_idx 5 must be within"), ((5, 2, -6), "padding_idx"),
                                           ((-5, 2), "num_embeddings"), ((5, 2.5), "embedding_dim")])
def test_embedding_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        nn.Embedding(*args)


# ----- Dropout -----------------------------------------------------------------------------
def test_dropout_scales_kept_units_in_training_and_is_identity_in_eval(device):
    layer = nn.Dropout(0.25)
    x = tg.ones(200, 100, device=device)
    values = layer(x).numpy()
    assert set(np.unique(values)) == {0.0, np.float32(1 / 0.75)}
    assert (values == 0).mean() == pytest.approx(0.25, abs=0.02)
    layer.eval()
    assert layer(x) is x
    assert nn.Dropout(0.0)(x) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5", True])
def test_dropout_probability_outside_unit_interval_raises(p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        nn.Dropout(p)


# ----- LayerNorm ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape, normalized", [((3, 5), 5), ((2, 3, 4), (3, 4))])
def test_layer_norm_normalises_the_last_axes(shape, normalized, device):
    layer = nn.LayerNorm(normalized, eps=1e-3, device=device, dtype=np.float64)
    layer.weight.data = layer.weight.data * 2
    layer.bias.data = layer.bias.data + 0.5
    x = _rand(*shape, device=device)
    axes = tuple(range(len(shape) - (1 if isinstance(normalized, int) else len(normalized)), len(shape)))
    v = x.numpy()
    expected = (v - v.mean(axes, keepdims=True)) / np.sqrt(v.var(axes, keepdims=True) + 1e-3) * 2 + 0.5
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_layer_norm_gradients_match_finite_differences():
    normalise = nn.LayerNorm(4, elementwise_affine=False)
    w, b = _rand(4, requires_grad=True), _rand(4, requires_grad=True, seed=1)
    assert gradcheck(lambda x, w, b: normalise(x) * w + b, [_rand(3, 4, requires_grad=True), w, b])


def test_layer_norm_without_affine_has_no_parameters():
    layer = nn.LayerNorm((2, 3), elementwise_affine=False)
    assert list(layer.parameters()) == []
    assert [k for k, _ in nn.LayerNorm(3, bias=False).named_parameters()] == ["weight"]


def test_layer_norm_matches_torch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.LayerNorm((3, 4)).double()
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    ours = nn.LayerNorm((3, 4), dtype=np.float64)
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    xt, xo = torch.tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    (theirs(xt) ** 3).sum().backward()
    (ours(xo) ** 3).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10)


def _escaped(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("shape", [(2, 5), (4,), (3, 4, 2)])
def test_layer_norm_bad_input_names_expected_and_got(shape):
    with pytest.raises(ValueError, match=rf"last 2 axes are \(3, 4\), got shape {_escaped(shape)}"):
        nn.LayerNorm((3, 4))(tg.zeros(*shape))


@pytest.mark.parametrize("shape", [(), (3, 0)])
def test_layer_norm_bad_normalized_shape(shape):
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(shape)


# ----- activations -------------------------------------------------------------------------
@pytest.mark.parametrize("module, function", [(nn.Tanh, np.tanh), (nn.ReLU, lambda v: np.maximum(v, 0)),
                                              (nn.Sigmoid, lambda v: 1 / (1 + np.exp(-v))), (nn.Identity, lambda v: v)])
def test_activation_modules(module, function, device):
    x = _rand(3, 4, device=device)
    np.testing.assert_allclose(module()(x).numpy(), function(x.numpy()), rtol=1e-12)
    assert repr(module()) == f"{module.__name__}()"


def test_layer_reprs():
    assert repr(nn.Linear(4, 3, bias=False)) == "Linear(in_features=4, out_features=3, bias=False)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.Dropout(0.1)) == "Dropout(p=0.1)"
    assert repr(nn.LayerNorm(8)) == "LayerNorm((8,), eps=1e-05, elementwise_affine=True)"
