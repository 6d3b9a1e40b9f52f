"""tg.save/tg.load with a .safetensors path: round trips here, refusals, and the hand-over to
and from PyTorch (torch.nn.LSTM through safetensors.torch)."""
import os
import pathlib
import re

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def test_round_trip_keeps_names_values_and_dtypes(tmp_path):
    model = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    state = dict(model.state_dict(), counts=np.arange(3, dtype=np.int32), table=tg.randn(2, 2, dtype="float64"))
    path = tmp_path / "model.safetensors"
    assert tg.save(state, path) == os.fspath(path)
    loaded = tg.load(path, device="strict")
    assert set(loaded) == set(state)
    for name, value in state.items():
        expected = value.numpy() if isinstance(value, tg.Tensor) else value
        assert loaded[name].device.name == "strict" and loaded[name].dtype == expected.dtype
        np.testing.assert_array_equal(loaded[name].numpy(), expected)
    assert os.listdir(tmp_path) == ["model.safetensors"], "no temporary file is left behind"
    assert tg.serialization.load(tmp_path / "model.safetensors")  # the same dispatch from the module


def test_the_format_is_safetensors(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    tg.save({"w": tg.ones(2, 3)}, tmp_path / "w.safetensors")
    np.testing.assert_array_equal(safetensors_numpy.load_file(tmp_path / "w.safetensors")["w"], np.ones((2, 3)))


@pytest.mark.parametrize("state, message", [
    ({"model": {"w": tg.ones(1)}}, "the value of 'model' is a dict; a .safetensors file holds tensors and arrays only"),
    ({1: tg.ones(1)}, "key 1 is a int; .safetensors names must be str"),
    ([tg.ones(1)], "a .safetensors file holds a dict of tensors"),
])
def test_refuses_what_the_format_cannot_hold(tmp_path, state, message):
    with pytest.raises(TypeError, match=message):
        tg.save(state, tmp_path / "bad.safetensors")
    assert not os.listdir(tmp_path)


def test_corrupt_or_missing_files(tmp_path):
    path = tmp_path / "broken.safetensors"
    tg.save({"w": tg.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(tg.CheckpointError, match="is not a readable safetensors file"):
        tg.load(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        tg.load(tmp_path / "absent.safetensors")


def test_a_dtype_numpy_lacks_is_named(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2, dtype=torch.bfloat16)}, tmp_path / "half.safetensors")
    with pytest.raises(tg.CheckpointError, match="holds tensors of dtype BF16, which NumPy has no type for"):
        tg.load(tmp_path / "half.safetensors")


def test_trained_here_continues_in_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    model = nn.LSTM(3, 5, num_layers=2, batch_first=True)
    opt = tg.optim.Adam(model.parameters(), lr=0.05)
    x = tg.randn(4, 6, 3)
    for _ in range(3):
        opt.zero_grad()
        (model(x)[0] ** 2).mean().backward()
        opt.step()
    tg.save(model.state_dict(), tmp_path / "lstm.safetensors")
    theirs = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    theirs.load_state_dict(load_file(tmp_path / "lstm.safetensors"))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x.numpy()))[0].numpy()
    np.testing.assert_allclose(model(x)[0].numpy(), expected, rtol=1e-5, atol=1e-6)  # float32 throughout


def test_pytorch_weights_load_here(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    theirs = torch.nn.GRU(3, 4, bidirectional=True).double()
    save_file(theirs.state_dict(), tmp_path / "gru.safetensors")
    model = nn.GRU(3, 4, bidirectional=True, dtype=np.float64)
    model.load_state_dict(tg.load(tmp_path / "gru.safetensors"))
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(model(tg.tensor(x))[0].numpy(), expected, rtol=1e-10, atol=1e-12)


def test_readme_hand_over_runs(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    import safetensors.torch
    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    hand_over = re.search(r"```python\n(tg\.save\(lstm\.state_dict\(\).*?)```", readme, re.S).group(1)
    assert len(hand_over.strip().splitlines()) == 3
    lstm = nn.LSTM(8, 16, num_layers=2, bidirectional=True)
    monkeypatch.chdir(tmp_path)
    namespace = {"tg": tg, "torch": torch, "safetensors": safetensors, "lstm": lstm}
    exec(compile(hand_over, "README hand-over", "exec"), namespace)
    for name, value in namespace["torch_lstm"].state_dict().items():
        np.testing.assert_array_equal(value.numpy(), lstm.state_dict()[name].numpy())
