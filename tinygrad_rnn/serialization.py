"""Checkpoints: nested state (state dicts, optimizer states, configs) in a pickle-free ``.npz``.

Layout of a checkpoint file (a NumPy ``.npz``, i.e. a zip archive of ``.npy`` members):

* ``__tinygrad_rnn__``: the UTF-8 bytes of a JSON header
  ``{"format": "tinygrad_rnn.checkpoint", "version": 1, "tree": ...}``, where ``tree`` mirrors
  the saved object: dicts as ``{"dict": [[key, node], ...]}`` (keys are str or int, order
  kept), ``{"list": [...]}``, ``{"tuple": [...]}``, Python scalars/None/str inline as
  ``{"value": v}``, and arrays as ``{"array": "a3"}`` / ``{"tensor": "a3"}`` /
  ``{"scalar": "a3"}`` (NumPy scalar) naming the member that holds the data;
* ``a0``, ``a1``, ...: one ``.npy`` member per array, read back with ``allow_pickle=False``.

Writes are atomic (a temporary file in the same folder, fsync, ``os.replace``), so a crash
never leaves a half-written checkpoint under the final name. Loading reads and checks every
member (the zip CRC catches flipped bytes) before building anything, so a truncated, corrupt
or wrong-version file raises :class:`CheckpointError` and nothing is half-loaded.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend, safetensors_io
from .tensor import Tensor

FORMAT = "tinygrad_rnn.checkpoint"
FORMAT_VERSION = 1
_HEADER = "__tinygrad_rnn__"


class CheckpointError(ValueError):
    """A file that is not a readable checkpoint of a supported version."""


def save(state, path):
    """Write ``state`` (nested dicts/lists/tuples of Tensors, NumPy arrays and Python scalars)
    to ``path`` atomically. Returns ``path``. A ``.safetensors`` path writes that format instead."""
    if safetensors_io.is_safetensors_path(path):
        return safetensors_io.save(state, path)
    arrays = {}
    tree = _encode(state, arrays, "state")
    header = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "tree": tree}, allow_nan=True)
    members = {_HEADER: np.frombuffer(header.encode("utf-8"), dtype=np.uint8), **arrays}
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **members)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def load(path, device=None):
    """Read a checkpoint written by :func:`save`; Tensors are placed on ``device`` (default cpu).

    Raises :class:`CheckpointError` (naming the file and the reason) for a file that is
    truncated, corrupt, not a checkpoint, or of an unsupported format version. A
    ``.safetensors`` path reads that format instead.
    """
    if safetensors_io.is_safetensors_path(path):
        return safetensors_io.load(path, device)
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _HEADER not in archive.files:
                raise CheckpointError(f"load: {path} is not a tinygrad_rnn checkpoint (no '{_HEADER}' header)")
            header = json.loads(bytes(archive[_HEADER]).decode("utf-8"))
            _check_header(header, path)
            members = {name: archive[name] for name in archive.files if name != _HEADER}
    except (CheckpointError, FileNotFoundError):
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, UnicodeDecodeError) as error:
        raise CheckpointError(f"load: {path} is truncated or corrupt ({type(error).__name__}: {error})") from error
    used = set()
    state = _decode(header["tree"], members, used, device, path)
    if used != set(members):
        raise CheckpointError(f"load: {path} is corrupt: members {sorted(set(members) - used)} are not "
                              "referenced by its header")
    return state


def _check_header(header, path):
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"load: {path} is not a tinygrad_rnn checkpoint (header format "
                              f"{header.get('format') if isinstance(header, dict) else header!r})")
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"load: {path} has checkpoint format version {version!r}; this "
                              f"tinygrad_rnn reads version {FORMAT_VERSION}")
    if "tree" not in header:
        raise CheckpointError(f"load: {path} is corrupt: its header has no 'tree'")


def _encode(value, arrays, where):
    """The JSON node for ``value``; arrays go to ``arrays`` under fresh member names."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: key {key!r} at {where} is a {type(key).__name__}; "
                                "checkpoint keys must be str or int")
        return {"dict": [[key, _encode(item, arrays, f"{where}[{key!r}]")] for key, item in value.items()]}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    if isinstance(value, Tensor):
        return {"tensor": _add_array(value.numpy(), arrays, where)}
    if isinstance(value, np.ndarray):
        return {"array": _add_array(value, arrays, where)}
    if isinstance(value, np.generic):
        return {"scalar": _add_array(np.asarray(value), arrays, where)}
    device = backend.find_device(value)
    if device is not None:  # a CuPy (or strict) array: stored as its host copy
        return {"array": _add_array(device.to_numpy(value), arrays, where)}
    raise TypeError(f"save: cannot store a {type(value).__name__} at {where}; checkpoints hold "
                    "dicts, lists, tuples, Tensors, arrays, numbers, strings and None")


def _add_array(array, arrays, where):
    if array.dtype.hasobject:
        raise TypeError(f"save: the array at {where} has dtype {array.dtype}, which needs pickle")
    name = f"a{len(arrays)}"
    arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
    return name


def _decode(node, members, used, device, path):
    if not isinstance(node, dict) or len(node) != 1:
        raise CheckpointError(f"load: {path} is corrupt: malformed header node {node!r:.80}")
    (kind, content), = node.items()
    if kind == "dict":
        return {key: _decode(item, members, used, device, path) for key, item in content}
    if kind in ("list", "tuple"):
        items = [_decode(item, members, used, device, path) for item in content]
        return items if kind == "list" else tuple(items)
    if kind == "value":
        return content
    if kind in ("tensor", "array", "scalar"):
        if content not in members:
            raise CheckpointError(f"load: {path} is corrupt: its header names a missing member '{content}'")
        used.add(content)
        array = members[content]
        if kind == "tensor":
            return Tensor(array, device=device)
        return array if kind == "array" else array[()]
    raise CheckpointError(f"load: {path} is corrupt: unknown header node kind '{kind}'")
