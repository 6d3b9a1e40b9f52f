"""The fused LSTM layer on the CPU: a team of threads, each step cut by hidden units (numba_lstm).

``forward`` runs the T steps on the team after a first step in which each thread copies its
block of [W_ih, W_hh]^T into tiles (numba_tiles measures the cut); ``_backward`` runs BPTT and
the weight gradients the same way; every gradient comes back in PyTorch's layout and gate order.
The team has P threads, the largest P up to the usable threads that divides H into blocks of at
least ``MIN_UNITS`` units with ``cpu_threads.MIN_FLOPS`` of work each; else one thread.
"""
import numpy as np

from . import compile_ahead, cpu_threads, numba_team, numba_tiles, workspace
from .numba_lstm import TeamStates, TeamWeights, lstm_backward_work, lstm_forward_work, slots
from .recurrent_kernel import RecurrentKernel, Saved, Weights

MIN_UNITS = 16   # narrower blocks make the per-step GEMMs too thin


class NumbaLSTM(RecurrentKernel):
    """The fused LSTM kernel (with or without peepholes) on the CPU."""

    backend = "numba"
    device = "cpu"
    array_type = np.ndarray
    xp = np
    dtypes = (np.dtype(np.float32), np.dtype(np.float64))

    def __init__(self):
        super().__init__("lstm")

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, lengths=None,
                reverse=False, save=True, into=None):
        dtype, lengths = self.check(x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, lengths, into)
        steps, batch, inputs = x.shape
        hidden = h0.shape[1]
        threads = _blocks(hidden, 2 * steps * batch * self.gates * hidden * (inputs + hidden))
        lease = workspace.lease()
        weights = self._prepare(lease, dtype, batch, threads, w_ih, w_hh, b_ih, b_hh, peephole, save)
        units, kept, slot_count = hidden // threads, steps if save else 1, steps + 1 if save else 2
        states = TeamStates(lease.empty((threads, kept, self.gates, batch, units), dtype),
                            lease.empty((slot_count, batch, inputs + hidden), dtype),
                            lease.empty((slot_count, threads, batch, units), dtype),
                            lease.empty((kept, threads, batch, units), dtype))
        out, column = (np.empty((steps, batch, hidden), dtype), 0) if into is None else into
        x, h0, c0 = (np.ascontiguousarray(a) for a in (x, h0, c0))
        if save and compile_ahead.first(lstm_backward_work, dtype):
            # d_out, (dh, dc), d_gates and the gradients, as arrays of their types
            stand_ins = compile_ahead.stand_ins(dtype, 3, (2, 2), 3, (2, 2, 1, 2, 2))
            compile_ahead.start(lstm_backward_work,
                                _backward_arguments(weights, states, x, lengths, reverse, *stand_ins))
        given = (x, h0, c0, weights.w_ih, weights.w_hh)
        numba_team.run(lstm_forward_work, threads, (numba_team.counters(), given, weights.steps,
                                                    states, lengths, reverse, save, out, column))
        out = out if into is None else out[:, :, column:column + hidden]
        first = slots(0, steps, reverse, save)[0]   # where the team's first step put h0, c0
        final = slots(steps - 1, steps, reverse, save)[1] if steps else first
        h_n = states.x_and_h[final, :, inputs:].copy()
        c_n = states.cells[final].transpose(1, 0, 2).reshape(batch, hidden).copy()
        if not save:
            lease.give_back()
            return out, h_n, c_n, None
        by_name = {name: getattr(states, name) for name in TeamStates._fields[1:]}
        saved = Saved(weights, reverse, x, states.acts, by_name, lengths)
        lease.give_back_with(saved)
        return out, h_n, c_n, saved

    def _backward(self, saved, d_out, d_hn, d_cn, want):
        weights = saved.weights
        states = TeamStates(saved.acts, **saved.states)
        blocks, steps, _, batch, units = saved.acts.shape
        width = self.gates * blocks * units
        dtype, hidden, inputs = saved.acts.dtype, blocks * units, saved.x.shape[2]
        d_out = np.require(d_out, dtype, "CW")   # the types compile_ahead compiled for
        dh, dc = (self._state_gradient(d, batch, hidden, dtype) for d in (d_hn, d_cn))
        has_ih, has_hh = weights.has_bias
        wanted = (want("weight_ih"), want("weight_hh"),
                  has_ih and want("bias_ih") or has_hh and want("bias_hh"), want("x"))
        shapes = [(width, inputs), (width, hidden), (width,), (steps * batch, inputs)]
        grads = tuple(np.empty(shape if w else (0,) * len(shape), dtype)
                      for shape, w in zip(shapes, wanted))
        d_peephole = np.zeros((3, hidden) if weights.has_peephole else (0, 0), dtype)
        scratch = workspace.lease()
        numba_team.run(lstm_backward_work, blocks, _backward_arguments(
            weights, states, saved.x, saved.lengths, saved.reverse, d_out, (dh, dc),
            scratch.empty((steps, batch, width), dtype), grads + (d_peephole,)))
        scratch.give_back()
        d_w_ih, d_w_hh, d_bias, dx = grads
        result = {"x": dx.reshape(steps, batch, inputs) if wanted[3] else None, "h0": dh,
                  "c0": dc, "weight_ih": d_w_ih, "weight_hh": d_w_hh}
        if has_ih:
            result["bias_ih"] = d_bias
        if has_hh:
            result["bias_hh"] = d_bias.copy() if has_ih else d_bias
        if weights.has_peephole:
            result["peephole"] = d_peephole
        return {name: grad for name, grad in result.items() if want(name)}

    def _prepare(self, lease, dtype, batch, blocks, w_ih, w_hh, b_ih, b_hh, peephole, save):
        """The Weights, their ``steps`` the arrays the team prepares them in (borrowed through
        ``lease``) and the cuts of the per-step GEMMs (numba_lstm.TeamWeights)."""
        hidden, inputs = w_hh.shape[1], w_ih.shape[1]
        units = hidden // blocks

        # contiguous tiles (numba_tiles): a transposed weight or a view of W_hh's columns made
        # these short products slower
        parts, rows = numba_tiles.tiling(dtype, batch, inputs + hidden, units, blocks)
        tiles = lease.empty((blocks, self.gates, parts, inputs + hidden, units // parts), dtype)
        if save:
            back_parts, back_rows = numba_tiles.tiling(dtype, batch, self.gates * hidden, units, blocks)
            w_hh_tiles = lease.empty((blocks, back_parts, self.gates * hidden, units // back_parts), dtype)
        else:   # no backward
            back_rows, w_hh_tiles = 1, np.empty((0, 0, 0, 0), dtype)
        # repeated for each row, so that the steps' gate loops run over B * U elements at once
        bias = self._biases(dtype, hidden, b_ih, b_hh)[0].reshape(self.gates, hidden)
        bias_rows = _by_block_and_row(bias, lease.empty((blocks, self.gates, batch, units), dtype))
        peep_rows = lease.empty((blocks, 3, batch, units), dtype)
        if peephole is None:
            peep_rows.fill(0)
        else:
            _by_block_and_row(peephole, peep_rows)
        team = TeamWeights(tiles, rows, w_hh_tiles, back_rows, bias_rows, peep_rows)
        return Weights(np.ascontiguousarray(w_ih), np.ascontiguousarray(w_hh),
                       (b_ih is not None, b_hh is not None), peephole is not None, team)


def _backward_arguments(weights, states, x, lengths, reverse, d_out, d_state, d_gates, grads):
    """``lstm_backward_work``'s arguments (numba_lstm) for a forward that saved ``weights`` and
    ``states`` for input ``x``."""
    steps, batch, inputs = x.shape
    h_prev = states.x_and_h[reverse:reverse + steps, :, inputs:]   # a view: rows I + H apart
    return (numba_team.counters(), weights.steps, states, lengths, reverse, d_out, d_state, d_gates,
            (x.reshape(steps * batch, inputs), h_prev.reshape(steps * batch, -1), weights.w_ih), grads)


def _blocks(hidden, flops):
    """The largest P up to the usable threads with H / P >= MIN_UNITS, P dividing H and at
    least MIN_FLOPS of work per thread."""
    for blocks in range(numba_team.available(), 1, -1):
        if (hidden % blocks == 0 and hidden // blocks >= MIN_UNITS
                and flops >= blocks * cpu_threads.MIN_FLOPS):
            return blocks
    return 1


def _by_block_and_row(per_unit, out):
    """``per_unit`` (G, H) into ``out`` (P, G, B, H / P): block k's units, repeated for each row."""
    blocks, gates, _, units = out.shape
    out[...] = per_unit.reshape(gates, blocks, 1, units).transpose(1, 0, 2, 3)
    return out


KERNEL = NumbaLSTM()
