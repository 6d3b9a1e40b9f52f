"""The Elman RNN's time loop (tanh or relu), forward and BPTT, as Numba work functions that the
team's threads run one batch shard at a time.

Per step t:  h' = act(a),  a = [x_t W_ih^T] + h W_hh^T + b_ih + b_hh  (bracket hoisted);
backward:    da = dh' act'(a)  with act' = 1 - h'^2 (tanh) or [h' > 0] (relu, as PyTorch),
             dh = da W_hh      (one GEMM per step, adding into dh).
Rows b with t >= lengths[b] are masked: their state passes through, their output is 0 and their
da is 0. Arrays are (T, B, ...) as PyTorch has them; a shard's rows of a step, ``a[t, first:last]``,
are contiguous, and the per-step products take them as they are.
"""
import numpy as np
from numba import njit

from .numba_math import JIT_OPTIONS, tanh
from .numba_team import finish, next_ticket
from .numba_tiles import tiled_matmul


@njit(inline="always")
def next_shard(counters, bounds):
    """The (first, last) rows of the next batch shard a thread takes (shard k has rows
    ``bounds[k]:bounds[k + 1]``); first = -1 when none is left."""
    shards = bounds.shape[0] - 1
    k = next_ticket(counters, shards, shards)   # one step: every shard may start
    return (bounds[k], bounds[k + 1]) if k < shards else (-1, -1)


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def rnn_forward_work(counters, bounds, given, bias, cut, relu, reverse):
    """One thread's share of a forward. ``given`` = (gates (T, B, H) holding x W_ih^T, which
    receive h' (what backward reads), h (B, H) the initial state, which ends as the final one,
    lengths (B,), h_prev (T, B, H) the states for backward (0 steps for inference), out
    (T, B, W), column: the output goes to ``out[:, :, column:column + H]``); ``bias`` b_ih +
    b_hh; ``cut`` = (W_hh^T in column blocks, rows per product) (numba_tiles)."""
    gates, h, lengths, h_prev, out, column = given
    steps, hidden = gates.shape[0], h.shape[1]
    zero = gates.dtype.type(0)
    while True:
        first, last = next_shard(counters, bounds)
        if first < 0:
            return
        for s in range(steps):
            t = steps - 1 - s if reverse else s
            tiled_matmul(h[first:last], cut[0], gates[t, first:last], True, cut[1])
            for b in range(first, last):
                h_row, out_row, act_row = h[b], out[t, b, column:column + hidden], gates[t, b]
                if masked_after_saving(h_row, h_prev, t, b, lengths, out_row):
                    continue
                if relu:
                    for j in range(hidden):
                        act_row[j] = max(act_row[j] + bias[j], zero)
                else:
                    for j in range(hidden):
                        act_row[j] = tanh(act_row[j] + bias[j])
                for j in range(hidden):
                    h_row[j] = act_row[j]
                for j in range(hidden):
                    out_row[j] = act_row[j]
        finish(counters)


@njit(inline="always")
def masked_after_saving(h_row, h_prev, t, b, lengths, out_row):
    """The start of row b of step t in the forward loops (here and numba_gru): the state entering
    it into ``h_prev[t, b]`` when saving (``h_prev`` has steps); then, when the row is past its
    length, ``out_row`` zeroed and True (the state passes through)."""
    if h_prev.shape[0] > 0:
        h_prev_row = h_prev[t, b]
        for j in range(h_row.shape[0]):
            h_prev_row[j] = h_row[j]
    if t >= lengths[b]:
        out_row[:] = 0
        return True
    return False


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def rnn_backward_work(counters, bounds, given, cut, relu, reverse):
    """One thread's share of BPTT. ``given`` = (acts (T, B, H) h' from forward, h_prev, lengths,
    dh (B, H) the gradient of the final state, which ends as that of the initial state, d_gi
    (T, B, H) receiving da, d_gh (here d_gi), d_out (T, B, H)); ``cut`` = (W_hh in column
    blocks, rows per product)."""
    acts, _, lengths, dh, d_gates, _, d_out = given
    steps, hidden = acts.shape[0], dh.shape[1]
    one, zero = acts.dtype.type(1), acts.dtype.type(0)
    while True:
        first, last = next_shard(counters, bounds)
        if first < 0:
            return
        for s in range(steps):
            t = s if reverse else steps - 1 - s
            for b in range(first, last):
                d_row = d_gates[t, b]
                if t >= lengths[b]:
                    d_row[:] = 0
                    continue
                act_row, dh_row, d_out_row = acts[t, b], dh[b], d_out[t, b]
                if relu:
                    for j in range(hidden):
                        d_row[j] = (dh_row[j] + d_out_row[j]) * (one if act_row[j] > zero else zero)
                else:
                    for j in range(hidden):
                        d_row[j] = (dh_row[j] + d_out_row[j]) * (one - act_row[j] * act_row[j])
                dh_row[:] = 0   # the product below adds this step's dh into it
            tiled_matmul(d_gates[t, first:last], cut[0], dh[first:last], True, cut[1])
        finish(counters)
