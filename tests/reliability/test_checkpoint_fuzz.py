"""Every malformed checkpoint raises CheckpointError, never another exception and never a huge
allocation (issue 18, item 14): hypothesis flips bytes of a real checkpoint, truncates it, and
writes arbitrary JSON header trees; hand-made files cover the plain .npy, the forged shape,
the zip bomb and the deep nesting. ``save`` refuses self-referencing and overly deep trees."""
import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.serialization import MAX_DEPTH, MAX_INFLATION, CheckpointError, load, save

STATE = {"w": tg.Tensor(np.arange(6.0).reshape(2, 3)), "cfg": {"lr": 0.1, "name": "x", 3: [True, None]},
         "step": np.int64(7), "mask": np.array([True, False])}
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _same(loaded, original):
    """Bitwise equality of two checkpoint trees (Tensors and arrays by dtype, shape and bytes)."""
    if isinstance(original, tg.Tensor):
        return isinstance(loaded, tg.Tensor) and _same(loaded.numpy(), original.numpy())
    if isinstance(original, (np.ndarray, np.generic)):
        return (type(loaded) is type(original) and loaded.dtype == original.dtype
                and loaded.shape == original.shape and loaded.tobytes() == original.tobytes())
    if isinstance(original, dict):
        return (isinstance(loaded, dict) and list(loaded) == list(original)
                and all(_same(loaded[k], original[k]) for k in original))
    if isinstance(original, (list, tuple)):
        return (type(loaded) is type(original) and len(loaded) == len(original)
                and all(_same(a, b) for a, b in zip(loaded, original)))
    return type(loaded) is type(original) and loaded == original


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "ok.npz"
    save(STATE, path)
    return path.read_bytes()


def _load_or_checkpoint_error(data, tmp_path):
    """The loaded tree, or None when loading raised CheckpointError (anything else fails)."""
    path = tmp_path / "fuzzed.npz"
    path.write_bytes(data)
    try:
        return load(path)
    except CheckpointError:
        return None


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4))
def test_byte_flips_raise_checkpoint_error_or_change_nothing(valid_bytes, tmp_path, flips):
    data = bytearray(valid_bytes)
    for position, mask in flips:
        data[position % len(data)] ^= mask
    loaded = _load_or_checkpoint_error(bytes(data), tmp_path)
    assert loaded is None or _same(loaded, STATE)  # a flip the CRCs cannot see touched no value


@FUZZ
@given(cut=st.integers(0, 10**6))
def test_truncations_raise_checkpoint_error(valid_bytes, tmp_path, cut):
    data = valid_bytes[:cut % len(valid_bytes)]
    assert _load_or_checkpoint_error(data, tmp_path) is None


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.sampled_from(
    ["dict", "list", "tuple", "value", "tensor", "array", "scalar", "a0", "a1", "format", "tree"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["dict", "list", "tuple", "value", "tensor", "array", "scalar", "format", "version", "tree"]),
        inner, max_size=2), max_leaves=12)


def _archive(header_text, members=None):
    """An .npz holding ``header_text`` as the header and ``members`` (name -> array)."""
    buffer = io.BytesIO()
    arrays = {"__tinygrad_rnn__": np.frombuffer(header_text.encode(), dtype=np.uint8)}
    arrays.update(members if members is not None else {"a0": np.ones(2), "a1": np.array(["s"])})
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@FUZZ
@given(tree=JSON, whole=st.booleans())
def test_arbitrary_header_trees_raise_checkpoint_error_or_load(tmp_path, tree, whole):
    header = tree if whole else {"format": "tinygrad_rnn.checkpoint", "version": 1, "tree": tree}
    _load_or_checkpoint_error(_archive(json.dumps(header)), tmp_path)


def _header(tree):
    return json.dumps({"format": "tinygrad_rnn.checkpoint", "version": 1, "tree": tree})


@pytest.mark.parametrize("text, reason", [
    ("[" * 100_000 + "]" * 100_000, "RecursionError"),                 # deeper than json's recursion
    (_header(json.loads('{"list": [' * (MAX_DEPTH + 1) + "]}" * (MAX_DEPTH + 1))),
     f"nested more than {MAX_DEPTH} levels"),                           # deeper than save writes
    ("{not json", "JSONDecodeError"),
    (_header({"dict": [[["unhashable"], {"value": 1}]]}), "a dict node must list"),
    (_header({"dict": 5}), "a dict node must list"),
    (_header({"list": {"a": 1}}), "a list node must hold a list"),
    (_header({"value": {"nested": 1}}), "a value node must hold"),
    (_header({"tensor": ["a0"]}), "missing member"),
    (_header({"tensor": "a1"}), r"not dtype <U1 \(strings\)"),           # a string array as a tensor
    (_header({"list": [{"array": "a0"}, {"tensor": "a0"}, {"array": "a1"}]}), "names member 'a0' twice"),
    (_header({"scalar": "a0"}), r"scalar member 'a0' has shape \(2,\)"),
])
def test_malformed_headers_raise_checkpoint_error(tmp_path, text, reason):
    with pytest.raises(CheckpointError, match=reason):
        load(_write(tmp_path, _archive(text)))


def test_plain_npy_file_raises_checkpoint_error(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, np.ones(3))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load(path)


def _npy_bytes(shape, data_bytes):
    """A .npy member whose header declares ``shape`` (float64) followed by ``data_bytes``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data_bytes


def _zip(members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        archive.writestr("__tinygrad_rnn__.npy", _npy_bytes_of(np.frombuffer(
            _header({"array": "a0"}).encode(), dtype=np.uint8)))
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npy_bytes_of(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("shape", [(2**40,), (2**31, 2**31, 2**31), (3, 4)])
def test_declared_shape_not_matching_the_data_raises_before_allocating(tmp_path, shape):
    data = _zip({"a0.npy": _npy_bytes(shape, np.ones(2).tobytes())})
    with pytest.raises(CheckpointError, match=r"declares shape .* but holds 16 bytes"):
        load(_write(tmp_path, data))


def _write(tmp_path, data):
    path = tmp_path / "made.npz"
    path.write_bytes(data)
    return path


def test_zip_bomb_member_raises_checkpoint_error(tmp_path):
    """A deflated member that expands beyond MAX_INFLATION times its compressed size."""
    size = 8 * MAX_INFLATION * 4096
    data = _zip({"a0.npy": _npy_bytes((size // 8,), bytes(size))}, zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match=rf"limit: {MAX_INFLATION} times"):
        load(_write(tmp_path, data))


def test_member_decompressing_past_its_declared_size_raises_checkpoint_error(tmp_path):
    """The central directory says 16 data bytes; the deflate stream holds 16 + 10**6."""
    small = _npy_bytes((2,), bytes(16))
    data = bytearray(_zip({"a0.npy": _npy_bytes((2,), bytes(16 + 10**6))}, zipfile.ZIP_DEFLATED))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("a0.npy")
    big_size = info.file_size.to_bytes(4, "little")
    for _ in range(2):  # the local header and the central directory both declare the size
        position = data.find(big_size)
        data[position:position + 4] = len(small).to_bytes(4, "little")
    with pytest.raises(CheckpointError):
        load(_write(tmp_path, bytes(data)))


def test_member_with_unbounded_compression_raises_checkpoint_error(tmp_path):
    data = _zip({"a0.npy": _npy_bytes_of(np.ones(2))}, zipfile.ZIP_BZIP2)
    with pytest.raises(CheckpointError, match="compression method 12"):
        load(_write(tmp_path, data))


def test_hand_made_archive_in_the_same_layout_loads(tmp_path):
    """The hand-made archives above differ from valid ones only where each test says."""
    data = _zip({"a0.npy": _npy_bytes_of(np.ones(2))}, zipfile.ZIP_DEFLATED)
    np.testing.assert_array_equal(load(_write(tmp_path, data)), np.ones(2))


def test_save_refuses_a_self_referencing_state(tmp_path):
    state = {"a": [1, 2]}
    state["a"].append(state)
    with pytest.raises(ValueError, match=r"save: state\['a'\]\[2\] is the dict that contains it"):
        save(state, tmp_path / "cycle.npz")
    shared = [1]
    assert _same(load(save({"x": shared, "y": shared}, tmp_path / "shared.npz")), {"x": [1], "y": [1]})


def test_nesting_depth_is_the_same_limit_for_save_and_load(tmp_path):
    deepest = 0
    for _ in range(MAX_DEPTH):
        deepest = [deepest]
    assert _same(load(save(deepest, tmp_path / "deep.npz")), deepest)
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} levels"):
        save([deepest], tmp_path / "deeper.npz")
