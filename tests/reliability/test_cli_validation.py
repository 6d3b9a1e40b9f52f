"""Every numeric option is checked when the command line is parsed: a value out of range ends the
command with one line naming the option, the value and the allowed range, and exit code 2."""
import math

import numpy as np
import pytest

from tinygrad_rnn.apps import charlm, cli
from tinygrad_rnn.word2vec import Word2Vec

BAD_OPTIONS = [
    ("train-charlm", "--clip", "-1", "> 0"),
    ("train-charlm", "--clip", "0", "> 0"),
    ("train-charlm", "--valid-chars", "0", ">= 1"),
    ("train-charlm", "--time-budget", "nan", "> 0"),
    ("train-charlm", "--time-budget", "inf", "> 0"),
    ("train-charlm", "--seq-len", "-1", ">= 1"),
    ("train-charlm", "--seq-len", "1.5", "an integer >= 1"),
    ("train-charlm", "--batch-size", "0", ">= 1"),
    ("train-charlm", "--steps", "0", ">= 1"),
    ("train-charlm", "--lr", "-0.1", "> 0"),
    ("train-charlm", "--dropout", "1", "[0, 1)"),
    ("train-charlm", "--sample-temperature", "0", "> 0"),
    ("train-charlm", "--checkpoint-every", "0", ">= 1"),
    ("train-charlm", "--hidden", "abc", "an integer >= 1"),
    ("train-charlm", "--seed", "-3", ">= 0"),
    ("sample", "--temperature", "0", "> 0"),
    ("sample", "--temperature", "nan", "> 0"),
    ("sample", "--length", "-5", ">= 0"),
    ("gradflow", "--seq-len", "0", ">= 1"),
    ("gradflow", "--hidden", "-2", ">= 1"),
    ("gradflow", "--forget-bias", "nan", "a finite number"),
    ("gradflow", "--train-steps", "-1", ">= 0"),
    ("gradflow", "--batch-size", "0", ">= 1"),
    ("graph", "--seq-len", "0", ">= 1"),
]


def run_cli(argv, capsys):
    """(exit code, stdout, stderr) of the CLI run in-process."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


# Quick settings given before the bad option (the last value of an option wins): were the bad value
# accepted, the command would fail or finish fast instead of training for minutes.
QUICK = {"train-charlm": ["--text", "missing.txt", "--steps", "1", "--seq-len", "5", "--hidden", "2"],
         "sample": ["missing.npz"],
         "gradflow": ["--cell", "rnn", "--seq-len", "3", "--hidden", "2", "--train-steps", "0", "--batch-size", "1"],
         "graph": ["--out", "unused.dot"]}


@pytest.mark.parametrize("command, option, value, allowed", BAD_OPTIONS)
def test_an_option_out_of_range_exits_2_with_one_line_naming_it(tmp_path, monkeypatch, capsys, command, option,
                                                               value, allowed):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli([command, *QUICK[command], option, value], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"tinygrad-rnn {command}: error: argument {option}: must be ")
    assert allowed in err and repr(value) in err


def test_help_shows_every_default_and_no_rest_markup(capsys):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0 and "``" not in out
    for command in ("train-charlm", "sample", "score", "inspect", "gradflow", "graph"):
        code, out, _ = run_cli([command, "--help"], capsys)
        assert code == 0 and "``" not in out
        options = [line for line in out.replace("\n                        ", " ").splitlines()
                   if line.startswith("  --") and not line.startswith(("  --help", "  --debug"))]
        assert options
        for line in options:
            flag = line.split()[0]
            if flag not in ("--text", "--text-file", "--out", "--resume", "--overwrite", "--find",
                            "--compare-clipping", "--bidirectional", "--beam"):  # their help says what happens without
                assert "(default:" in line, line
    _, out, _ = run_cli(["train-charlm", "--help"], capsys)
    assert "(default: 5.0)" in " ".join(out.split())  # --clip's default, read from CharLMConfig


@pytest.mark.parametrize("setting, value", [("clip", -1.0), ("clip", 0.0), ("valid_chars", 0),
                                            ("time_budget", math.nan), ("seq_len", -1), ("lr", math.inf),
                                            ("hidden", 2.5), ("cell", "transformer")])
def test_the_library_config_refuses_the_same_values(setting, value):
    with pytest.raises(ValueError, match=f"CharLMConfig: {setting} must be"):
        charlm.CharLMConfig(**{setting: value})


@pytest.mark.parametrize("seq_len", [0, -1])
def test_the_chunking_code_refuses_non_positive_lengths(seq_len):
    ids = np.arange(100) % 7
    with pytest.raises(ValueError, match=f"TextStreams: seq_len must be an integer >= 1, got {seq_len}"):
        charlm.TextStreams(ids, 2, seq_len)
    with pytest.raises(ValueError, match=f"evaluate_bpc: seq_len must be an integer >= 1, got {seq_len}"):
        charlm.evaluate_bpc(None, ids, seq_len=seq_len)
    with pytest.raises(ValueError, match="TextStreams: batch_size must be an integer >= 1"):
        charlm.TextStreams(ids, seq_len, 5)


def test_text_streams_walk_the_text_in_order_and_wrap_around():
    ids = np.arange(23)
    streams = charlm.TextStreams(ids, batch_size=2, seq_len=3)  # streams of 11: chunks at 0, 3, 6
    assert streams.chunks == 3
    inputs, targets, restart = streams.chunk(1)
    assert restart is False and inputs[:, 0].tolist() == [3, 4, 5] and inputs[:, 1].tolist() == [14, 15, 16]
    assert targets[:, 0].tolist() == [4, 5, 6]
    assert streams.chunk(3)[2] is True and streams.chunk(3)[0].tolist() == streams.chunk(0)[0].tolist()


@pytest.mark.parametrize("argument, value", [("ns_exponent", math.nan), ("alpha", math.inf), ("alpha", 0.0),
                                             ("negative", -1), ("window", 0), ("vector_size", 0),
                                             ("sample", math.nan), ("min_alpha", -math.inf)])
def test_word2vec_refuses_bad_settings_naming_the_argument(argument, value):
    with pytest.raises(ValueError, match=f"Word2Vec: {argument} must"):
        Word2Vec(**{argument: value})


def test_a_held_out_part_too_short_to_score_is_refused_before_training():
    config = charlm.CharLMConfig(hidden=8, layers=1, embedding=4, seq_len=5, batch_size=2, steps=1,
                                 valid_fraction=0.01)
    with pytest.raises(charlm.CharLMError, match="the held-out part of the text has 1 characters; need at least 2"):
        charlm.train("ab" * 50, config, log=lambda _: None)  # 100 characters: 99 to train on, 1 held out
