"""The first call that must compile the fused kernels says so once on stderr; a call whose
kernels come from Numba's cache says nothing (issue 18, item 18)."""
import os
import subprocess
import sys

from tinygrad_rnn.kernels.compile_notice import _MESSAGE

SCRIPT = ("import tinygrad_rnn as tg\n"
          "from tinygrad_rnn import nn\n"
          "rnn = nn.RNN(3, 4)\n"
          "for _ in range(2):\n"
          "    rnn(tg.randn(2, 1, 3))\n")


def _stderr(cache_dir):
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            env={**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_compiling_is_announced_once_and_a_cached_run_is_quiet(tmp_path):
    first = _stderr(tmp_path)
    assert first.count(_MESSAGE) == 1
    assert _MESSAGE not in _stderr(tmp_path)


def test_train_charlm_runs_a_warm_up_step_before_the_progress_bar_starts(monkeypatch, tmp_path):
    """The first step's compilation happens before the bar times anything, and the warm-up
    changes no parameter and draws no random number (a resumed run stays exact)."""
    import numpy as np

    import tinygrad_rnn as tg
    from tinygrad_rnn.apps import charlm
    seen = []
    real_loss, real_progress = charlm._chunk_loss, charlm._Progress
    monkeypatch.setattr(charlm, "_chunk_loss", lambda *a: seen.append("loss") or real_loss(*a))
    monkeypatch.setattr(charlm, "_Progress", lambda *a: seen.append("progress") or real_progress(*a))
    config = charlm.CharLMConfig(hidden=8, layers=2, dropout=0.5, embedding=4, seq_len=5, batch_size=2,
                                 steps=1, valid_chars=20, sample_every=1, sample_length=2)
    text = "the cat sat on the mat. " * 20
    model, _, _ = charlm.train(text, config, None, log=lambda _: None)
    assert seen[:2] == ["loss", "progress"]
    monkeypatch.setattr(charlm, "_warm_up", lambda *a: None)
    again, _, _ = charlm.train(text, config, None, log=lambda _: None)
    for (name, p), q in zip(model.named_parameters(), again.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
