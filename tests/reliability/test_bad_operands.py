"""None, strings, bytes and other non-numeric objects never become tensors (issue 18, item 4):
as operands they raise TypeError naming the op and the operand's type (before, ``x * None``
gave NaNs and ``x + "1.5"`` gave 1.5s), and no constructor, factory, state-dict load or
checkpoint makes an object, string, bytes or complex tensor."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn

NON_NUMERIC = [None, "1.5", b"1", object(), {"a": 1}, 1j, np.array(["1", "2"]), [1.0, None]]
BINARY = {"add": lambda t, v: t + v, "radd": lambda t, v: v + t, "sub": lambda t, v: t - v,
          "mul": lambda t, v: t * v, "rmul": lambda t, v: v * t, "div": lambda t, v: t / v,
          "pow": lambda t, v: t ** v, "matmul": lambda t, v: t @ v, "lt": lambda t, v: t < v,
          "maximum": lambda t, v: t.maximum(v)}


@pytest.mark.parametrize("value", NON_NUMERIC, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_non_numeric_operand_raises_type_error_naming_op_and_type(name, value, device):
    op = name[1:] if name in ("radd", "rmul") else name
    with pytest.raises(TypeError, match=rf"^{op}: unsupported operand of type {type(value).__name__} "):
        BINARY[name](tg.ones(2, device=device), value)


def test_equality_with_a_foreign_object_is_false_as_in_torch():
    """== and != fall back to Python's identity comparison (t == None is False, not an error),
    so `t in [None, ...]` keeps working."""
    t = tg.ones(2)
    assert (t == None) is False  # noqa: E711  (the comparison under test)
    assert (t != "1.5") is True
    assert t not in [None, "x"]
    np.testing.assert_array_equal((t == 1.0).numpy(), [True, True])


@pytest.mark.parametrize("data", [None, "1.5", b"ab", ["a", "b"], [1.0, None], 1j, object(),
                                  np.array(["1.5"]), np.array([1.0, None], dtype=object)],
                         ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("dtype", [None, "float32"])
def test_constructor_refuses_non_numeric_data(data, dtype):
    """Even with a numeric dtype requested, where NumPy itself would parse "1.5" or make NaN."""
    with pytest.raises(TypeError, match="tensors hold bool, integer or floating data"):
        tg.tensor(data, dtype=dtype)


@pytest.mark.parametrize("dtype", [object, str, bytes, "complex128", "datetime64[s]"])
def test_constructor_refuses_non_numeric_dtype(dtype):
    with pytest.raises(TypeError, match=r"Tensor: tensors hold bool, integer or floating data, not dtype"):
        tg.tensor([1, 2], dtype=dtype)


def test_integers_beyond_64_bits_overflow_unless_a_float_dtype_is_asked():
    with pytest.raises(OverflowError, match=r"do not fit in int64 or uint64; pass dtype=float64"):
        tg.tensor([2**64])
    with pytest.raises(OverflowError):
        tg.tensor([2**64], dtype="int64")
    assert tg.tensor([2**64], dtype="float64").item() == float(2**64)  # as torch.tensor does
    assert tg.tensor([2**63]).dtype == np.uint64  # still fits: NumPy's choice kept
    with pytest.raises(OverflowError):  # no silent wrap-around to 44
        tg.tensor([300], dtype="uint8")


@pytest.mark.parametrize("value", [None, "1.5", 1j, [1, 2]], ids=lambda v: type(v).__name__)
def test_full_refuses_non_real_fill_values(value):
    with pytest.raises(TypeError, match=rf"full: the fill value must be a real number, got {type(value).__name__}"):
        tg.full((2,), value)


@pytest.mark.parametrize("call", [lambda t: t.clip("0", None), lambda t: t.clip(None, [1.0]),
                                  lambda t: tg.functional.pad(t, (1, 1), value=None)],
                         ids=["clip low", "clip high", "pad value"])
def test_clip_bounds_and_pad_values_must_be_real_numbers(call):
    with pytest.raises(TypeError, match=r"^(clip: (low|high)|pad: the fill value) must be a real number, got"):
        call(tg.ones(2))


def test_numeric_operands_still_work(device):
    t = tg.ones(2, dtype="float64", device=device)
    np.testing.assert_array_equal((t * 2 + np.float64(0.5) - [1.0, 2.0]).numpy(), [1.5, 0.5])
    assert (t * True).dtype == np.float64
    assert tg.full((2,), np.float32(3.0)).numpy().tolist() == [3.0, 3.0]


def test_load_state_dict_refuses_string_arrays_naming_the_key():
    layer = nn.Linear(2, 1)
    state = {"weight": np.array([["1", "2"]]), "bias": np.zeros(1, dtype=np.float32)}
    with pytest.raises(TypeError, match=r"value for 'weight'.*not dtype <U1 \(strings\)"):
        layer.load_state_dict(state)
