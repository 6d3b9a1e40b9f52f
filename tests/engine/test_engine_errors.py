"""Bad input gives clear errors; dtypes follow the documented promotion rules; the stable
functions stay NaN-free at huge logits; the strict backend really refuses NumPy."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn.strict import StrictArray


def test_int_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point.*int64"):
        tg.Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        tg.arange(3).requires_grad_()


def test_item_of_non_scalar_raises():
    assert tg.tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match=r"one-element.*shape \(2,\)"):
        tg.tensor([1.0, 2.0]).item()


def test_device_mismatch_names_the_op_and_both_devices():
    with pytest.raises(RuntimeError, match="mul: tensors are on different devices: cpu and strict"):
        tg.ones(2) * tg.ones(2, device="strict")


def test_function_apply_on_a_non_tensor_says_so():
    from tinygrad_rnn.ops.elementwise import Add
    with pytest.raises(TypeError, match="add: input 1 is a ndarray, not a Tensor"):
        Add.apply(tg.ones(2), np.ones(2))


@pytest.mark.skipif(tg.is_available("cuda"), reason="CuPy is installed here")
def test_cuda_without_cupy_says_what_to_install():
    with pytest.raises(RuntimeError, match=r"CuPy.*pip install .*cupy-cuda13x.*cupy-cuda12x"):
        tg.zeros(2, device="cuda")
    assert not tg.is_available("cuda")


SHAPE_ERRORS = [
    ("add", lambda: tg.ones(3) + tg.ones(4), "(3,)", "(4,)"),
    ("mul", lambda: tg.ones(2, 3) * tg.ones(2, 1, 2), "(2, 3)", "(2, 1, 2)"),
    ("maximum", lambda: tg.ones(3).maximum(tg.ones(2)), "(3,)", "(2,)"),
    ("where", lambda: F.where(tg.ones(3) > 0, tg.ones(2), tg.ones(2)), "(2,)", "(3,)"),
    ("matmul", lambda: tg.ones(2, 3) @ tg.ones(4, 2), "(2, 3)", "(4, 2)"),
    ("cat", lambda: F.cat([tg.ones(2, 3), tg.ones(3, 2)]), "(2, 3)", "(3, 2)"),
    ("stack", lambda: F.stack([tg.ones(2), tg.ones(3)]), "(2,)", "(3,)"),
    ("reshape", lambda: tg.ones(2, 3).reshape(4, 2), "(2, 3)", "(4, 2)"),
    ("expand", lambda: tg.ones(2, 3).expand(3, 3), "(2, 3)", "(3, 3)"),
    ("mse_loss", lambda: F.mse_loss(tg.ones(2, 3), tg.ones(3, 2)), "(2, 3)", "(3, 2)"),
    ("binary_cross_entropy_with_logits", lambda: F.binary_cross_entropy_with_logits(tg.ones(2), tg.ones(3)),
     "(2,)", "(3,)"),
    ("linear", lambda: F.linear(tg.ones(2, 3), tg.ones(4, 5)), "(2, 3)", "(4, 5)"),
]


@pytest.mark.parametrize("op, make, shape_a, shape_b", SHAPE_ERRORS, ids=[e[0] for e in SHAPE_ERRORS])
def test_shape_mismatch_names_the_op_and_both_shapes(op, make, shape_a, shape_b):
    with pytest.raises(ValueError) as error:
        make()
    message = str(error.value)
    assert message.startswith(op) and shape_a in message and shape_b in message, message


def test_target_shape_mismatch_in_losses():
    with pytest.raises(ValueError, match=r"nll_loss: target of shape \(3,\).*\(2,\)"):
        F.cross_entropy(tg.ones(2, 4), tg.Tensor([0, 1, 2]))
    with pytest.raises(IndexError, match=r"nll_loss: target values must be in \[0, 4\)"):
        F.cross_entropy(tg.ones(2, 4), tg.Tensor([0, 4]))


def test_split_refuses_negative_sizes_that_add_up():
    with pytest.raises(ValueError, match=r"split: sizes \[3, -1\] must be non-negative"):
        tg.ones(2).split([3, -1])


def test_embedding_refuses_negative_ids_like_pytorch():
    weight = tg.Tensor(np.arange(6.0).reshape(3, 2))
    with pytest.raises(IndexError, match=r"embedding: index out of range: ids must be in \[0, 3\), "
                                         r"got values from -1 to 1 \(weight of shape \(3, 2\)\)"):
        F.embedding(tg.Tensor([-1, 1]), weight)
    with pytest.raises(ValueError, match=r"embedding: padding_idx 3 is outside \[-3, 3\)"):
        F.embedding(tg.Tensor([0]), weight, padding_idx=3)


def test_embedding_negative_padding_idx_counts_from_the_end():
    weight = tg.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    F.embedding(tg.Tensor([0, 2, 2]), weight, padding_idx=-1).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[1, 1], [0, 0], [0, 0]])


# ----- dtypes (the rules in tinygrad_rnn/dtypes.py) ------------------------------------------
PROMOTIONS = [
    ("float32 * python int keeps float32", lambda: tg.ones(2) * 2, np.float32),
    ("float32 * python float keeps float32 (weak scalar)", lambda: tg.ones(2) * 2.5, np.float32),
    ("float16 + python float keeps float16", lambda: tg.ones(2, dtype=np.float16) + 1.5, np.float16),
    ("int64 * python float gives the default float", lambda: tg.arange(3) * 0.5, np.float32),
    ("int64 * python int stays int64", lambda: tg.arange(3) * 2, np.int64),
    ("int64 + float32: the floating dtype wins", lambda: tg.arange(2) + tg.ones(2), np.float32),
    ("float32 + float64 gives float64", lambda: tg.ones(2) + tg.ones(2, dtype=np.float64), np.float64),
    ("int32 + int64 gives int64", lambda: tg.Tensor(np.ones(2, np.int32)) + tg.arange(2), np.int64),
    ("python floats in lists become float32", lambda: tg.tensor([1.0, 2.0]), np.float32),
    ("numpy arrays keep their dtype", lambda: tg.tensor(np.ones(2)), np.float64),
    ("matmul promotes like the arithmetic ops", lambda: tg.ones(2, 2) @ tg.ones(2, dtype=np.float64), np.float64),
]


@pytest.mark.parametrize("rule, make, expected", PROMOTIONS, ids=[p[0] for p in PROMOTIONS])
def test_dtype_promotion(rule, make, expected):
    assert make().dtype == expected


def test_default_dtype_governs_python_floats():
    previous = tg.get_default_dtype()
    tg.set_default_dtype(np.float64)
    try:
        assert tg.tensor([1.0]).dtype == np.float64 and (tg.arange(2) * 0.5).dtype == np.float64
        assert tg.zeros(2).dtype == np.float64
    finally:
        tg.set_default_dtype(previous)
    with pytest.raises(TypeError, match="floating"):
        tg.set_default_dtype(np.int32)


def test_gradient_has_the_dtype_of_its_input():
    x = tg.ones(2, requires_grad=True)
    y = tg.ones(2, dtype=np.float64, requires_grad=True)
    (x * y).sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64


# ----- numerical stability at |logits| = 1e4 -----------------------------------------------
LOGITS = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
STABLE = {
    "log_softmax": lambda x: F.log_softmax(x, axis=1),
    "softmax": lambda x: F.softmax(x, axis=1),
    "sigmoid": lambda x: x.sigmoid(),
    "softplus": lambda x: x.softplus(),
    "logsumexp": lambda x: x.logsumexp(axis=1),
    "cross_entropy": lambda x: F.cross_entropy(x, tg.Tensor([1, 0, 2], device=x.device), reduction="none"),
    "binary_cross_entropy_with_logits": lambda x: F.binary_cross_entropy_with_logits(
        x, tg.Tensor(np.ones(LOGITS.shape), dtype=x.dtype, device=x.device), reduction="none"),
}
EXPECTED = {
    "log_softmax": [[0.0, -2e4, -1e4], [-np.log(3)] * 3, [-np.log(2), -np.log(2), -2e4 - np.log(2)]],
    "sigmoid": [[1.0, 0.0, 0.5], [0.0] * 3, [1.0, 1.0, 0.0]],
    "softplus": [[1e4, 0.0, np.log(2)], [0.0] * 3, [1e4, 1e4, 0.0]],
    "logsumexp": [1e4, -1e4 + np.log(3), 1e4 + np.log(2)],
    "cross_entropy": [2e4, -1e4 + np.log(3) + 1e4, 2e4 + np.log(2)],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(STABLE))
def test_no_nan_at_huge_logits(name, dtype, device):
    x = tg.Tensor(LOGITS.astype(dtype), requires_grad=True, device=device)
    out = STABLE[name](x)
    out.sum().backward()
    assert np.all(np.isfinite(out.numpy())), f"{name} value: {out.numpy()}"
    assert np.all(np.isfinite(x.grad.numpy())), f"{name} gradient: {x.grad.numpy()}"
    if name in EXPECTED:
        np.testing.assert_allclose(out.numpy(), EXPECTED[name], rtol=1e-6, atol=1e-6)


# ----- the strict backend ------------------------------------------------------------------------
def test_strict_backend_refuses_numpy():
    array = tg.ones(3, device="strict").data
    assert isinstance(array, StrictArray)
    with pytest.raises(TypeError, match="strict backend"):
        np.exp(array)
    with pytest.raises(TypeError, match="strict backend"):
        np.asarray(array)
    with pytest.raises(TypeError, match="strict backend"):
        np.concatenate([array, array])
    with pytest.raises(TypeError, match="strict backend"):
        array + np.ones(3)
    assert isinstance(tg.ones(3, device="strict").exp().data, StrictArray)
