"""Ctrl-C during train-charlm: the first one saves the run (checkpoint, loss plot, samples) and
exits with code 130; a second one aborts at once."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinygrad_rnn.apps import cli
from tinygrad_rnn.apps.interrupt import StopRequest
from tinygrad_rnn.serialization import load

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20
TINY_ARGS = ["--cell", "rnn", "--hidden", "8", "--layers", "1", "--embedding", "4", "--seq-len", "5",
             "--batch-size", "2", "--sample-every", "3", "--sample-length", "3", "--valid-chars", "50"]
POLL_SECONDS = 300  # generous: the first run may compile the fused kernels on a busy machine


def wait_for(condition, what):
    deadline = time.monotonic() + POLL_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX")
def test_first_ctrl_c_saves_the_run_exits_130_and_the_run_resumes(tmp_path, capsys):
    corpus, run = tmp_path / "corpus.txt", tmp_path / "run"
    corpus.write_text(TEXT, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_rnn", "train-charlm", "--text", str(corpus), "--out", str(run),
         "--steps", "100000000", "--time-budget", "100000", "--checkpoint-every", "2"] + TINY_ARGS,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (run / "charlm.npz").exists() or process.poll() is not None, "the first checkpoint")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=POLL_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "stopping after this step" in err
    assert f"continue with: tinygrad-rnn train-charlm --resume {run}" in out
    checkpoint = load(run / "charlm.npz")
    steps = checkpoint["steps"]
    assert not checkpoint["finished"] and steps >= 2 and len(checkpoint["train_bpc"]) == steps
    assert f"interrupted after step {steps} " in out
    assert (run / "samples.txt").read_text("utf-8").startswith("--- after 3 steps ---") or steps < 3
    assert cli.main(["train-charlm", "--resume", str(run), "--steps", str(steps + 2)]) == 0
    finished = load(run / "charlm.npz")
    assert finished["finished"] and finished["steps"] == steps + 2


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX")
def test_the_second_ctrl_c_raises_keyboard_interrupt_at_once():
    before = signal.getsignal(signal.SIGINT)   # pytest's, or SIG_IGN under a background shell
    with StopRequest("stopping") as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)  # the handler runs at the next bytecode boundary
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is before


def test_an_abort_while_saving_exits_130_with_one_line_and_leaves_the_checkpoint(tmp_path, monkeypatch, capsys):
    corpus, run = tmp_path / "corpus.txt", tmp_path / "run"
    corpus.write_text(TEXT, encoding="utf-8")
    assert cli.main(["train-charlm", "--text", str(corpus), "--out", str(run), "--steps", "2"] + TINY_ARGS) == 0
    before = (run / "charlm.npz").read_bytes()
    capsys.readouterr()

    def savez_interrupted_halfway(file, **members):  # the second Ctrl-C arrives while a checkpoint is written
        file.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", savez_interrupted_halfway)
    assert cli.main(["train-charlm", "--resume", str(run), "--steps", "4"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "tinygrad-rnn train-charlm: aborted"
    assert (run / "charlm.npz").read_bytes() == before
    assert not [p.name for p in run.iterdir() if p.name.startswith(".tmp-")]  # the half-written file is gone
