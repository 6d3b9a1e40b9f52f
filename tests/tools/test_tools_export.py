"""train-charlm --export FILE.safetensors: the trained weights, the vocabulary and the config
in one file that PyTorch reads."""
import json

import numpy as np
import pytest

from tinygrad_rnn import tensor
from tinygrad_rnn.apps import charlm, cli
from tinygrad_rnn.serialization import load

TINY = ["--hidden", "8", "--layers", "2", "--embedding", "4", "--seq-len", "10", "--batch-size", "2",
        "--steps", "3", "--sample-every", "3", "--sample-length", "5", "--valid-chars", "100"]


def test_export_writes_weights_vocab_and_config(tmp_path, capsys):
    safetensors = pytest.importorskip("safetensors")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 30, encoding="utf-8")
    exported = tmp_path / "charlm.safetensors"
    assert cli.main(["train-charlm", "--text", str(corpus), "--out", str(tmp_path / "run"),
                     "--export", str(exported)] + TINY) == 0
    assert f"exported the weights to {exported}" in capsys.readouterr().out
    model, vocab, _ = charlm.load_checkpoint(tmp_path / "run" / "charlm.npz")
    weights = load(exported)
    assert set(weights) == set(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(weights[name].numpy(), value.numpy())
    with safetensors.safe_open(exported, framework="numpy") as file:
        metadata = file.metadata()
    assert json.loads(metadata["vocab"]) == vocab.itos and json.loads(metadata["config"])["layers"] == 2


def test_export_into_torch_lstm(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the dog sat on the log. " * 30, encoding="utf-8")
    exported = tmp_path / "charlm.safetensors"
    cli.main(["train-charlm", "--text", str(corpus), "--out", str(tmp_path / "run"), "--export", str(exported)] + TINY)
    weights = load_file(exported)
    lstm = torch.nn.LSTM(4, 8, num_layers=2)
    lstm.load_state_dict({k[len("rnn."):]: v for k, v in weights.items() if k.startswith("rnn.")})
    model, _, _ = charlm.load_checkpoint(tmp_path / "run" / "charlm.npz")
    x = np.random.default_rng(0).standard_normal((6, 2, 4)).astype(np.float32)
    with torch.no_grad():
        expected = lstm(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(model.rnn(tensor(x))[0].numpy(), expected, rtol=1e-5, atol=1e-6)  # float32


def test_export_needs_a_safetensors_path(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train-charlm", "--export", "weights.pt"])
    assert "expected a path ending in .safetensors, got 'weights.pt'" in capsys.readouterr().err
