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
