"""A child made with fork (multiprocessing's default on Linux, used by data loaders) runs every
fused layer correctly after the parent has run them on its worker threads (issue 18, item 6)."""
import os
import select
import signal
import time

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.kernels import cpu_threads, numba_team

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
LAYERS = {"rnn_tanh": lambda: nn.RNN(16, 64), "rnn_relu": lambda: nn.RNN(16, 64, nonlinearity="relu"),
          "gru": lambda: nn.GRU(16, 64), "gru_reset_before": lambda: nn.GRU(16, 64, reset_after=False),
          "lstm": lambda: nn.LSTM(16, 64)}


def _train_step(layer, x):
    """The output and every parameter gradient of one forward and backward, as one float64 array."""
    layer.zero_grad()
    out = layer(x)[0]
    (out * out).sum().backward()
    return np.concatenate([out.numpy().ravel()] + [p.grad.numpy().ravel() for p in layer.parameters()])


def _in_forked_child(work, timeout=60.0):
    """``work()``'s float64 array computed in a forked child; fails if the child hangs or dies."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: write the result and leave without running pytest's exit code
        status = 1
        try:
            os.write(write, work().astype(np.float64).tobytes())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    data, deadline = b"", time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([read], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"the forked child hung (no result within {timeout:.0f} s)")
            chunk = os.read(read, 1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read)
        status = os.waitpid(pid, 0)[1]
    assert status == 0, f"the forked child failed (wait status {status})"
    return np.frombuffer(data, np.float64)


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_a_forked_child_runs_the_fused_layer(mode, monkeypatch):
    # share even a small problem, where one core is usable too
    monkeypatch.setattr(cpu_threads, "_threads", 2)
    monkeypatch.setattr(cpu_threads, "MIN_FLOPS", 1)
    teams, team = [], numba_team._team
    monkeypatch.setattr(numba_team, "_team", lambda threads, *rest: teams.append(threads) or team(threads, *rest))
    tg.manual_seed(0)
    layer = LAYERS[mode]().double()
    x = tg.randn(10, 64, 16, dtype="float64")
    expected = _train_step(layer, x)   # the parent has started its worker threads
    assert 2 in teams, "no team ran in the parent: the test would prove nothing"
    # the child runs on one thread: its sums are ordered otherwise, hence float64 and rtol 1e-12
    np.testing.assert_allclose(_in_forked_child(lambda: _train_step(layer, x)), expected, rtol=1e-12, atol=1e-12)
