"""Run one op case on our engine or on PyTorch: values and gradients, and golden-file I/O.

A case is ``(arrays, kwargs)`` (see engine_op_table). Both libraries reduce the outputs to
L = Σ u ⊙ y with the same fixed cotangents u and return (outputs, dL/d inputs) as NumPy.
"""
import json

import numpy as np

import tinygrad_rnn as tg


def as_outputs(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def cotangents(output_shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in output_shapes]


def ours(spec, arrays, kwargs, device="cpu", cotangent=None):
    """(outputs, grads) from tinygrad_rnn on ``device``; an unused input's grad is zeros."""
    tensors = [tg.Tensor(a, requires_grad=True, device=device) for a in arrays]
    options = {k: tg.Tensor(v, device=device) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    outputs = as_outputs(spec.fn(*tensors, **options))
    cotangent = cotangent or cotangents([o.shape for o in outputs])
    loss = sum((o * tg.Tensor(u, device=device)).sum() for o, u in zip(outputs, cotangent))
    grads = tg.grad(loss, tensors, allow_unused=True)
    return ([o.numpy() for o in outputs],
            [np.zeros_like(a) if g is None else g.numpy() for a, g in zip(arrays, grads)])


def torch_reference(spec, arrays, kwargs, cotangent=None):
    """(outputs, grads) of ``spec.torch_fn`` in float64 PyTorch."""
    import torch
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    options = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    outputs = as_outputs(spec.torch_fn(*tensors, **options))
    cotangent = cotangent or cotangents([tuple(o.shape) for o in outputs])
    loss = sum((o * torch.from_numpy(u)).sum() for o, u in zip(outputs, cotangent))
    grads = torch.autograd.grad(loss, tensors, allow_unused=True)
    return ([o.detach().numpy() for o in outputs],
            [np.zeros_like(a) if g is None else g.numpy() for a, g in zip(arrays, grads)])


def _tuples(value):
    """JSON lists back to tuples (axes, shapes, index parts)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def save_case(store, name, arrays, kwargs, outputs, grads, cotangent):
    """Add one case to ``store`` (a dict that np.savez writes), keys prefixed by ``name``."""
    plain = {k: v for k, v in kwargs.items() if not isinstance(v, np.ndarray)}
    store[f"{name}__kwargs"] = np.array(json.dumps(plain))
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray):
            store[f"{name}__kw_{key}"] = value
    for prefix, values in (("in", arrays), ("out", outputs), ("u", cotangent), ("grad", grads)):
        for i, value in enumerate(values):
            store[f"{name}__{prefix}{i}"] = np.asarray(value)


def load_case(golden, name):
    """(arrays, kwargs, outputs, grads, cotangent) of ``name`` from a loaded .npz (a mapping)."""
    kwargs = {k: _tuples(v) for k, v in json.loads(str(golden[f"{name}__kwargs"])).items()}
    prefix = f"{name}__kw_"
    kwargs.update({key[len(prefix):]: golden[key] for key in golden if key.startswith(prefix)})

    def numbered(kind):
        values, i = [], 0
        while f"{name}__{kind}{i}" in golden:
            values.append(golden[f"{name}__{kind}{i}"])
            i += 1
        return values
    return numbered("in"), kwargs, numbered("out"), numbered("grad"), numbered("u")
