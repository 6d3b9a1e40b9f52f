"""A boolean mask must have the shape of the axes it indexes: NumPy and PyTorch raise
IndexError otherwise, and so do we (issue 18, item 3; before, a 3-long mask on 5 rows
silently returned rows 0 and 2). An empty index list selects nothing, as in NumPy."""
import numpy as np
import pytest

import tinygrad_rnn as tg

WRONG = [
    (np.array([True, False, True]),),                    # too short for axis 0
    (np.ones(6, dtype=bool),),                           # too long for axis 0
    (slice(None), np.array([True])),                     # axis 1 has 2
    (Ellipsis, np.array([True, False, True])),           # the last axis, after an ellipsis
    (np.ones((5, 3), dtype=bool),),                      # a 2-d mask, second axis wrong
    (None, np.ones(4, dtype=bool)),                      # None adds an axis, the mask is on axis 0
]
RIGHT = [
    (np.array([True, False, True, True, False]),),
    (slice(None), np.array([False, True])),
    (Ellipsis, np.array([True, False])),
    (np.eye(5, 2, dtype=bool),),
    (None, np.array([True, False, True, True, False])),
    (np.array([True, False, True, True, False]), 1),
]


def _on(device, index):
    """The index with its NumPy masks as tensors on ``device`` (the strict device refuses NumPy)."""
    return tuple(tg.Tensor(p, device=device) if isinstance(p, np.ndarray) else p for p in index)


@pytest.mark.parametrize("index", WRONG)
def test_mask_of_wrong_shape_raises_index_error(index, device):
    t = tg.arange(10, dtype="float64", device=device).reshape(5, 2)
    with pytest.raises(IndexError, match="boolean mask at position"):
        t[_on(device, index)]
    with pytest.raises(IndexError):  # the reference agrees that these are errors
        np.arange(10.0).reshape(5, 2)[index]


@pytest.mark.parametrize("index", RIGHT)
def test_mask_of_right_shape_selects_and_scatters_back(index, device):
    data = np.arange(10.0).reshape(5, 2)
    t = tg.Tensor(data, device=device, requires_grad=True)
    picked = t[_on(device, index)]
    np.testing.assert_array_equal(picked.numpy(), data[index])
    picked.sum().backward()
    expected = np.zeros_like(data)
    expected[index] = 1.0
    np.testing.assert_array_equal(t.grad.numpy(), expected)


def test_mask_as_list_and_tensor_checked_too():
    t = tg.arange(5)
    with pytest.raises(IndexError, match=r"shape \(3,\) but indexes axes of sizes \(5,\)"):
        t[[True, False, True]]
    with pytest.raises(IndexError, match="boolean mask"):
        t[tg.tensor([True, False])]


def test_wrong_mask_is_an_index_error_in_torch_too():
    torch = pytest.importorskip("torch")
    with pytest.raises(IndexError):
        torch.arange(5)[torch.tensor([True, False, True])]


def test_empty_index_list_selects_nothing(device):
    t = tg.arange(6, dtype="float64", device=device).reshape(3, 2).requires_grad_()
    assert t[[]].shape == (0, 2) and t[:, []].shape == (3, 0)
    t[[]].sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.zeros((3, 2)))
