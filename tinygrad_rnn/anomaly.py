"""Anomaly detection: find the op that first produced a NaN or an Inf.

Inside ``with detect_anomaly():`` every op's forward output and every gradient an op's
backward returns is checked; the first that holds a non-finite value raises
``AnomalyError`` naming the op, the shapes of its inputs and the pass (forward or
backward). Ops run inside a backward (the Tensor ops a ``backward`` is written in) are
reported as that backward. Deliberate infinities (e.g. ``-inf`` attention masks) trigger it
too: it is a debugging tool. It is switched on per thread; off, it costs one attribute read per
op (see ``grad_mode.set_anomaly_checker``).
"""
import contextlib

from . import grad_mode


class AnomalyError(RuntimeError):
    """An op produced NaN or Inf while ``detect_anomaly`` was active."""


def _finite(array, xp):
    return array.dtype.kind not in "fc" or bool(xp.all(xp.isfinite(array)))


class _Checker:
    """Checks op outputs and gradients; remembers which backward is running."""

    def __init__(self):
        self.backward_of = None  # the node whose backward is running, if any

    def check_forward(self, node, inputs, outputs):
        if self.backward_of is not None:
            return
        for data in outputs:
            if not _finite(data, node.xp):
                raise AnomalyError(f"detect_anomaly: forward of {node.name} (input shapes "
                                   f"{[tuple(t.shape) for t in inputs]}) produced NaN or Inf "
                                   f"in its output of shape {tuple(data.shape)}")

    def run_backward(self, node, grad_outputs):
        outer, self.backward_of = self.backward_of, node
        try:
            grads = node.backward(*grad_outputs)
        finally:
            self.backward_of = outer
        as_tuple = grads if type(grads) is tuple else (grads,)
        for position, grad in enumerate(as_tuple):
            if grad is not None and not _finite(grad.data, node.xp):
                incoming = ("" if all(g is None or _finite(g.data, node.xp) for g in grad_outputs)
                            else " (its incoming gradient was already non-finite)")
                raise AnomalyError(f"detect_anomaly: backward of {node.name} (input shapes "
                                   f"{[tuple(t.shape) for t in node.inputs]}) produced NaN or Inf "
                                   f"in the gradient of input {position}{incoming}")
        return grads


@contextlib.contextmanager
def detect_anomaly():
    """Raise at the first op whose forward output or backward gradient holds NaN or Inf."""
    previous = grad_mode.set_anomaly_checker(_Checker())
    try:
        yield
    finally:
        grad_mode.set_anomaly_checker(previous)
