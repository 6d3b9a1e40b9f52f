"""Grad mode and anomaly mode are per thread: a no_grad block in one thread never switches
recording off in another (issue 18, item 1)."""
import threading

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def test_no_grad_in_one_thread_leaves_another_recording():
    inside, release = threading.Event(), threading.Event()

    def infer():
        with tg.no_grad():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=infer)
    worker.start()
    try:
        assert inside.wait(10)
        x = tg.ones(2, requires_grad=True)
        assert tg.is_grad_enabled() and (x * 2).requires_grad
    finally:
        release.set()
        worker.join()
    assert tg.is_grad_enabled()


def test_a_new_thread_starts_with_recording_on():
    seen = []
    with tg.no_grad():
        worker = threading.Thread(target=lambda: seen.append(tg.is_grad_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_anomaly_mode_is_per_thread():
    seen = []
    with tg.detect_anomaly():
        worker = threading.Thread(target=lambda: seen.append(
            bool(np.isinf((tg.ones(1) / tg.zeros(1)).numpy()).all())))
        worker.start()
        worker.join()
    assert seen == [True]  # no AnomalyError in the other thread


def _gradients(model, x, target):
    model.zero_grad()
    loss = ((model(x) - target) ** 2).mean()
    loss.backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def test_training_beside_inference_gives_single_threaded_gradients():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Linear(16, 3))
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((8, 6)), dtype="float32")
    target = tg.Tensor(rng.standard_normal((8, 3)), dtype="float32")
    expected = _gradients(model, x, target)
    stop, failures = threading.Event(), []

    def infer():
        while not stop.is_set():
            with tg.no_grad():
                model(x)

    workers = [threading.Thread(target=infer) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(300):
            got = _gradients(model, x, target)
            if not all(np.array_equal(a, b) for a, b in zip(got, expected)):
                failures.append(got)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert not failures
