"""Fused whole-sequence recurrent layers on the CPU: GEMMs around one Numba time loop.

One layer, one direction. ``forward`` does, for the whole sequence:

1. one GEMM for the input projection of every step, ``x (T*B, I) @ W_ih^T`` plus the biases;
2. one call of the mode's jitted time loop (numba_rnn, numba_lstm, numba_gru), which per step
   calls BLAS for ``h @ W_hh^T`` (LSTM: cut into the calls that numba_tiles measured fastest for
   the shape) and does all gate arithmetic, the state update and the saving of what backward
   needs in vectorized passes over (B, G*H);

``backward`` does one call of the jitted BPTT loop (one BLAS call per step for ``da @ W_hh``)
and then, over all steps at once, ``dW_hh = da^T h_prev``, ``dW_ih = da^T x``, ``dx = da W_ih``
and the bias sums: four GEMMs instead of 4T small ones. With several threads the batch is cut
into shards that run all of this independently (cpu_threads); the weight gradients of the
shards are summed.

Arrays are NumPy (float32 or float64, one dtype for all); any layout is accepted and made
contiguous once. ``lengths`` (B,) ints: rows with ``t >= lengths[b]`` carry their state and
output 0; ``reverse=True`` runs each row from its own last valid step down to 0.
"""
from dataclasses import dataclass

import numpy as np
from numba import njit

from . import cpu_threads, numba_gru, numba_lstm, numba_rnn, numba_tiles

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_BATCH_AXIS = {"x": 1, "h0": 0, "c0": 0}   # gradients of these are cut by shard, others summed


@njit(cache=True, nogil=True)
def _matmul(a, b):
    """a @ b by the BLAS that the loops call (SciPy's, through Numba), not NumPy's: two BLAS
    libraries with their own thread pools would compete for the same cores."""
    return np.dot(a, b)


@dataclass
class Weights:
    """The weights of one call, prepared once for all shards."""
    w_ih: np.ndarray          # (G*H, I)
    w_hh: np.ndarray          # (G*H, H)
    whh_t: np.ndarray         # W_hh^T, contiguous, for the per-step GEMM
    bias: np.ndarray          # added to the hoisted projection (GRU: without b_hn)
    b_hn: np.ndarray          # GRU: the bias inside r * (...)
    peephole: np.ndarray      # LSTM: (3, H), zero for a plain LSTM
    has_bias: tuple           # (bias_ih given, bias_hh given)
    has_peephole: bool
    tiles: tuple = ()         # LSTM: (W_hh^T blocks, rows per call, W_hh blocks, rows per call)


@dataclass
class Saved:
    """What backward needs from the forward of one batch shard (arrays private to the kernel)."""
    rows: slice
    x: np.ndarray             # (T, b, I) contiguous
    acts: np.ndarray          # (T, b, G*H): activations written by the forward loop
    h_prev: np.ndarray        # (T, b, H): the hidden state entering each step
    extra: tuple              # lstm: (c_prev, tanh_c); gru: (m,)
    lengths: np.ndarray


class NumbaRecurrent:
    """The fused kernel of one mode ("rnn_tanh", "rnn_relu", "lstm", "gru") on the CPU."""

    device = "cpu"
    dtypes = DTYPES

    def __init__(self, mode):
        self.mode = mode
        self.gates = GATES[mode]

    def __repr__(self):
        return f"<numba kernel {self.mode!r} on 'cpu'>"

    # ----- forward ---------------------------------------------------------------------------
    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, lengths=None,
                reverse=False, save=True):
        """Returns ``(out (T, B, H), h_n (B, H), c_n (B, H) or None, saved or None)``."""
        named = {"x": x, "h0": h0, "weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih,
                 "bias_hh": b_hh, "c0": c0, "peephole": peephole}
        dtype = self._check({k: v for k, v in named.items() if v is not None})
        steps, batch, _ = x.shape
        hidden = h0.shape[1]
        self._check_shapes(x.shape, hidden, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole)
        lengths = _lengths(lengths, steps, batch, self)
        flops_per_row = 2 * steps * self.gates * hidden * (x.shape[2] + hidden)
        shards = cpu_threads.shards(batch, flops_per_row)
        weights = self._prepare(dtype, hidden, w_ih, w_hh, b_ih, b_hh, peephole, shards)

        def run_shard(rows):
            return self._forward_shard(x[:, rows], h0[rows], None if c0 is None else c0[rows],
                                       weights, lengths[rows], reverse, save, rows)

        parts = cpu_threads.run(run_shard, shards)
        out, h, c = (_join([p[k] for p in parts], axis) for k, axis in ((0, 1), (1, 0), (2, 0)))
        saved = (weights, reverse, [p[3] for p in parts]) if save else None
        return out, h, c, saved

    def _prepare(self, dtype, hidden, w_ih, w_hh, b_ih, b_hh, peephole, shards):
        bias = np.zeros(self.gates * hidden, dtype)
        for b in (b_ih, b_hh):
            if b is not None:
                bias += b
        b_hn = np.zeros(hidden, dtype)
        if self.mode == "gru" and b_hh is not None:
            bias[2 * hidden:] -= b_hh[2 * hidden:]   # b_hn goes inside r * (...)
            b_hn[:] = b_hh[2 * hidden:]
        # a plain LSTM is a peephole LSTM with zero peepholes: a + 0 * c == a exactly
        peep = np.zeros((3, hidden), dtype) if peephole is None else np.ascontiguousarray(peephole)
        w_hh = np.ascontiguousarray(w_hh)
        whh_t = np.ascontiguousarray(w_hh.T)
        tiles = ()
        if self.mode == "lstm":   # the per-step products, cut as measured fastest (numba_tiles)
            shard_rows = max(s.stop - s.start for s in shards)
            for w in (whh_t, w_hh):
                with cpu_threads.blas_threads(shards):
                    parts, rows = numba_tiles.tiling(dtype, shard_rows, *w.shape)
                tiles += (numba_tiles.split_columns(w, parts), rows)
        return Weights(np.ascontiguousarray(w_ih), w_hh, whh_t, bias, b_hn, peep,
                       (b_ih is not None, b_hh is not None), peephole is not None, tiles)

    def _forward_shard(self, x, h0, c0, weights, lengths, reverse, save, rows):
        x = np.ascontiguousarray(x)
        steps, batch, inputs = x.shape
        hidden, dtype = h0.shape[1], x.dtype
        gates = _matmul(x.reshape(steps * batch, inputs), weights.w_ih.T).reshape(steps, batch, -1)
        gates += weights.bias
        h = np.array(h0, dtype=dtype, order="C")
        out = np.empty((steps, batch, hidden), dtype)
        kept = steps if save else 1   # inference: the loops write their saves into scratch
        h_prev = np.empty((kept, batch, hidden), dtype)
        acts = gates   # lstm, rnn: the loops write the activations over the pre-activations
        c = None
        if self.mode == "lstm":
            c = np.array(c0, dtype=dtype, order="C")
            c_prev, tanh_c = np.empty_like(h_prev), np.empty_like(h_prev)
            whh_t_parts, per_call = weights.tiles[:2]
            numba_lstm.lstm_forward_loop(gates, whh_t_parts, per_call, weights.peephole, lengths,
                                         reverse, h, c, out, h_prev, c_prev, tanh_c)
            extra = (c_prev, tanh_c)
        elif self.mode == "gru":
            acts, m = np.empty((kept, batch, 3 * hidden), dtype), np.empty_like(h_prev)
            numba_gru.gru_forward_loop(gates, weights.whh_t, weights.b_hn, lengths, reverse, h, out,
                                       acts, h_prev, m)
            extra = (m,)
        else:
            numba_rnn.rnn_forward_loop(gates, weights.whh_t, self.mode == "rnn_relu", lengths,
                                       reverse, h, out, h_prev)
            extra = ()
        return out, h, c, Saved(rows, x, acts, h_prev, extra, lengths) if save else None

    # ----- backward --------------------------------------------------------------------------
    def backward(self, saved, d_out, d_hn, d_cn=None, wanted=None):
        """Gradients from those of ``out``, ``h_n`` and ``c_n`` (None means zero).

        Returns a dict with keys "x", "h0", "c0" (lstm), "weight_ih", "weight_hh", "bias_ih",
        "bias_hh" (those given to forward), "peephole" ((3, H), lstm with peepholes),
        restricted to the names in ``wanted`` if given.
        """
        if saved is None:
            raise RuntimeError(f"{self}: backward needs a forward run with save=True")
        weights, reverse, shards = saved
        want = (lambda name: True) if wanted is None else set(wanted).__contains__

        def run_shard(shard):
            rows = shard.rows
            return self._backward_shard(shard, weights, reverse, d_out[:, rows],
                                        None if d_hn is None else d_hn[rows],
                                        None if d_cn is None else d_cn[rows], want)

        parts = cpu_threads.run(run_shard, shards)
        grads = {}
        for name in parts[0]:
            pieces = [p[name] for p in parts]
            grads[name] = _join(pieces, _BATCH_AXIS[name]) if name in _BATCH_AXIS else sum(pieces)
        return grads

    def _backward_shard(self, saved, weights, reverse, d_out, d_hn, d_cn, want):
        steps, batch, inputs = saved.x.shape
        hidden, dtype = saved.h_prev.shape[2], saved.x.dtype
        d_out = np.ascontiguousarray(d_out, dtype=dtype)
        dh = np.zeros((batch, hidden), dtype) if d_hn is None else np.array(d_hn, dtype, order="C")
        grads = {"h0": dh}
        if self.mode == "lstm":
            c_prev, tanh_c = saved.extra
            dc = np.zeros((batch, hidden), dtype) if d_cn is None else np.array(d_cn, dtype, order="C")
            d_gi = np.empty_like(saved.acts)
            d_peep = np.zeros((3, hidden) if weights.has_peephole else (0, 0), dtype)
            whh_parts, per_call = weights.tiles[2:]
            numba_lstm.lstm_backward_loop(saved.acts, whh_parts, per_call, weights.peephole,
                                          saved.lengths, reverse, c_prev, tanh_c, d_out, dh, dc,
                                          d_gi, d_peep)
            d_gh = d_gi
            grads["c0"] = dc
            if weights.has_peephole:
                grads["peephole"] = d_peep
        elif self.mode == "gru":
            d_gi, d_gh = np.empty_like(saved.acts), np.empty_like(saved.acts)
            numba_gru.gru_backward_loop(saved.acts, weights.w_hh, saved.lengths, reverse,
                                        saved.h_prev, saved.extra[0], d_out, dh, d_gi, d_gh)
        else:
            d_gi = np.empty_like(saved.acts)
            numba_rnn.rnn_backward_loop(saved.acts, weights.w_hh, self.mode == "rnn_relu",
                                        saved.lengths, reverse, d_out, dh, d_gi)
            d_gh = d_gi   # rnn and lstm add both biases before the gates: the same gradient
        rows = steps * batch
        d_gi2, d_gh2 = d_gi.reshape(rows, -1), d_gh.reshape(rows, -1)
        if want("x"):
            grads["x"] = _matmul(d_gi2, weights.w_ih).reshape(steps, batch, inputs)
        if want("weight_ih"):
            grads["weight_ih"] = _matmul(d_gi2.T, saved.x.reshape(rows, inputs))
        if want("weight_hh"):
            grads["weight_hh"] = _matmul(d_gh2.T, saved.h_prev.reshape(rows, hidden))
        has_ih, has_hh = weights.has_bias
        if has_ih and want("bias_ih"):
            grads["bias_ih"] = d_gi2.sum(axis=0)
        if has_hh and want("bias_hh"):   # rnn, lstm: the same sum as bias_ih
            same = d_gh is d_gi and "bias_ih" in grads
            grads["bias_hh"] = grads["bias_ih"].copy() if same else d_gh2.sum(axis=0)
        return {name: grad for name, grad in grads.items() if want(name)}

    # ----- checks ----------------------------------------------------------------------------
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
            if array is None and name != "c0":
                continue
            if array is None or array.shape != shape:
                got = None if array is None else array.shape
                raise ValueError(f"{self}: {name} must have shape {shape} for x of shape "
                                 f"{x_shape} and hidden size {hidden}, got {got}")


def _join(pieces, axis):
    if pieces[0] is None:
        return None
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=axis)


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
