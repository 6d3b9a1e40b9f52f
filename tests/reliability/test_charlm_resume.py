"""Training that loses nothing: checkpoints during training, exact resumption, no silent
overwrite of a run, and an unwritable output folder refused before the first step."""
import os

import numpy as np
import pytest

from tinygrad_rnn.apps import charlm, cli
from tinygrad_rnn.serialization import load

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20
TINY = dict(hidden=8, layers=2, embedding=4, seq_len=5, batch_size=2, sample_every=1000, sample_length=3,
            valid_chars=50, dropout=0.5)  # dropout: the resumed run must also restore the random generator
TINY_ARGS = ["--hidden", "8", "--layers", "1", "--embedding", "4", "--seq-len", "5", "--batch-size", "2",
             "--sample-every", "1000", "--sample-length", "3", "--valid-chars", "50"]
quiet = lambda _: None  # noqa: E731


def parameters(model):
    return {name: value.numpy().copy() for name, value in model.state_dict().items()}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_three_steps_then_resume_three_equals_six_in_one_go(tmp_path, cell):
    # 23 chunks per pass: 6 steps stay within the first pass; the carried state matters at every step
    whole, _, whole_results = charlm.train(TEXT, charlm.CharLMConfig(cell=cell, steps=6, **TINY), log=quiet)
    charlm.train(TEXT, charlm.CharLMConfig(cell=cell, steps=3, **TINY), tmp_path, log=quiet)
    resumed, _, results = charlm.train(TEXT, charlm.CharLMConfig(cell=cell, steps=6, **TINY), tmp_path,
                                       log=quiet, resume=tmp_path)
    expected, got = parameters(whole), parameters(resumed)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    np.testing.assert_array_equal(results["train_bpc"], whole_results["train_bpc"])
    checkpoint = load(tmp_path / "charlm.npz")
    assert checkpoint["steps"] == 6 and checkpoint["finished"] and len(checkpoint["train_bpc"]) == 6
    assert checkpoint["optimizer"]["state"][0]["step"] == 6


def test_resume_wraps_around_the_text_like_an_uninterrupted_run(tmp_path):
    text = TEXT[:200]  # 190 training characters: 3 chunks per pass, so step 4 restarts the streams
    config = dict(TINY, valid_fraction=0.05, valid_chars=10)
    whole = charlm.train(text, charlm.CharLMConfig(steps=5, **config), log=quiet)[0]
    charlm.train(text, charlm.CharLMConfig(steps=2, **config), tmp_path, log=quiet)
    resumed = charlm.train(text, charlm.CharLMConfig(steps=5, **config), tmp_path, log=quiet, resume=tmp_path)[0]
    for name, value in parameters(whole).items():
        np.testing.assert_array_equal(parameters(resumed)[name], value, err_msg=name)


def test_a_checkpoint_is_written_every_checkpoint_every_steps(tmp_path, monkeypatch):
    written = []

    def recording_save(state, path):
        written.append((state["steps"], state["finished"]))
        return save(state, path)

    save = charlm.save
    monkeypatch.setattr(charlm, "save", recording_save)
    charlm.train(TEXT, charlm.CharLMConfig(steps=5, checkpoint_every=2, **TINY), tmp_path, log=quiet)
    assert written == [(2, False), (4, False), (5, True)]


def test_the_cli_resumes_a_run_and_refuses_to_change_its_model(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    run = tmp_path / "run"
    assert cli.main(["train-charlm", "--text", str(corpus), "--out", str(run), "--steps", "3"] + TINY_ARGS) == 0
    before = (run / "charlm.npz").read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train-charlm", "--resume", str(run), "--steps", "5", "--hidden", "16"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert "--hidden 16: the run was trained with 8" in err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train-charlm", "--resume", str(run)])  # steps 3 of 3 done
    assert exit_info.value.code == 2 and "give --steps above 3" in capsys.readouterr().err
    assert (run / "charlm.npz").read_bytes() == before
    assert cli.main(["train-charlm", "--resume", str(run / "charlm.npz"), "--steps", "5"]) == 0
    assert "resuming" in capsys.readouterr().out
    checkpoint = load(run / "charlm.npz")
    assert checkpoint["steps"] == 5 and checkpoint["config"]["hidden"] == 8
    assert checkpoint["config"]["text"] == str(corpus)  # found again without --text


def test_resume_refuses_a_different_text(tmp_path):
    charlm.train(TEXT, charlm.CharLMConfig(steps=2, **TINY), tmp_path, log=quiet)
    with pytest.raises(charlm.CharLMError, match="the text is not the one the run was trained on"):
        charlm.train(TEXT.upper(), charlm.CharLMConfig(steps=4, **TINY), tmp_path, log=quiet, resume=tmp_path)


def test_a_second_run_into_the_same_folder_is_refused_unless_overwrite(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    run = tmp_path / "run"
    command = ["train-charlm", "--text", str(corpus), "--out", str(run), "--steps", "2"] + TINY_ARGS
    assert cli.main(command) == 0
    before = (run / "charlm.npz").read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "step" not in out
    assert f"{run} already holds a run" in err and "--resume" in err and "--overwrite" in err
    assert (run / "charlm.npz").read_bytes() == before
    assert cli.main(command + ["--overwrite", "--seed", "1"]) == 0
    assert (run / "charlm.npz").read_bytes() != before


def test_an_output_path_under_a_regular_file_is_refused_before_training(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train-charlm", "--text", str(corpus), "--out", str(corpus / "run")] + TINY_ARGS)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert f"cannot write the output folder {corpus / 'run'}" in err and "step" not in out


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write into read-only folders")
def test_a_read_only_output_folder_is_refused_before_training(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    with pytest.raises(charlm.CharLMError, match="cannot write the output folder"):
        charlm.train(TEXT, charlm.CharLMConfig(steps=2, **TINY), folder, log=quiet)
