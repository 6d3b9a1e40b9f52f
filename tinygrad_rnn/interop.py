"""Weights in and out: PyTorch state dicts, and Keras LSTM/GRU weights in our (PyTorch) layout.

Our layers keep PyTorch's parameter names, shapes and gate orders, so moving to PyTorch is a
change of array type. Keras stores the transposed matrices with other gate orders::

    Keras LSTM  kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,)    gates i, f, c, o
    ours        weight_ih (4H, I), weight_hh (4H, H), bias_ih, bias_hh   gates i, f, g, o

    Keras GRU   kernel (I, 3H), recurrent_kernel (H, 3H)                 gates z, r, h
                bias (2, 3H) with reset_after=True: row 0 input bias, row 1 recurrent bias
                bias (3H,) with reset_after=False
    ours        weight_ih (3H, I), weight_hh (3H, H), bias_ih, bias_hh   gates r, z, n

With ``reset_after=True`` (the Keras 2/3 default) Keras computes
h̃ = tanh(x W_h + b_h + r ⊙ (h U_h + b'_h)) and h' = z ⊙ h + (1 - z) ⊙ h̃, which is exactly
PyTorch's GRU with n = h̃. ``reset_after=False`` applies r before the matmul,
h̃ = tanh(x W_h + b_h + (r ⊙ h) U_h), which is our ``nn.GRU(..., reset_after=False)``; its single
bias becomes ``bias_ih`` and ``bias_hh`` is zero, as for Keras LSTMs. Keras must use the default activations (tanh and a
sigmoid ``recurrent_activation``; old Keras 1 models used ``hard_sigmoid``, which differs).
"""
from collections import OrderedDict

import numpy as np

from . import backend
from .tensor import Tensor, as_device_array


def _torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError("PyTorch interop needs torch, which is not installed: pip install torch") from error
    return torch


def to_torch_state_dict(module_or_state):
    """A PyTorch state dict (name -> ``torch.Tensor``, CPU) of a Module or of our state dict.

    ``torch_model.load_state_dict(to_torch_state_dict(model))`` works for our RNN/LSTM/GRU,
    Linear and Embedding, since the names and shapes are PyTorch's.
    """
    torch = _torch()
    state = module_or_state.state_dict() if hasattr(module_or_state, "state_dict") else module_or_state
    cpu, out = backend.get_device("cpu"), OrderedDict()
    for key, value in state.items():
        array = as_device_array(value, cpu, f"to_torch_state_dict: value for '{key}'")  # GPU arrays too
        out[key] = torch.from_numpy(array.copy())
    return out


def from_torch(state_dict, device=None):
    """Our state dict (name -> Tensor on ``device``) from a PyTorch ``state_dict()``; bit-exact."""
    out = OrderedDict()
    for key, value in state_dict.items():
        if not hasattr(value, "detach"):
            raise TypeError(f"from_torch: value for '{key}' is a {type(value).__name__}, not a torch.Tensor")
        out[key] = Tensor(value.detach().cpu().numpy().copy(), device=device)
    return out


def _reorder_gates(matrix, order, hidden_size, name):
    """Split the last axis into gate blocks of ``hidden_size`` and put them in ``order``."""
    matrix = np.asarray(matrix)
    if matrix.shape[-1] != len(order) * hidden_size:
        raise ValueError(f"{name}: expected a last axis of {len(order)}·H = {len(order) * hidden_size}, "
                         f"got shape {matrix.shape}")
    blocks = np.split(matrix, len(order), axis=-1)
    return np.concatenate([blocks[i] for i in order], axis=-1)


def _converted(kernel, recurrent_kernel, bias_ih, bias_hh, order, hidden_size, layer, suffix):
    kernel, recurrent_kernel = np.asarray(kernel), np.asarray(recurrent_kernel)
    if recurrent_kernel.shape != (hidden_size, len(order) * hidden_size) or kernel.ndim != 2:
        raise ValueError(f"{layer}: expected kernel (I, {len(order)}H) and recurrent_kernel (H, {len(order)}H) "
                         f"with H = {hidden_size}; got {kernel.shape} and {recurrent_kernel.shape}")

    def reordered(array, what):
        return _reorder_gates(array, order, hidden_size, f"{layer} {what}")

    return OrderedDict([
        ("weight_ih" + suffix, reordered(kernel, "kernel").T.copy()),
        ("weight_hh" + suffix, reordered(recurrent_kernel, "recurrent_kernel").T.copy()),
        ("bias_ih" + suffix, reordered(bias_ih, "bias")),
        ("bias_hh" + suffix, reordered(bias_hh, "bias")),
    ])


def keras_lstm_to_torch(kernel, recurrent_kernel, bias=None, suffix=""):
    """Keras LSTM weights -> ``{weight_ih, weight_hh, bias_ih, bias_hh}`` (+ ``suffix``, e.g.
    ``"_l0"`` for ``nn.LSTM``; none for ``nn.LSTMCell``) as NumPy arrays. Gates i, f, c, o are
    already PyTorch's i, f, g, o, so only the transposes and the split bias change."""
    hidden_size = np.shape(recurrent_kernel)[0]
    bias = np.zeros(4 * hidden_size, np.asarray(kernel).dtype) if bias is None else np.asarray(bias)
    if bias.shape != (4 * hidden_size,):
        raise ValueError(f"keras LSTM: expected bias of shape ({4 * hidden_size},), got {bias.shape}")
    return _converted(kernel, recurrent_kernel, bias, np.zeros_like(bias), (0, 1, 2, 3), hidden_size,
                      "keras LSTM", suffix)


def keras_gru_to_torch(kernel, recurrent_kernel, bias=None, suffix="", reset_after=True):
    """Keras GRU weights -> our GRU's state (+ ``suffix``); gates z, r, h become r, z, n. The
    bias is (2, 3H) with ``reset_after=True`` and (3H,) with False; load the result into a GRU
    or GRUCell built with the same ``reset_after``."""
    hidden_size = np.shape(recurrent_kernel)[0]
    shape = (2, 3 * hidden_size) if reset_after else (3 * hidden_size,)
    bias = np.zeros(shape, np.asarray(kernel).dtype) if bias is None else np.asarray(bias)
    if bias.shape != shape:
        meaning = "(input bias, recurrent bias)" if reset_after else "(one bias)"
        raise ValueError(f"keras GRU: with reset_after={reset_after} the bias has shape {shape} {meaning}, "
                         f"got {bias.shape}")
    bias_ih, bias_hh = bias if reset_after else (bias, np.zeros_like(bias))
    return _converted(kernel, recurrent_kernel, bias_ih, bias_hh, (1, 0, 2), hidden_size, "keras GRU", suffix)
