"""Grad mode: whether ops record the graph, kept per thread as in PyTorch.

A ``no_grad`` block in one thread (inference) must not switch recording off in another
(training), so the engine's switches live in a ``threading.local``: every thread starts with
recording on and anomaly checking off, and changes only its own.
"""
import contextlib
import threading


class _ThreadState(threading.local):
    grad_enabled = True
    # The NaN/Inf checker of tinygrad_rnn.anomaly.detect_anomaly while it is active, else None:
    # one attribute read per op, so anomaly detection costs nothing when off.
    anomaly = None


state = _ThreadState()


def is_grad_enabled():
    """Whether ops record the graph in this thread."""
    return state.grad_enabled


@contextlib.contextmanager
def set_grad_enabled(mode):
    """Switch graph recording on or off inside the block (in this thread)."""
    previous, state.grad_enabled = state.grad_enabled, bool(mode)
    try:
        yield
    finally:
        state.grad_enabled = previous


def no_grad():
    """Block in which ops record no graph (inference, optimizer updates)."""
    return set_grad_enabled(False)


def enable_grad():
    """Block in which ops record the graph again (inside ``no_grad``)."""
    return set_grad_enabled(True)


def set_anomaly_checker(checker):
    """Install ``checker`` (an object with ``check_forward(node, inputs, outputs)`` and
    ``run_backward(node, grad_outputs)``, or None to switch checking off) in this thread; returns
    the previous one so that ``tinygrad_rnn.anomaly.detect_anomaly`` can restore it."""
    previous, state.anomaly = state.anomaly, checker
    return previous
