"""Hypothesis strategies for op tests: shapes, broadcastable shapes and well-behaved values.

Finite differences are only meaningful where a function is smooth, so the value strategies
can keep every element a margin away from kinks (relu and abs at 0, a clip bound) and make
elements distinct (max and min reductions at ties).
"""
import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

from ..tensor import Tensor


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes such as (), (3,), (2, 1, 4)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Tuples of ``num_shapes`` shapes that broadcast together (some axes of size 1 or missing)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side).map(lambda s: s.input_shapes)


def axes(ndim, allow_none=True, min_size=1):
    """Axis arguments of a reduction over ``ndim`` axes: None (all), an int, or a tuple of
    distinct axes, negative or not (PyTorch-style ``dim``)."""
    if ndim == 0:
        return st.none() if allow_none else st.just(())
    single = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=max(min_size, 1), max_size=ndim, unique=True).flatmap(
        lambda chosen: st.tuples(*[st.sampled_from([a, a - ndim]) for a in chosen]))
    options = [single, several] + ([st.none()] if allow_none else [])
    return st.one_of(*options)


def float_arrays(shape, low=-3.0, high=3.0, avoid=(), margin=1e-2, unique=False, dtype=np.float64):
    """NumPy arrays of ``shape`` with elements in [low, high], each at least ``margin`` from
    every point in ``avoid``, pairwise at least ``margin`` apart when ``unique``."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False)
    if avoid:
        elements = elements.filter(lambda v: all(abs(v - k) >= margin for k in avoid))
    array = hnp.arrays(dtype, shape, elements=elements, unique=unique)
    if unique:
        array = array.filter(lambda a: a.size < 2 or np.diff(np.sort(a, axis=None)).min() >= margin)
    return array


def tensors(shape, requires_grad=True, device="cpu", **value_options):
    """Tensors of ``shape`` built from ``float_arrays`` (float64 by default)."""
    return float_arrays(shape, **value_options).map(
        lambda a: Tensor(a, requires_grad=requires_grad, device=device))


def apart(a, b, margin=1e-2):
    """Inside a test: reject examples where two arrays have elements closer than ``margin``
    (e.g. ``maximum(a, b)`` at ties)."""
    assume(np.all(np.abs(np.asarray(a) - np.asarray(b)) >= margin))
