"""What every fused recurrent kernel shares: its interface, the schema of what backward reads, and
the invariants of its arguments.

A kernel runs one layer in one direction over a whole sequence, for one mode, on the arrays of
one device, with PyTorch's shapes, names and gate order::

    out, h_n, c_n, saved = kernel.forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, lengths,
                                          reverse, save, into)
    grads = kernel.backward(saved, d_out, d_hn, d_cn, wanted)   # {"x": ..., "weight_hh": ...}

``x`` (T, B, I), ``h0``, ``c0`` (B, H), ``w_ih`` (G·H, I), ``w_hh`` (G·H, H), biases (G·H,) or
None, ``peephole`` (3, H) or None (lstm), ``lengths`` host integers (B,) or None; ``c_n`` is None
except for lstm, ``saved`` None unless ``save``. ``into`` = (array (T, B, W), column) puts the
output into ``array[:, :, column:column + H]`` and returns that view: the two directions of a
bidirectional layer fill one (T, B, 2H) array, with no copy to join them on the CPU (the CuPy
kernels copy theirs in).
"""
from dataclasses import dataclass

import numpy as np

from ..nn.cells import GATES  # noqa: F401  (the gate counts are defined once, with the cells)


@dataclass
class Weights:
    """The weights of one call as a kernel prepared them (arrays of its device)."""
    w_ih: object          # (G*H, I), for dx = da W_ih
    w_hh: object          # (G*H, H) contiguous
    has_bias: tuple       # (bias_ih given, bias_hh given): the bias gradients backward returns
    has_peephole: bool    # lstm: whether backward returns the peephole gradient
    steps: object         # the backend's own form of them for its steps: Numba RNN/GRU
                          # (bias, b_hn, (forward cuts, backward cuts)) (numba_tiles), Numba
                          # LSTM numba_lstm.TeamWeights, CuPy the peepholes


@dataclass
class Saved:
    """What backward needs from a training forward; those of the workspace pool go back to it
    when this is collected. ``x`` may be the caller's own array, which must not change before
    backward (as for any input an engine op keeps); the other arrays are the kernel's."""
    weights: Weights
    reverse: bool
    x: object             # (T, B, I) contiguous
    acts: object          # the activations of every step, in the kernel's layout
    states: dict          # by name, what backward reads: h_prev (T, B, H) and the mode's own
                          # (Numba LSTM: the fields of numba_lstm.TeamStates)
    lengths: object       # (B,) int64
    bounds: object = None # Numba RNN/GRU: the batch shards' first rows, then B (numba_rnn)


class RecurrentKernel:
    """Base of the kernels: ``backward``'s common part, and the invariants of the arguments."""

    backend = None       # "numba", "cupy"
    device = None        # the device name whose arrays the kernel takes
    array_type = None    # their class
    xp = None            # their module
    dtypes = ()

    def __init__(self, mode):
        self.mode = mode
        self.gates = GATES[mode]

    def __repr__(self):
        return f"<{self.backend} kernel {self.mode!r} on {self.device!r}>"

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, lengths=None,
                reverse=False, save=True, into=None):
        """Returns ``(out (T, B, H), h_n (B, H), c_n (B, H) or None, saved or None)``."""
        raise NotImplementedError

    def backward(self, saved, d_out, d_hn, d_cn=None, wanted=None):
        """Gradients from those of ``out``, ``h_n`` and ``c_n`` (None means zero).

        Returns a dict with keys "x", "h0", "c0" (lstm), "weight_ih", "weight_hh", "bias_ih",
        "bias_hh" (those given to forward), "peephole" ((3, H), lstm with peepholes),
        restricted to the names in ``wanted`` if given.
        """
        if saved is None:
            raise RuntimeError(f"{self}: backward needs a forward run with save=True")
        want = (lambda name: True) if wanted is None else set(wanted).__contains__
        return self._backward(saved, d_out, d_hn, d_cn, want)

    def _state_gradient(self, grad, batch, hidden, dtype):
        """A private, writable (B, H) copy of an incoming state gradient (zeros for None)."""
        if grad is None:
            return self.xp.zeros((batch, hidden), dtype)
        return self.xp.array(grad, dtype=dtype, order="C")

    def _biases(self, dtype, hidden, b_ih, b_hh):
        """The bias added before the gates, b_ih + b_hh, and the GRU's b_hn (zero in other
        modes), which goes inside r * (...) and so is left out of the first."""
        bias, b_hn = self.xp.zeros(self.gates * hidden, dtype), self.xp.zeros(hidden, dtype)
        if b_ih is not None:
            bias += b_ih
        if b_hh is not None:
            before_gates = slice(0, 2 * hidden) if self.mode == "gru" else slice(None)
            bias[before_gates] += b_hh[before_gates]
            if self.mode == "gru":
                b_hn[...] = b_hh[2 * hidden:]
        return bias, b_hn

    def _gradients_after_steps(self, product, saved, d_gi, d_gh, grads, want):
        """Adds to ``grads``, over every step and row at once, dx = d_gi W_ih, dW_ih = d_gi^T x,
        dW_hh = d_gh^T h_prev (the reset-before GRU's n rows: d_gh^T q, q = r h) and the bias
        sums, from d_gi, d_gh (T, B, G*H) (``product(a, b, transpose_a)`` the backend's);
        returns those in ``want``."""
        weights, (steps, batch, inputs) = saved.weights, saved.x.shape
        width, hidden = weights.w_hh.shape
        d_gi2, d_gh2 = d_gi.reshape(-1, width), d_gh.reshape(-1, width)
        if want("x"):
            grads["x"] = product(d_gi2, weights.w_ih, False).reshape(steps, batch, inputs)
        if want("weight_ih"):
            grads["weight_ih"] = product(d_gi2, saved.x.reshape(-1, inputs), True)
        if want("weight_hh"):
            h_prev = saved.states["h_prev"].reshape(-1, hidden)
            if self.mode == "gru_reset_before":
                q, n = saved.states["q_saved"].reshape(-1, hidden), 2 * hidden
                grads["weight_hh"] = self.xp.concatenate([product(d_gh2[:, :n], h_prev, True),
                                                          product(d_gh2[:, n:], q, True)])
            else:
                grads["weight_hh"] = product(d_gh2, h_prev, True)
        has_ih, has_hh = weights.has_bias
        if has_ih and want("bias_ih"):
            grads["bias_ih"] = d_gi2.sum(axis=0)
        if has_hh and want("bias_hh"):   # every mode but the GRU: the same gradient
            same = d_gh is d_gi and "bias_ih" in grads
            grads["bias_hh"] = grads["bias_ih"].copy() if same else d_gh2.sum(axis=0)
        return {name: grad for name, grad in grads.items() if want(name)}

    def check(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, lengths, into=None):
        """Assert the kernel's invariants (the layers check user input, with the messages users
        see); returns ``(dtype, lengths)``, ``lengths`` host int64 (B,), full when None. Steps
        t >= lengths[b] are masked, so any integer length is safe here."""
        steps, batch, inputs = x.shape
        hidden = h0.shape[1]
        gh, lstm = self.gates * hidden, self.mode == "lstm"
        expected = {"x": (x, x.shape), "h0": (h0, (batch, hidden)), "weight_ih": (w_ih, (gh, inputs)),
                    "weight_hh": (w_hh, (gh, hidden)), "bias_ih": (b_ih, (gh,)), "bias_hh": (b_hh, (gh,)),
                    "c0": (c0, (batch, hidden)), "peephole": (peephole, (3, hidden))}
        assert x.dtype in self.dtypes and (c0 is not None) == lstm and (peephole is None or lstm), self
        for name, (array, shape) in expected.items():
            assert array is None or (type(array) is self.array_type and array.shape == shape
                                     and array.dtype == x.dtype), f"{self}: {name}"
        if into is not None:
            out, column = into
            assert (type(out) is self.array_type and out.dtype == x.dtype and out.flags.c_contiguous
                    and out.shape[:2] == (steps, batch) and 0 <= column <= out.shape[2] - hidden), \
                f"{self}: into"
        if lengths is None:
            return x.dtype, np.full(batch, steps, dtype=np.int64)
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        assert lengths.shape == (batch,), f"{self}: lengths"
        return x.dtype, lengths
