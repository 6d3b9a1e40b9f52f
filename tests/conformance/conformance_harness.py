"""Run a conformance case (see conformance_table) with one library and compare two runs.

A run flattens the lambda's result into leaves, each a NumPy array: a tensor gives its values
(with its dtype) and its requires_grad flag; numbers, bools, strings, None and dtypes give
0-d arrays (dtypes by name, so torch.float64 and numpy's float64 agree). The gradients are
those of L = Σ u ⊙ y over the floating leaves that require grad, with fixed cotangents u,
with respect to every floating input (None when L does not depend on it).
"""
import numpy as np

# float64 results agree to rounding (a few ulps through a few dozen ops); float32 ones to float32's
TOLERANCES = {np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12), np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6)}


def as_inputs(lib, inputs):
    """The case's NumPy inputs as the library's tensors (``np_`` names stay NumPy arrays)."""
    def convert(name, value):
        if name.startswith("np_"):
            return value.copy()
        return lib.tensor(value, requires_grad=True) if value.dtype.kind == "f" else lib.tensor(value)
    return {name: convert(name, value) for name, value in inputs.items()}


def _flatten(value, lib, leaves, differentiable):
    if isinstance(value, lib.Tensor):
        array = value.detach().numpy() if lib.__name__ == "torch" else value.numpy()
        leaves += [np.array(array), np.asarray(bool(value.requires_grad))]
        if value.requires_grad:
            differentiable.append(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _flatten(item, lib, leaves, differentiable)
    elif isinstance(value, dict):
        for key in sorted(value):
            leaves.append(np.asarray(str(key)))
            _flatten(value[key], lib, leaves, differentiable)
    elif isinstance(value, np.dtype) or type(value).__name__ == "dtype":  # NumPy's or torch's
        leaves.append(np.asarray(str(value).replace("torch.", "")))
    elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
        leaves.append(np.asarray("None" if value is None else value))
    else:
        raise TypeError(f"conformance: cannot compare a result of type {type(value).__name__}")


def cotangent(shape):
    """A fixed, non-constant cotangent (no RNG: the same in every run)."""
    size = int(np.prod(shape, dtype=np.int64))
    return np.cos(np.arange(size) + 0.5).reshape(shape)


def run(lib, case, inputs):
    """(leaves, grads) of ``case`` run with ``lib``; grads map each floating input's name to
    its gradient, or to None when unused."""
    tensors = as_inputs(lib, inputs)
    leaves, differentiable = [], []
    _flatten(case.fn(lib, *tensors.values()), lib, leaves, differentiable)
    floating = {name: t for name, t in tensors.items() if not name.startswith("np_") and t.requires_grad}
    grads = dict.fromkeys(floating)
    if differentiable and floating:
        loss = sum((y * lib.tensor(cotangent(tuple(y.shape)))).sum() for y in differentiable)
        if lib.__name__ == "torch":
            found = lib.autograd.grad(loss, list(floating.values()), allow_unused=True)
        else:
            found = lib.grad(loss, list(floating.values()), allow_unused=True)
        grads = {name: None if g is None else (g.detach().numpy() if lib.__name__ == "torch" else g.numpy())
                 for name, g in zip(floating, found)}
    return leaves, grads


def assert_same(ours, theirs, case_name):
    """Leaves and gradients equal: same count, shapes and dtypes; values within TOLERANCES."""
    (our_leaves, our_grads), (their_leaves, their_grads) = ours, theirs
    assert len(our_leaves) == len(their_leaves), (
        f"{case_name}: {len(our_leaves)} result leaves here, {len(their_leaves)} in PyTorch")
    pairs = [(f"leaf {i}", a, b) for i, (a, b) in enumerate(zip(our_leaves, their_leaves))]
    assert our_grads.keys() == their_grads.keys()
    for name in our_grads:
        a, b = our_grads[name], their_grads[name]
        assert (a is None) == (b is None), f"{case_name}: gradient of {name}: {a is None=} but PyTorch {b is None=}"
        if a is not None:
            pairs.append((f"gradient of {name}", a, b))
    for what, a, b in pairs:
        assert a.shape == b.shape, f"{case_name}: {what} has shape {a.shape}, PyTorch's {b.shape}"
        assert a.dtype == b.dtype, f"{case_name}: {what} has dtype {a.dtype}, PyTorch's {b.dtype}"
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, **TOLERANCES[a.dtype], err_msg=f"{case_name}: {what}")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{case_name}: {what}")
