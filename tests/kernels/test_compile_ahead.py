"""compile_ahead: on a cold cache a layer's backward compiles in a second process while its
forward compiles here; the first backward then loads it from Numba's cache. Each case runs in
a fresh process with a cache of its own."""
import os
import subprocess
import sys

import pytest

from tinygrad_rnn.kernels import numba_team

TWO_THREADS = pytest.mark.skipif(numba_team.available() < 2, reason="compiling ahead needs a second thread")

STEP = """
import importlib
import tinygrad_rnn as tg
from numba.core import event
from tinygrad_rnn import nn
from tinygrad_rnn.kernels import compile_ahead

compiled = []
class Listener(event.Listener):
    def on_start(self, e):
        compiled.append(e.data["dispatcher"].py_func.__name__)
    def on_end(self, e):
        pass
event.register("numba:compile", Listener())

layer = nn.{layer}(4, 32)
out = layer(tg.randn(5, 3, 4))[0]
pending = len(compile_ahead._running)
out.sum().backward()
work = "{work}"
hits = getattr(importlib.import_module("tinygrad_rnn.kernels.{module}"), work).stats.cache_hits
print(pending, len(compile_ahead._running), work in compiled, sum(hits.values()))
"""

CASES = [("LSTM", "numba_lstm", "lstm_backward_work"), ("GRU", "numba_gru", "gru_backward_work"),
         ("RNN", "numba_rnn", "rnn_backward_work")]


def _step(cache, layer, module, work):
    result = subprocess.run([sys.executable, "-c", STEP.format(layer=layer, module=module, work=work)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    pending, left, compiled_here, hits = result.stdout.split()
    return int(pending), int(left), compiled_here == "True", int(hits)


@TWO_THREADS
@pytest.mark.parametrize("layer, module, work", CASES, ids=[c[0] for c in CASES])
def test_a_cold_backward_comes_from_the_second_process_and_a_cached_one_starts_none(tmp_path, layer,
                                                                                 module, work):
    pending, left, compiled_here, hits = _step(tmp_path, layer, module, work)
    assert (pending, left, compiled_here) == (1, 0, False), "the backward was not compiled ahead"
    assert hits == 1, "the backward did not come from the cache"
    pending, left, compiled_here, _ = _step(tmp_path, layer, module, work)
    assert (pending, left, compiled_here) == (0, 0, False), "a cached run started a second process"


WORK_IN_MAIN = """
import numpy as np
from numba import njit
from tinygrad_rnn.kernels import compile_ahead, numba_team

@njit(nogil=True, cache=True)
def add_one(counters, out):
    while True:
        ticket = numba_team.next_ticket(counters, 1, out.shape[0])
        if ticket >= out.shape[0]:
            return
        out[ticket] += 1
        numba_team.finish(counters)

out = np.zeros(50, np.int64)
args = (numba_team.counters(), out)
compile_ahead.start(add_one, args)   # the second process cannot import __main__'s function
started = len(compile_ahead._running)
numba_team.run(add_one, 2, args)
print(started, int(out.sum()), len(compile_ahead._running))
"""


@TWO_THREADS
def test_when_the_second_process_fails_the_run_compiles_for_itself(tmp_path):
    script = tmp_path / "work_in_main.py"   # a file, so that Numba may cache add_one
    script.write_text(WORK_IN_MAIN)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "50", "0"]
