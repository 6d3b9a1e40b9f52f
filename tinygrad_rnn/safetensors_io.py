"""Weights in the safetensors format, the one the ecosystem reads (PyTorch, Hugging Face, JAX).

``tg.save(model.state_dict(), "model.safetensors")`` and ``tg.load("model.safetensors")`` come
here by the file extension. A safetensors file is a JSON header (names, dtypes, shapes, byte
offsets) followed by the raw little-endian bytes: no code runs on loading, and PyTorch reads it
with ``safetensors.torch.load_file``. It holds a flat ``{name: tensor}`` dict only, so full
checkpoints (optimizer state, configs) stay ``.npz`` files. Written through the ``safetensors``
package's NumPy API, atomically (``tinygrad_rnn.atomic``).
"""
import os
from collections import OrderedDict

import numpy as np
import safetensors
import safetensors.numpy

from . import backend, serialization
from .atomic import write_atomically
from .tensor import Tensor

SUFFIX = ".safetensors"


def is_safetensors_path(path):
    return os.fspath(path).endswith(SUFFIX)


def save(state_dict, path, metadata=None):
    """Write a flat ``{name: Tensor or array}`` dict (a state_dict) to ``path``; ``metadata`` is
    an optional ``{str: str}`` dict stored in the header. Returns ``path``."""
    if not isinstance(state_dict, dict):
        raise TypeError(f"save: a {SUFFIX} file holds a dict of tensors (a state_dict), got "
                        f"{type(state_dict).__name__}; save checkpoints with other content as .npz")
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"save: key {name!r} is a {type(name).__name__}; {SUFFIX} names must be str")
        arrays[name] = np.ascontiguousarray(_host_array(value, name))
    data = safetensors.numpy.save(arrays, metadata=metadata)
    return write_atomically(path, lambda file: file.write(data), suffix=SUFFIX)


def _host_array(value, name):
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, np.ndarray):
        return value
    device = backend.find_device(value)
    if device is None:
        raise TypeError(f"save: the value of '{name}' is a {type(value).__name__}; a {SUFFIX} file holds "
                        "tensors and arrays only (save nested checkpoints as .npz)")
    return device.to_numpy(value)


def load(path, device=None):
    """The ``{name: Tensor}`` dict (in the file's order) stored in ``path``, on ``device``.
    A file that is not a readable safetensors file raises ``CheckpointError``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such file: {path}")
    try:
        with open(path, "rb") as file:
            arrays = safetensors.numpy.load(file.read())
    except (safetensors.SafetensorError, ValueError, TypeError) as error:
        raise serialization.CheckpointError(f"load: {path} is not a readable safetensors file "
                                            f"({type(error).__name__}: {error})") from error
    except KeyError as error:  # the NumPy API knows no type for this dtype (BF16, F8_*)
        raise serialization.CheckpointError(f"load: {path} holds tensors of dtype {error.args[0]}, which NumPy "
                                            "has no type for; convert them (e.g. to float32) before saving") from None
    return OrderedDict((name, Tensor(array, device=device)) for name, array in arrays.items())
