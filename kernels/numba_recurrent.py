"""Fused whole-sequence tanh/relu RNN and GRU layers on the CPU: GEMMs around one Numba time
loop. (The LSTM's kernel shares each step among threads instead: numba_lstm_kernel.)

One layer, one direction. ``forward`` does, for the whole sequence:

1. one GEMM for the input projection of every step, ``x (T*B, I) @ W_ih^T``;
2. one call of the mode's jitted time loop (numba_rnn, numba_gru), which per step
   adds ``h @ W_hh^T`` into that step's projection by BLAS (cut into the calls that numba_tiles
   measured fastest for the shape) and does the biases, all gate arithmetic, the state update,
   the output row and the saving of what backward needs in vectorized passes over (B, G*H)
   (the GRU with the reset gate before the product splits the GEMM in two: numba_gru);

``backward`` does one call of the jitted BPTT loop (one BLAS call per step for ``da @ W_hh``)
and then, over all steps at once, ``dW_hh = da^T h_prev``, ``dW_ih = da^T x``, ``dx = da W_ih``
and the bias sums: four GEMMs instead of 4T small ones. With several threads the batch is cut
into shards that run all of this independently (cpu_threads); the weight gradients of the
shards are summed. The large arrays (gate activations, their gradients, the output) come from
the workspace pool, so that a training loop reuses their memory from step to step.

Arrays are NumPy (float32 or float64, one dtype for all); any layout is accepted. The interface
and the checks are those of every recurrent kernel (recurrent_kernel).
"""
import numpy as np

from . import compile_notice, cpu_threads, numba_gru, numba_rnn, numba_tiles, workspace  # noqa: F401
from .numba_lstm_kernel import KERNEL as LSTM_KERNEL
from .numba_blas import gemm
from .recurrent_kernel import GATES, RecurrentKernel, Saved, Shard, Weights, multiplied_states

_BATCH_AXIS = {"x": 1, "h0": 0}   # gradients of these are cut by shard, others summed


class NumbaRecurrent(RecurrentKernel):
    """The fused kernel of one mode ("rnn_tanh", "rnn_relu", "gru", "gru_reset_before") on the
    CPU (the LSTM has its own, numba_lstm_kernel)."""

    backend = "numba"
    device = "cpu"
    array_type = np.ndarray
    dtypes = (np.dtype(np.float32), np.dtype(np.float64))

    # ----- forward ---------------------------------------------------------------------------
    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, lengths=None,
                reverse=False, save=True):
        dtype, lengths = self.check(x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, lengths)
        steps, batch, inputs = x.shape
        hidden = h0.shape[1]
        shards = cpu_threads.shards(batch, 2 * steps * self.gates * hidden * (inputs + hidden))
        lease = workspace.lease()
        weights, biases = self._prepare(lease, dtype, hidden, w_ih, w_hh, b_ih, b_hh, shards, save)
        out = np.empty((steps, batch, hidden), dtype)
        h_n = np.empty((batch, hidden), dtype)

        def run_shard(rows):
            return self._forward_shard(lease, x, h0, weights, biases, lengths, reverse, save, rows,
                                       out, h_n)

        parts = cpu_threads.run(run_shard, shards)
        if not save:
            lease.give_back()
            return out, h_n, None, None
        saved = Saved(weights, reverse, parts)
        lease.give_back_with(saved)
        return out, h_n, None, saved

    def _prepare(self, lease, dtype, hidden, w_ih, w_hh, b_ih, b_hh, shards, save):
        """The Weights, their ``steps`` the (forward, backward) cuts of the per-step products, and
        the biases the forward loops add: (b_ih + b_hh without b_hn, b_hn) (b_hn: GRU)."""
        bias = np.zeros(self.gates * hidden, dtype)
        for b in (b_ih, b_hh):
            if b is not None:
                bias += b
        b_hn = np.zeros(hidden, dtype)
        if self.mode == "gru" and b_hh is not None:
            bias[2 * hidden:] -= b_hh[2 * hidden:]   # b_hn goes inside r * (...)
            b_hn[:] = b_hh[2 * hidden:]
        w_hh = np.ascontiguousarray(w_hh)
        shard_rows = max(s.stop - s.start for s in shards)

        def measuring():   # the cuts are measured with the BLAS threading the shards will have
            return cpu_threads.blas_threads(len(shards))

        def cut(w):
            parts, rows = numba_tiles.tiling(dtype, shard_rows, *w.shape, measuring)
            blocks = lease.empty((parts, w.shape[0], w.shape[1] // parts), dtype)
            return numba_tiles.split_columns(w, parts, blocks), rows

        # forward multiplies by W_hh^T, backward by W_hh; the reset-before GRU by its r, z rows
        # and its n rows in two products
        pieces = [w_hh[:2 * hidden], w_hh[2 * hidden:]] if self.mode == "gru_reset_before" else [w_hh]
        forward_cut = sum((cut(w.T) for w in pieces), ())
        backward_cut = sum((cut(w) for w in pieces), ()) if save else None
        return Weights(np.ascontiguousarray(w_ih), w_hh, (b_ih is not None, b_hh is not None), False,
                       (forward_cut, backward_cut)), (bias, b_hn)

    def _forward_shard(self, lease, x, h0, weights, biases, lengths, reverse, save, rows, out, h_n):
        steps, _, inputs = x.shape
        batch, hidden, dtype = rows.stop - rows.start, h0.shape[1], x.dtype
        xs = lease.empty((steps, batch, inputs), dtype)
        xs[...] = x[:, rows]
        gates = lease.empty((steps, batch, self.gates * hidden), dtype)
        gemm(xs.reshape(steps * batch, inputs), weights.w_ih, gates.reshape(steps * batch, -1),
             False, False, True)
        h = np.array(h0[rows], dtype=dtype, order="C")
        lengths = lengths[rows]
        kept = steps if save else 0   # inference saves nothing
        h_prev = lease.empty((kept, batch, hidden), dtype)
        scratch = (max(kept, 1), batch, hidden)   # per-step values that inference discards
        args = (lengths, reverse, h)
        (bias, b_hn), cut = biases, weights.steps[0]
        states = {"h_prev": h_prev}
        if self.mode == "gru":
            states["m_saved"] = lease.empty(scratch, dtype)
            numba_gru.gru_forward_loop(gates, bias, b_hn, *cut, *args, out, rows.start, h_prev,
                                       states["m_saved"])
        elif self.mode == "gru_reset_before":
            states["q_saved"] = lease.empty(scratch, dtype)
            numba_gru.gru_reset_before_forward_loop(gates, bias, *cut, *args, out, rows.start, h_prev,
                                                    states["q_saved"])
        else:
            numba_rnn.rnn_forward_loop(gates, bias, *cut, self.mode == "rnn_relu", *args, out,
                                       rows.start, h_prev)
        h_n[rows] = h
        return Shard(rows, xs, gates, states, lengths) if save else None

    # ----- backward --------------------------------------------------------------------------
    def _backward(self, saved, d_out, d_hn, d_cn, want):
        weights, reverse, shards = saved.weights, saved.reverse, saved.shards
        d_out = np.ascontiguousarray(d_out, dtype=weights.w_hh.dtype)
        scratch = workspace.lease()

        def run_shard(shard):
            rows = shard.rows
            return self._backward_shard(scratch, shard, weights, reverse, d_out,
                                        None if d_hn is None else d_hn[rows], want)

        parts = cpu_threads.run(run_shard, shards)
        scratch.give_back()
        grads = {}
        for name in parts[0]:
            pieces = [p[name] for p in parts]
            if len(pieces) == 1:
                grads[name] = pieces[0]
            elif name in _BATCH_AXIS:
                grads[name] = np.concatenate(pieces, axis=_BATCH_AXIS[name])
            else:
                grads[name] = sum(pieces)
        return grads

    def _backward_shard(self, scratch, shard, weights, reverse, d_out, d_hn, want):
        steps, batch, inputs = shard.x.shape
        h_prev, cut = shard.states["h_prev"], weights.steps[1]
        hidden, dtype, first = h_prev.shape[2], shard.x.dtype, shard.rows.start
        dh = np.zeros((batch, hidden), dtype) if d_hn is None else np.array(d_hn, dtype, order="C")
        grads = {"h0": dh}
        d_gi = scratch.empty(shard.acts.shape, dtype)
        d_gh = d_gi   # rnn, gru_reset_before: both biases add before the gates, same gradient
        if self.mode == "gru":
            d_gh = scratch.empty(shard.acts.shape, dtype)
            numba_gru.gru_backward_loop(shard.acts, *cut, shard.lengths, reverse, h_prev,
                                        shard.states["m_saved"], d_out, first, dh, d_gi, d_gh)
        elif self.mode == "gru_reset_before":
            numba_gru.gru_reset_before_backward_loop(shard.acts, *cut, shard.lengths, reverse, h_prev,
                                                     d_out, first, dh, d_gi)
        else:
            numba_rnn.rnn_backward_loop(shard.acts, *cut, self.mode == "rnn_relu", shard.lengths,
                                        reverse, d_out, first, dh, d_gi)
        rows = steps * batch
        d_gi2, d_gh2 = d_gi.reshape(rows, -1), d_gh.reshape(rows, -1)
        if want("x"):
            grads["x"] = np.empty((steps, batch, inputs), dtype)
            gemm(d_gi2, weights.w_ih, grads["x"].reshape(rows, inputs))
        if want("weight_ih"):
            grads["weight_ih"] = np.empty(weights.w_ih.shape, dtype)
            gemm(d_gi2, shard.x.reshape(rows, inputs), grads["weight_ih"], False, True)
        if want("weight_hh"):
            grads["weight_hh"] = np.empty(weights.w_hh.shape, dtype)
            for block, state in multiplied_states(self.mode, hidden, h_prev, shard.states.get("q_saved")):
                gemm(d_gh2[:, block], state.reshape(rows, hidden), grads["weight_hh"][block], False, True)
        has_ih, has_hh = weights.has_bias
        if has_ih and want("bias_ih"):
            grads["bias_ih"] = d_gi2.sum(axis=0)
        if has_hh and want("bias_hh"):   # rnn: the same sum as bias_ih
            same = d_gh is d_gi and "bias_ih" in grads
            grads["bias_hh"] = grads["bias_ih"].copy() if same else d_gh2.sum(axis=0)
        return {name: grad for name, grad in grads.items() if want(name)}


KERNELS = {mode: LSTM_KERNEL if mode == "lstm" else NumbaRecurrent(mode) for mode in GATES}
