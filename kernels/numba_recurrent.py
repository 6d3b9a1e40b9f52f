"""The fused tanh/relu RNN and GRU layers on the CPU: GEMMs around one Numba time loop per batch
shard (numba_rnn, numba_gru), the shards shared among the team's threads.

``forward``: one product for the input projection of every step, ``x (T*B, I) @ W_ih^T``
(numba_matmul), then the mode's time loop per shard, which adds ``h @ W_hh^T`` into each step's
projection (numba_tiles) and does the gates, the state update, the output and what backward
saves. ``_backward``: the BPTT loop per shard, then ``dW_hh = da^T h_prev``, ``dW_ih = da^T x``,
``dx = da W_ih`` and the bias sums over all steps and rows at once. The large arrays come from
the workspace pool. The interface is recurrent_kernel's.
"""
import numpy as np

from . import (compile_ahead, compile_notice, cpu_threads, numba_gru, numba_matmul,  # noqa: F401
               numba_rnn, numba_team, numba_tiles, workspace)
from .numba_lstm_kernel import KERNEL as LSTM_KERNEL
from .recurrent_kernel import GATES, RecurrentKernel, Saved, Weights


class NumbaRecurrent(RecurrentKernel):
    """The fused kernel of one mode ("rnn_tanh", "rnn_relu", "gru", "gru_reset_before") on the
    CPU (the LSTM has its own, numba_lstm_kernel)."""

    backend = "numba"
    device = "cpu"
    array_type = np.ndarray
    xp = np
    dtypes = (np.dtype(np.float32), np.dtype(np.float64))

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, lengths=None,
                reverse=False, save=True, into=None):
        dtype, lengths = self.check(x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, lengths, into)
        steps, batch, inputs = x.shape
        hidden, width = h0.shape[1], self.gates * h0.shape[1]
        shards = cpu_threads.shards(batch, 2 * steps * width * (inputs + hidden))
        bounds = np.array([s.start for s in shards] + [batch], np.int64)
        lease = workspace.lease()
        shard_rows = max(s.stop - s.start for s in shards)
        weights = self._prepare(lease, dtype, w_ih, w_hh, b_ih, b_hh, shard_rows, len(shards), save)
        x = np.ascontiguousarray(x)
        gates = lease.empty((steps, batch, width), dtype)
        numba_matmul.matmul(x.reshape(-1, inputs), weights.w_ih, False, True, gates.reshape(-1, width))
        out, column = (np.empty((steps, batch, hidden), dtype), 0) if into is None else into
        kept = steps if save else 0   # inference saves nothing
        given = (gates, np.array(h0, dtype, order="C"), lengths,
                 lease.empty((kept, batch, hidden), dtype), out, column)
        # m (gru) or q = r h (gru_reset_before): saved, or one step of scratch for inference
        extra = lease.empty((max(kept, 1) if self.mode in _EXTRA else 0, batch, hidden), dtype)
        bias, b_hn, cut = *weights.steps[:2], weights.steps[2][0]
        args = {"gru": (bias, b_hn, cut, reverse, extra), "gru_reset_before": (bias, cut, reverse, extra)}
        args = args.get(self.mode, (bias, cut, self.mode == "rnn_relu", reverse))
        saved = None
        if save:
            states = {"h_prev": given[3]} | ({_EXTRA[self.mode]: extra} if self.mode in _EXTRA else {})
            saved = Saved(weights, reverse, x, gates, states, lengths, bounds)
            if compile_ahead.first(_WORK[self.mode][1], dtype):
                stand_ins = compile_ahead.stand_ins(dtype, 2, 3, 3, 3)   # dh, d_gi, d_gh, d_out
                compile_ahead.start(_WORK[self.mode][1], self._backward_arguments(saved, *stand_ins))
        numba_team.run(_WORK[self.mode][0], len(shards), (numba_team.counters(), bounds, given) + args)
        out = out if into is None else out[:, :, column:column + hidden]
        if not save:
            lease.give_back()
            return out, given[1], None, None
        lease.give_back_with(saved)
        return out, given[1], None, saved

    def _prepare(self, lease, dtype, w_ih, w_hh, b_ih, b_hh, shard_rows, threads, save):
        """The Weights, their ``steps`` (bias, b_hn, (forward cut, backward cut)): the biases the
        forward adds and the cuts of the per-step products (numba_tiles)."""
        hidden = w_hh.shape[1]
        w_hh = np.ascontiguousarray(w_hh)

        def cut(w):
            parts, rows = numba_tiles.tiling(dtype, shard_rows, *w.shape, threads)
            blocks = lease.empty((parts, w.shape[0], w.shape[1] // parts), dtype)
            return numba_tiles.split_columns(w, parts, blocks), rows

        # forward multiplies by W_hh^T, backward by W_hh; the reset-before GRU by its r, z rows
        # and its n rows in two products
        pieces = [w_hh[:2 * hidden], w_hh[2 * hidden:]] if self.mode == "gru_reset_before" else [w_hh]
        cuts = (sum((cut(w.T) for w in pieces), ()), sum((cut(w) for w in pieces), ()) if save else None)
        return Weights(np.ascontiguousarray(w_ih), w_hh, (b_ih is not None, b_hh is not None), False,
                       (*self._biases(dtype, hidden, b_ih, b_hh), cuts))

    def _backward(self, saved, d_out, d_hn, d_cn, want):
        steps, batch, _ = saved.x.shape
        dtype, (width, hidden) = saved.weights.w_hh.dtype, saved.weights.w_hh.shape
        d_out = np.require(d_out, dtype, "CW")   # the types compile_ahead compiled for
        dh = self._state_gradient(d_hn, batch, hidden, dtype)
        scratch = workspace.lease()
        d_gi = scratch.empty((steps, batch, width), dtype)
        d_gh = scratch.empty(d_gi.shape, dtype) if self.mode == "gru" else d_gi   # else the same
        numba_team.run(_WORK[self.mode][1], len(saved.bounds) - 1,
                       self._backward_arguments(saved, dh, d_gi, d_gh, d_out))
        grads = self._gradients_after_steps(numba_matmul.matmul, saved, d_gi, d_gh, {"h0": dh}, want)
        scratch.give_back()
        return grads

    def _backward_arguments(self, saved, dh, d_gi, d_gh, d_out):
        """The mode's backward work function's arguments (numba_rnn, numba_gru)."""
        cut, reverse = saved.weights.steps[2][1], saved.reverse
        given = (saved.acts, saved.states["h_prev"], saved.lengths, dh, d_gi, d_gh, d_out)
        rest = {"gru": (cut, reverse, saved.states.get("m_saved")), "gru_reset_before": (cut, reverse)}
        rest = rest.get(self.mode, (cut, self.mode == "rnn_relu", reverse))
        return (numba_team.counters(), saved.bounds, given) + rest


_EXTRA = {"gru": "m_saved", "gru_reset_before": "q_saved"}   # saved beside h_prev
_WORK = {"rnn_tanh": (numba_rnn.rnn_forward_work, numba_rnn.rnn_backward_work),
         "rnn_relu": (numba_rnn.rnn_forward_work, numba_rnn.rnn_backward_work),
         "gru": (numba_gru.gru_forward_work, numba_gru.gru_backward_work),
         "gru_reset_before": (numba_gru.gru_reset_before_forward_work,
                              numba_gru.gru_reset_before_backward_work)}

KERNELS = {mode: LSTM_KERNEL if mode == "lstm" else NumbaRecurrent(mode) for mode in GATES}
