"""Checkpoints: nested state (state dicts, optimizer states, configs) in a pickle-free ``.npz``.

Layout of a checkpoint file (a NumPy ``.npz``, i.e. a zip archive of ``.npy`` members):

* ``__tinygrad_rnn__``: the UTF-8 bytes of a JSON header
  ``{"format": "tinygrad_rnn.checkpoint", "version": 1, "tree": ...}``, where ``tree`` mirrors
  the saved object: dicts as ``{"dict": [[key, node], ...]}`` (keys are str or int, order
  kept), ``{"list": [...]}``, ``{"tuple": [...]}``, Python scalars/None/str inline as
  ``{"value": v}``, and arrays as ``{"array": "a3"}`` / ``{"tensor": "a3"}`` /
  ``{"scalar": "a3"}`` (NumPy scalar) naming the member that holds the data;
* ``a0``, ``a1``, ...: one ``.npy`` member per array, read back without pickle (object
  dtypes are refused).

Writes are atomic (``tinygrad_rnn.atomic``), with the user's umask. Loading reads and
checks every member (the zip CRC catches flipped bytes) before building anything, so a
truncated, corrupt, hostile or wrong-version file raises ``CheckpointError`` and nothing
is half-loaded. A hostile file cannot make loading allocate more than the file could hold:
each ``.npy`` member's declared shape must account for its size exactly, and a compressed
member may not declare more than ``MAX_INFLATION`` times its compressed size (the
zip-bomb limit). Trees nest at most ``MAX_DEPTH`` containers, on saving and on loading.
"""
import json
import math
import os
import struct
import zipfile
import zlib

import numpy as np

from . import backend, safetensors_io
from .atomic import write_atomically
from .dtypes import check_tensor_dtype
from .tensor import Tensor

FORMAT = "tinygrad_rnn.checkpoint"
FORMAT_VERSION = 1
_HEADER = "__tinygrad_rnn__"
MAX_DEPTH = 100       # containers nested in a saved tree: far above any state dict, far below the stack limit
MAX_INFLATION = 200   # decompressed / compressed size of one member; tg.save itself never compresses
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, struct.error, ValueError, OSError, EOFError, KeyError,
                UnicodeDecodeError, NotImplementedError, RuntimeError, OverflowError, RecursionError)


class CheckpointError(ValueError):
    """A file that is not a readable checkpoint of a supported version."""


def save(state, path):
    """Write ``state`` (nested dicts/lists/tuples of Tensors, NumPy arrays and Python scalars)
    to ``path`` atomically. Returns ``path``. A ``.safetensors`` path writes that format instead."""
    if safetensors_io.is_safetensors_path(path):
        return safetensors_io.save(state, path)
    arrays = {}
    tree = _encode(state, arrays, "state", ())
    header = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "tree": tree}, allow_nan=True)
    members = {_HEADER: np.frombuffer(header.encode("utf-8"), dtype=np.uint8), **arrays}
    return write_atomically(path, lambda file: np.savez(file, **members))


def load(path, device=None):
    """Read a checkpoint written by ``save``; Tensors are placed on ``device`` (default cpu).

    Raises ``CheckpointError`` (naming the file and the reason) for a file that is
    truncated, corrupt, hostile, not a checkpoint, or of an unsupported format version. A
    ``.safetensors`` path reads that format instead.
    """
    if safetensors_io.is_safetensors_path(path):
        return safetensors_io.load(path, device)
    path = os.fspath(path)
    with open(path, "rb") as file:  # a missing or unreadable file is an OSError, not a bad checkpoint
        try:
            members = _read_members(file, path)
            if _HEADER not in members:
                raise CheckpointError(f"load: {path} is not a tinygrad_rnn checkpoint (no '{_HEADER}' header)")
            header = json.loads(members.pop(_HEADER).tobytes().decode("utf-8"))
        except CheckpointError:
            raise
        except _READ_ERRORS as error:
            raise CheckpointError(f"load: {path} is truncated or corrupt ({type(error).__name__}: "
                                  f"{str(error)[:200]})") from error
    _check_header(header, path)
    used = set()
    state = _decode(header["tree"], members, used, device, path, depth=0)
    if used != set(members):
        raise CheckpointError(f"load: {path} is corrupt: members {sorted(set(members) - used)} are not "
                              "referenced by its header")
    return state


def _read_members(file, path):
    """Every ``.npy`` member of the zip archive in ``file`` as an array, by name without
    ".npy", each checked before anything is allocated for it."""
    members = {}
    with zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            name = info.filename[:-len(".npy")]
            if not info.filename.endswith(".npy") or name in members:
                raise CheckpointError(f"load: {path} is not a tinygrad_rnn checkpoint (unexpected or repeated "
                                      f"member {info.filename!r:.80})")
            _check_member_size(info, path)
            with archive.open(info) as member:
                members[name] = _read_npy(member, info, path)
    return members


def _check_member_size(info, path):
    """Refuse unknown compressions (bz2 and lzma decompress without a size bound) and members
    that claim more bytes than their compressed data can plausibly hold."""
    if info.compress_type == zipfile.ZIP_STORED:
        plausible = info.file_size == info.compress_size
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        plausible = info.file_size <= MAX_INFLATION * max(info.compress_size, 1)
    else:
        raise CheckpointError(f"load: {path}: member {info.filename!r} uses compression method "
                              f"{info.compress_type}; checkpoints are stored or deflated")
    if not plausible:
        raise CheckpointError(f"load: {path} is corrupt or hostile: member {info.filename!r} declares "
                              f"{info.file_size} bytes from {info.compress_size} compressed bytes "
                              f"(limit: {MAX_INFLATION} times)")


def _read_npy(member, info, path):
    """One ``.npy`` member, after checking that its header's shape and dtype account for the
    member's declared size exactly, so a forged shape can never allocate more than that."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise CheckpointError(f"load: {path}: member {info.filename!r} has .npy version {version}; "
                              "checkpoints use 1.0 or 2.0")
    if dtype.hasobject:
        raise CheckpointError(f"load: {path}: member {info.filename!r} holds Python objects (dtype {dtype}), "
                              "which would need pickle; refused")
    size = math.prod(shape) * dtype.itemsize
    if size != info.file_size - member.tell():
        raise CheckpointError(f"load: {path} is corrupt: member {info.filename!r} declares shape {shape} of "
                              f"{dtype} ({size} bytes) but holds {info.file_size - member.tell()} bytes of data")
    data = bytearray(size)  # writable, as np.load's arrays are
    view, filled = memoryview(data), 0
    while filled < size:
        count = member.readinto(view[filled:])
        if not count:
            raise EOFError(f"member {info.filename!r} ends after {filled} of {size} bytes")
        filled += count
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def _check_header(header, path):
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else header
        raise CheckpointError(f"load: {path} is not a tinygrad_rnn checkpoint (header format {found!r:.80})")
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"load: {path} has checkpoint format version {version!r:.80}; this "
                              f"tinygrad_rnn reads version {FORMAT_VERSION}")
    if "tree" not in header:
        raise CheckpointError(f"load: {path} is corrupt: its header has no 'tree'")


def _encode(value, arrays, where, containers):
    """The JSON node for ``value``; arrays go to ``arrays`` under fresh member names.
    ``containers`` are the ids of the dicts, lists and tuples enclosing ``value``: a
    container inside itself would recurse forever."""
    if isinstance(value, (dict, list, tuple)):
        if id(value) in containers:
            raise ValueError(f"save: {where} is the {type(value).__name__} that contains it (a reference "
                             "cycle); checkpoints hold trees")
        if len(containers) >= MAX_DEPTH:
            raise ValueError(f"save: {where} is nested more than {MAX_DEPTH} levels deep")
        containers += (id(value),)
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: key {key!r} at {where} is a {type(key).__name__}; "
                                "checkpoint keys must be str or int")
        return {"dict": [[key, _encode(item, arrays, f"{where}[{key!r}]", containers)]
                         for key, item in value.items()]}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, arrays, f"{where}[{i}]", containers) for i, item in enumerate(value)]}
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


def _decode(node, members, used, device, path, depth):
    """The value for a header node, every part of it checked: a header that ``save``
    could not have written raises CheckpointError, never TypeError or RecursionError."""
    def corrupt(reason):
        return CheckpointError(f"load: {path} is corrupt: {reason}")

    if not isinstance(node, dict) or len(node) != 1:
        raise corrupt(f"malformed header node {node!r:.80}")
    (kind, content), = node.items()
    if kind in ("dict", "list", "tuple") and depth >= MAX_DEPTH:
        raise corrupt(f"its tree is nested more than {MAX_DEPTH} levels deep")
    if kind == "dict":
        if not isinstance(content, list) or not all(
                isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))
                and not isinstance(pair[0], bool) for pair in content):
            raise corrupt(f"a dict node must list [key, node] pairs with str or int keys, got {content!r:.80}")
        return {key: _decode(item, members, used, device, path, depth + 1) for key, item in content}
    if kind in ("list", "tuple"):
        if not isinstance(content, list):
            raise corrupt(f"a {kind} node must hold a list, got {content!r:.80}")
        items = [_decode(item, members, used, device, path, depth + 1) for item in content]
        return items if kind == "list" else tuple(items)
    if kind == "value":
        if content is not None and not isinstance(content, (bool, int, float, str)):
            raise corrupt(f"a value node must hold a number, a string or null, got {content!r:.80}")
        return content
    if kind in ("tensor", "array", "scalar"):
        if not isinstance(content, str) or content not in members:
            raise corrupt(f"its header names a missing member {content!r:.80}")
        if content in used:
            raise corrupt(f"its header names member '{content}' twice (the two values would share memory)")
        used.add(content)
        array = members[content]
        if kind == "tensor":
            try:
                check_tensor_dtype(array.dtype, f"member '{content}'")
            except TypeError as error:
                raise corrupt(str(error)) from None
            return Tensor(array, device=device)
        if kind == "scalar" and array.ndim != 0:
            raise corrupt(f"scalar member '{content}' has shape {array.shape}")
        return array if kind == "array" else array[()]
    raise corrupt(f"unknown header node kind {kind!r:.80}")
