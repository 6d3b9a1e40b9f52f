"""The command line end to end, in-process, with tiny budgets."""
import re
import sys

import numpy as np
import pytest

from tinygrad_rnn.apps import charlm, cli
from tinygrad_rnn.serialization import CheckpointError, load

TEXT = "the cat sat on the mat. the dog sat on the log. " * 40
TINY = ["--hidden", "8", "--layers", "1", "--embedding", "4", "--seq-len", "10", "--batch-size", "2",
        "--steps", "5", "--sample-every", "2", "--sample-length", "12", "--valid-chars", "200"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_train_charlm_writes_checkpoint_plot_and_samples(tmp_path, corpus, capsys, cell):
    out = tmp_path / "run"
    assert cli.main(["train-charlm", "--text", str(corpus), "--cell", cell, "--out", str(out)] + TINY) == 0
    printed = capsys.readouterr().out
    assert re.search(r"held-out bits/char \d+\.\d+", printed)
    assert "--- sample after 2 steps ---" in printed
    assert {p.name for p in out.iterdir()} >= {"charlm.npz", "samples.txt"}
    assert (out / "loss.png").exists() == _has_matplotlib()
    checkpoint = load(out / "charlm.npz")
    assert checkpoint["steps"] == 5 and checkpoint["config"]["cell"] == cell
    assert len(checkpoint["train_bpc"]) == 5 and np.isfinite(checkpoint["valid_bpc"])


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_training_lowers_the_loss_and_checkpoint_round_trips_bit_exactly(tmp_path):
    config = charlm.CharLMConfig(hidden=16, layers=1, embedding=8, seq_len=10, batch_size=4, steps=40,
                                 sample_every=1000, sample_length=5, valid_chars=200, lr=1e-2)
    model, vocab, results = charlm.train(TEXT, config, tmp_path, log=lambda _: None)
    assert results["train_bpc"][-5:].mean() < results["train_bpc"][:5].mean() - 1.0
    loaded, loaded_vocab, checkpoint = charlm.load_checkpoint(tmp_path / "charlm.npz")
    assert loaded_vocab.itos == vocab.itos
    for key, value in model.state_dict().items():
        assert loaded.state_dict()[key].numpy().tobytes() == value.numpy().tobytes(), key
    opt_state = checkpoint["optimizer"]["state"]
    assert len(opt_state) == len(list(model.parameters()))
    assert charlm.sample(loaded, loaded_vocab, "the ", 30, seed=1) == charlm.sample(model, vocab, "the ", 30, seed=1)


def test_sample_command_prints_primed_text(tmp_path, corpus, capsys):
    cli.main(["train-charlm", "--text", str(corpus), "--out", str(tmp_path)] + TINY)
    capsys.readouterr()
    cli.main(["sample", str(tmp_path / "charlm.npz"), "--prime", "the d", "--length", "25", "--temperature", "0.5"])
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith("the d") and len(text) == 30
    cli.main(["sample", str(tmp_path), "--prime", "the d", "--length", "25", "--temperature", "0.5"])
    assert capsys.readouterr().out.rstrip("\n") == text  # the run's folder names its checkpoint


def test_sample_rejects_a_corrupt_checkpoint_and_unknown_prime(tmp_path, corpus, capsys):
    cli.main(["train-charlm", "--text", str(corpus), "--out", str(tmp_path)] + TINY)
    path = tmp_path / "charlm.npz"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sample", str(path), "--prime", "XYZ"])
    assert exit_info.value.code == 2 and "not in the model's vocabulary" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        cli.main(["sample", str(path), "--prime", "XYZ", "--debug"])
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sample", str(path)])
    assert exit_info.value.code == 2 and "truncated or corrupt" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        cli.main(["sample", str(path), "--debug"])


def test_gradflow_command_prints_numbers_and_plots(tmp_path, capsys):
    out = tmp_path / "flow.png"
    cli.main(["gradflow", "--cell", "all", "--seq-len", "8", "--hidden", "4", "--train-steps", "2",
              "--batch-size", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    for row in ("rnn init", "rnn trained", "lstm init", "gru trained"):
        assert row in printed
    assert out.exists() == _has_matplotlib()


def test_graph_command_draws_each_weight_once_with_an_edge_per_step(tmp_path):
    out = tmp_path / "g.dot"
    assert cli.main(["graph", "--cell", "gru", "--seq-len", "4", "--detail", "ops", "--out", str(out)]) == 0
    dot = out.read_text()
    weight_nodes = re.findall(r'(t\d+) \[shape=box, label="cell\.weight_hh', dot)
    assert len(weight_nodes) == 1
    assert len(re.findall(rf"^  {weight_nodes[0]} -> ", dot, flags=re.M)) == 4
    assert all(f'label="h{t}' in dot for t in range(1, 5))


def test_unknown_command_and_bad_flags_exit_with_usage():
    with pytest.raises(SystemExit):
        cli.main(["no-such-command"])
    with pytest.raises(SystemExit):
        cli.main(["train-charlm", "--cell", "transformer"])


def test_without_tqdm_and_matplotlib_it_prints_progress_and_skips_the_plot(tmp_path, corpus, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes the import fail
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    cli.main(["train-charlm", "--text", str(corpus), "--out", str(tmp_path)] + TINY)
    printed = capsys.readouterr().out
    assert "step 5/5 loss=" in printed and "matplotlib is not installed" in printed
    assert not (tmp_path / "loss.png").exists() and (tmp_path / "charlm.npz").exists()


def test_python_dash_m_entry_point_runs():
    import subprocess
    result = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "train-charlm" in result.stdout and "gradflow" in result.stdout


@pytest.mark.skipif(not _has_matplotlib(), reason="needs matplotlib")
def test_graph_steps_view_is_the_default_and_takes_layers_and_directions(tmp_path, capsys):
    out = tmp_path / "graph.png"
    assert cli.main(["graph", "--cell", "lstm", "--layers", "2", "--bidirectional", "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000 and "a box per cell and step" in capsys.readouterr().out


@pytest.mark.skipif(not _has_matplotlib(), reason="needs matplotlib")
def test_score_and_inspect_read_a_trained_model(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    cli.main(["train-charlm", "--text", str(corpus), "--out", str(tmp_path / "run")] + TINY)
    capsys.readouterr()
    text = "the dog sat. on the mat"
    assert cli.main(["score", str(tmp_path / "run"), "--text", text, "--out", str(tmp_path / "s.png")]) == 0
    printed = capsys.readouterr().out
    assert "bits per character, perplexity" in printed and (tmp_path / "s.png").exists()
    assert printed.count("\n") >= len(text)   # a line per scored character
    assert cli.main(["inspect", str(tmp_path / "run"), "--text", text, "--find", "line", "--units", "1",
                     "--out", str(tmp_path / "i.png")]) == 0
    assert "tracks 'line' best is" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        cli.main(["score", str(tmp_path / "run"), "--text", 'a "quoted" word', "--out", str(tmp_path / "q.png")])
    assert refused.value.code == 2 and "not in the model's vocabulary" in capsys.readouterr().err
    assert (tmp_path / "i.png").exists() and (tmp_path / "i-gates.png").exists()


def test_sample_beam_prints_greedy_and_beam_search_with_their_log_probabilities(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    cli.main(["train-charlm", "--text", str(corpus), "--out", str(tmp_path / "run")] + TINY)
    capsys.readouterr()
    assert cli.main(["sample", str(tmp_path / "run"), "--prime", "the ", "--length", "12", "--beam", "3"]) == 0
    printed = capsys.readouterr().out
    assert "--- greedy: log2 p = " in printed and "--- beam search, width 3: log2 p = " in printed
    assert [line.startswith("the ") for line in printed.splitlines()].count(True) == 2
