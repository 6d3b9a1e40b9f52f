"""Fused whole-sequence recurrent layers on the CPU: NumPy GEMMs around one Numba time loop.

One layer, one direction. ``forward`` does, for the whole sequence:

1. one GEMM for the input projection of every step, ``x (T*B, I) @ W_ih^T`` plus the biases;
2. one call of the mode's jitted time loop (numba_rnn, numba_lstm, numba_gru), which per step
   calls BLAS for ``h @ W_hh^T`` and does all gate arithmetic, the state update and the saving
   of what backward needs in one pass over (B, G*H);

``backward`` does one call of the jitted BPTT loop (one BLAS call per step for ``da @ W_hh``)
and then, over all steps at once, ``dW_hh = da^T h_prev``, ``dW_ih = da^T x``, ``dx = da W_ih``
and the bias sums: four GEMMs instead of 4T small ones.

Arrays are NumPy (float32 or float64, one dtype for all); any layout is accepted and made
contiguous once. ``lengths`` (B,) ints: rows with ``t >= lengths[b]`` carry their state and
output 0; ``reverse=True`` runs each row from its own last valid step down to 0.
"""
from dataclasses import dataclass

import numpy as np

from numba import njit

from . import numba_gru, numba_lstm, numba_rnn

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass
class Saved:
    """What backward needs from one forward call (all arrays private to the kernel)."""
    x: np.ndarray
    w_ih: np.ndarray
    w_hh: np.ndarray
    acts: np.ndarray          # (T, B, G*H): activations written by the forward loop
    h_prev: np.ndarray        # (T, B, H): the hidden state entering each step
    extra: tuple              # lstm: (c_prev, tanh_c, peephole (3, H), has_peephole); gru: (m,)
    lengths: np.ndarray
    reverse: bool
    has_bias: tuple           # (bias_ih given, bias_hh given)


@njit(cache=True)
def _matmul(a, b):
    """a @ b by the BLAS that the loops call (SciPy's, through Numba), not NumPy's: two BLAS
    thread pools spinning in turn on the same cores slowed the whole step down up to 10x."""
    return np.dot(a, b)


class NumbaRecurrent:
    """The fused kernel of one mode ("rnn_tanh", "rnn_relu", "lstm", "gru") on the CPU."""

    device = "cpu"
    dtypes = DTYPES

    def __init__(self, mode):
        self.mode = mode
        self.gates = GATES[mode]

    def __repr__(self):
        return f"<numba kernel {self.mode!r} on 'cpu'>"

    def _check(self, named):
        """Same float dtype and NumPy arrays everywhere; returns the dtype."""
        dtype = named["x"].dtype
        for name, array in named.items():
            if type(array) is not np.ndarray:
                raise TypeError(f"{self}: {name} is a {type(array).__module__}."
                                f"{type(array).__name__}, but this kernel runs on NumPy arrays "
                                "(device 'cpu')")
            if array.dtype != dtype:
                raise TypeError(f"{self}: {name} has dtype {array.dtype} but x has {dtype}")
        if dtype not in DTYPES:
            raise TypeError(f"{self}: dtype {dtype} is not supported (float32 or float64)")
        return dtype

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, lengths=None,
                reverse=False, save=True):
        """Returns ``(out (T, B, H), h_n (B, H), c_n (B, H) or None, saved or None)``."""
        named = {"x": x, "h0": h0, "weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih,
                 "bias_hh": b_hh, "c0": c0, "peephole": peephole}
        dtype = self._check({k: v for k, v in named.items() if v is not None})
        steps, batch, inputs = x.shape
        hidden = h0.shape[1]
        self._check_shapes(x.shape, hidden, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole)
        lengths = _lengths(lengths, steps, batch, self)
        x = np.ascontiguousarray(x)
        w_ih, w_hh = np.ascontiguousarray(w_ih), np.ascontiguousarray(w_hh)
        gates = _matmul(x.reshape(steps * batch, inputs), w_ih.T).reshape(steps, batch, -1)
        bias = np.zeros(self.gates * hidden, dtype)
        for b in (b_ih, b_hh):
            if b is not None:
                bias += b
        b_hn = np.zeros(hidden, dtype)
        if self.mode == "gru" and b_hh is not None:
            bias[2 * hidden:] -= b_hh[2 * hidden:]   # b_hn goes inside r * (...)
            b_hn[:] = b_hh[2 * hidden:]
        gates += bias
        whh_t = np.ascontiguousarray(w_hh.T)
        h = np.array(h0, dtype=dtype, order="C")
        out = np.empty((steps, batch, hidden), dtype)
        kept = steps if save else 1   # inference: the loops write their saves into scratch
        state = (kept, batch, hidden)
        h_prev = np.empty(state, dtype)
        acts = np.empty((kept, batch, self.gates * hidden), dtype)
        c = None
        if self.mode == "lstm":
            c = np.array(c0, dtype=dtype, order="C")
            # a plain LSTM is a peephole LSTM with zero peepholes: a + 0 * c == a exactly
            peep = np.zeros((3, hidden), dtype) if peephole is None else np.ascontiguousarray(peephole)
            c_prev, tanh_c = np.empty(state, dtype), np.empty(state, dtype)
            numba_lstm.lstm_forward_loop(gates, whh_t, peep, lengths, reverse, h, c, out, acts,
                                         h_prev, c_prev, tanh_c)
            extra = (c_prev, tanh_c, peep, peephole is not None)
        elif self.mode == "gru":
            m = np.empty(state, dtype)
            numba_gru.gru_forward_loop(gates, whh_t, b_hn, lengths, reverse, h, out, acts, h_prev,
                                       m)
            extra = (m,)
        else:
            numba_rnn.rnn_forward_loop(gates, whh_t, self.mode == "rnn_relu", lengths, reverse,
                                       h, out, h_prev)
            acts = gates   # the loop wrote h' over the pre-activations (same index: vectorizes)
            extra = ()
        saved = Saved(x, w_ih, w_hh, acts, h_prev, extra, lengths, reverse,
                      (b_ih is not None, b_hh is not None)) if save else None
        return out, h, c, saved

    def backward(self, saved, d_out, d_hn, d_cn=None, wanted=None):
        """Gradients from those of ``out``, ``h_n`` and ``c_n`` (None means zero).

        Returns a dict with keys "x", "h0", "c0" (lstm), "weight_ih", "weight_hh", "bias_ih",
        "bias_hh", "peephole" ((3, H), lstm with peepholes), restricted to ``wanted`` if given.
        """
        if saved is None:
            raise RuntimeError(f"{self}: backward needs a forward run with save=True")
        steps, batch, inputs = saved.x.shape
        hidden = saved.h_prev.shape[2]
        dtype = saved.x.dtype
        d_out = np.ascontiguousarray(d_out, dtype=dtype)
        dh = np.zeros((batch, hidden), dtype) if d_hn is None else np.array(d_hn, dtype, order="C")
        grads = {}
        if self.mode == "lstm":
            c_prev, tanh_c, peep, has_peephole = saved.extra
            dc = np.zeros((batch, hidden), dtype) if d_cn is None else np.array(d_cn, dtype, order="C")
            d_gi = np.empty_like(saved.acts)
            d_peep = np.zeros((3, hidden) if has_peephole else (0, 0), dtype)
            numba_lstm.lstm_backward_loop(saved.acts, saved.w_hh, peep, saved.lengths,
                                          saved.reverse, c_prev, tanh_c, d_out, dh, dc, d_gi,
                                          d_peep)
            d_gh = d_gi
            grads["c0"] = dc
            if has_peephole:
                grads["peephole"] = d_peep
        elif self.mode == "gru":
            d_gi, d_gh = np.empty_like(saved.acts), np.empty_like(saved.acts)
            numba_gru.gru_backward_loop(saved.acts, saved.w_hh, saved.lengths, saved.reverse,
                                        saved.h_prev, saved.extra[0], d_out, dh, d_gi, d_gh)
        else:
            d_gi = np.empty_like(saved.acts)
            numba_rnn.rnn_backward_loop(saved.acts, saved.w_hh, self.mode == "rnn_relu",
                                        saved.lengths, saved.reverse, d_out, dh, d_gi)
            d_gh = d_gi
        grads["h0"] = dh
        want = (lambda name: True) if wanted is None else set(wanted).__contains__
        rows = steps * batch
        d_gi2, d_gh2 = d_gi.reshape(rows, -1), d_gh.reshape(rows, -1)
        if want("x"):
            grads["x"] = _matmul(d_gi2, saved.w_ih).reshape(steps, batch, inputs)
        if want("weight_ih"):
            grads["weight_ih"] = _matmul(d_gi2.T, saved.x.reshape(rows, inputs))
        if want("weight_hh"):
            grads["weight_hh"] = _matmul(d_gh2.T, saved.h_prev.reshape(rows, hidden))
        has_ih, has_hh = saved.has_bias
        if has_ih and want("bias_ih"):
            grads["bias_ih"] = d_gi2.sum(axis=0)
        if has_hh and want("bias_hh"):
            # rnn and lstm add both biases before the gates: the same gradient
            grads["bias_hh"] = d_gh2.sum(axis=0)
        return {name: grad for name, grad in grads.items() if want(name)}

    def _check_shapes(self, x_shape, hidden, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole):
        steps, batch, inputs = x_shape
        gh = self.gates * hidden
        expected = {"h0": ((batch, hidden), h0), "weight_ih": ((gh, inputs), w_ih),
                    "weight_hh": ((gh, hidden), w_hh), "bias_ih": ((gh,), b_ih),
                    "bias_hh": ((gh,), b_hh)}
        if self.mode == "lstm":
            expected["c0"] = ((batch, hidden), c0)
            expected["peephole"] = ((3, hidden), peephole)
        elif c0 is not None or peephole is not None:
            raise ValueError(f"{self}: c0 and peephole are for lstm only")
        for name, (shape, array) in expected.items():
            if array is None and name not in ("c0",):
                continue
            if array is None or array.shape != shape:
                got = None if array is None else array.shape
                raise ValueError(f"{self}: {name} must have shape {shape} for x of shape "
                                 f"{x_shape} and hidden size {hidden}, got {got}")


def _lengths(lengths, steps, batch, kernel):
    if lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    lengths = np.asarray(lengths)
    if lengths.shape != (batch,) or lengths.dtype.kind not in "iu":
        raise ValueError(f"{kernel}: lengths must be {batch} integers (one per batch row), got "
                         f"shape {lengths.shape} dtype {lengths.dtype}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > steps):
        raise ValueError(f"{kernel}: lengths must lie in [0, {steps}], got {lengths.tolist()}")
    return np.ascontiguousarray(lengths, dtype=np.int64)


KERNELS = {mode: NumbaRecurrent(mode) for mode in GATES}
