"""Checkpoints: bit-exact round trips, atomic writes, and clear errors for bad files."""
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
import tinygrad_rnn.nn  # noqa: F401  (registers tg.nn)
from tinygrad_rnn.serialization import CheckpointError, FORMAT_VERSION, load, save

DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint8])


def _same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=30, deadline=None)
@given(arrays=st.lists(DTYPES.flatmap(lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))),
                       min_size=1, max_size=4))
def test_arrays_round_trip_bit_exactly(tmp_path_factory, arrays):
    path = tmp_path_factory.mktemp("ckpt") / "state.npz"
    state = {f"w{i}": a for i, a in enumerate(arrays)}
    loaded = load(save(state, path))
    assert list(loaded) == list(state)
    for key in state:
        assert _same_bits(loaded[key], state[key]), key


def test_nested_state_keeps_structure_types_and_tensors(tmp_path):
    nan_payload = np.array([np.nan, -0.0, np.inf, 1e-45], dtype=np.float32)
    state = {
        "model": {"weight": tg.Tensor(np.arange(6.0).reshape(2, 3)), "bias": tg.Tensor([1.5, -2.25])},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": nan_payload}}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
        "config": {"cell": "lstm", "hidden": 8, "dropout": None, "bidirectional": False, "betas": (0.9, 0.999)},
        "step": np.int64(7),
    }
    loaded = load(save(state, tmp_path / "full.npz"))
    assert isinstance(loaded["model"]["weight"], tg.Tensor)
    assert _same_bits(loaded["model"]["weight"].numpy(), state["model"]["weight"].numpy())
    assert _same_bits(loaded["optimizer"]["state"][0]["exp_avg"], nan_payload)
    assert list(loaded["optimizer"]["state"]) == [0]  # int keys stay ints
    assert loaded["config"] == state["config"] and isinstance(loaded["config"]["betas"], tuple)
    assert loaded["step"] == 7 and isinstance(loaded["step"], np.int64)


def test_module_state_dict_round_trips_into_a_module(tmp_path):
    class Tiny(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = tg.nn.Parameter(tg.randn(3, 4))

    source, target = Tiny(), Tiny()
    target.load_state_dict(load(save(source.state_dict(), tmp_path / "m.npz")))
    assert _same_bits(target.w.numpy(), source.w.numpy())


def test_object_arrays_and_unknown_types_are_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match="needs pickle"):
        save({"bad": np.array([{}, 1], dtype=object)}, path)
    with pytest.raises(TypeError, match=r"state\['f'\]"):
        save({"f": lambda: 0}, path)
    assert os.listdir(tmp_path) == []


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "c.npz"
    save({"x": np.ones(3)}, path)
    with pytest.raises(TypeError):
        save({"x": np.zeros(3), "y": object()}, path)
    assert _same_bits(load(path)["x"], np.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["c.npz"]  # no temporary file left behind


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "ok.npz"
    save({"w": np.arange(1000, dtype=np.float64), "cfg": {"a": 1}}, path)
    return path


def test_truncated_file_is_rejected(checkpoint):
    data = checkpoint.read_bytes()
    for cut in (len(data) // 3, len(data) - 10):
        checkpoint.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated or corrupt"):
            load(checkpoint)


def test_flipped_byte_in_array_data_is_rejected(checkpoint):
    data = bytearray(checkpoint.read_bytes())
    offset = data.find(np.arange(1000, dtype=np.float64)[500:501].tobytes())
    assert offset > 0
    data[offset] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load(checkpoint)


def _rewrite_header(path, change):
    with np.load(path) as archive:
        members = {name: archive[name] for name in archive.files}
    header = json.loads(bytes(members["__tinygrad_rnn__"]).decode())
    change(header)
    members["__tinygrad_rnn__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **members)


def test_wrong_version_is_rejected(checkpoint):
    _rewrite_header(checkpoint, lambda h: h.update(version=FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match=f"version {FORMAT_VERSION + 1}"):
        load(checkpoint)


def test_header_naming_a_missing_member_is_rejected(checkpoint):
    _rewrite_header(checkpoint, lambda h: h["tree"]["dict"][0][1].update(array="a99"))
    with pytest.raises(CheckpointError, match="missing member 'a99'"):
        load(checkpoint)


def test_plain_npz_and_non_zip_files_are_rejected(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(CheckpointError, match="not a tinygrad_rnn checkpoint"):
        load(tmp_path / "plain.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError):
        load(tmp_path / "text.npz")


def test_pickled_member_is_not_unpickled(tmp_path):
    path = tmp_path / "p.npz"
    save({"w": np.ones(2)}, path)
    with zipfile.ZipFile(path, "a") as archive:
        with archive.open("a1.npy", "w") as member:
            np.lib.format.write_array(member, np.array([{}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError):
        load(path)


def test_tensors_load_onto_the_requested_device(tmp_path):
    loaded = load(save({"w": tg.Tensor([1.0, 2.0])}, tmp_path / "d.npz"), device="strict")
    assert loaded["w"].device.name == "strict"


def test_training_resumes_bit_exactly_from_model_and_optimizer_checkpoint(tmp_path):
    """Save model + Adam state mid-training, restore into fresh objects: the next step is identical."""
    from tinygrad_rnn import optim

    def make():
        tg.manual_seed(1)
        model = tg.nn.Linear(3, 2)
        return model, optim.Adam(model.parameters(), lr=0.1)

    x = tg.Tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))

    def step(model, optimizer):
        optimizer.zero_grad()
        (model(x) ** 2).sum().backward()
        optimizer.step()

    model, optimizer = make()
    for _ in range(3):
        step(model, optimizer)
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "resume.npz")
    restored_model, restored_optimizer = make()
    checkpoint = load(tmp_path / "resume.npz")
    restored_model.load_state_dict(checkpoint["model"])
    restored_optimizer.load_state_dict(checkpoint["optimizer"])
    step(model, optimizer)
    step(restored_model, restored_optimizer)
    for key, value in model.state_dict().items():
        assert restored_model.state_dict()[key].numpy().tobytes() == value.numpy().tobytes(), key
