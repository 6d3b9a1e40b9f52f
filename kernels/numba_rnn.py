"""The Elman RNN's time loop (tanh or relu), forward and BPTT, as Numba kernels.

Per step t:  h' = act(a),  a = [x_t W_ih^T] + h W_hh^T + b_ih + b_hh  (bracket hoisted);
backward:    da = dh' act'(a)  with act' = 1 - h'^2 (tanh) or [h' > 0] (relu, as PyTorch),
             dh = da W_hh      (one GEMM per step, adding into dh).
Rows b with t >= lengths[b] are masked: their state passes through, their output is 0 and their
da is 0.
"""
import numpy as np
from numba import njit

from .numba_math import JIT_OPTIONS, tanh
from .numba_shards import backward_shard, forward_shard, next_shard
from .numba_team import finish
from .numba_tiles import tiled_matmul


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def rnn_forward_work(counters, given, bias, cut, relu, reverse):
    """One thread's share of a forward: whole batch shards, one per ticket (numba_shards has
    ``given``); ``cut`` = (W_hh^T in column blocks, rows per product) (numba_tiles)."""
    nothing = given[1][:0]
    while True:
        k = next_shard(counters, given)
        if k < 0:
            return
        first, gates, h, lengths, h_prev, _ = forward_shard(k, given, nothing)
        rnn_forward_loop(gates, bias, cut[0], cut[1], relu, lengths, reverse, h, given[-1], first,
                         h_prev)
        finish(counters)


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def rnn_backward_work(counters, given, cut, relu, reverse):
    """One thread's share of BPTT: whole batch shards, one per ticket (numba_shards has
    ``given``); ``cut`` = (W_hh in column blocks, rows per product)."""
    nothing = given[1][:0]
    while True:
        k = next_shard(counters, given)
        if k < 0:
            return
        first, acts, _, lengths, dh, d_gates, _, _ = backward_shard(k, given, nothing)
        rnn_backward_loop(acts, cut[0], cut[1], relu, lengths, reverse, given[-1], first, dh, d_gates)
        finish(counters)


@njit(inline="always", **JIT_OPTIONS)
def rnn_forward_loop(gates, bias, whh_t_parts, rows, relu, lengths, reverse, h, out, first,
                     h_prev):
    """Run all steps. ``gates`` (T, B, H) holds x W_ih^T and receives h' over it (what backward
    needs); ``bias`` (H,) is b_ih + b_hh; ``whh_t_parts`` is W_hh^T (H, H) in column
    blocks, multiplied ``rows`` rows at a time (numba_tiles); ``h`` (B, H) holds the initial state and ends as the final one.
    Outputs go to ``out[t, first + b]``; ``h_prev`` (T, B, H) receives the states for
    backward, or has length 0 in time (inference)."""
    steps, batch, hidden = gates.shape[0], gates.shape[1], h.shape[1]
    saving = h_prev.shape[0] > 0
    zero = np.zeros(1, dtype=gates.dtype)[0]
    for s in range(steps):
        t = steps - 1 - s if reverse else s
        tiled_matmul(h, whh_t_parts, gates[t], True, rows)
        for b in range(batch):
            h_row, out_row, act_row = h[b], out[t, first + b], gates[t, b]
            if masked_after_saving(h_row, h_prev, t, b, saving, lengths, out_row):
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


@njit(inline="always")
def masked_after_saving(h_row, h_prev, t, b, saving, lengths, out_row):
    """The start of row b of step t in the forward loops (here and numba_gru): the state entering
    it into ``h_prev[t, b]`` when ``saving``; then, when the row is past its length, ``out_row``
    zeroed and True (the state passes through). Inlined where it is called, as written there."""
    if saving:
        h_prev_row = h_prev[t, b]
        for j in range(h_row.shape[0]):
            h_prev_row[j] = h_row[j]
    if t >= lengths[b]:
        out_row[:] = 0
        return True
    return False


@njit(inline="always", **JIT_OPTIONS)
def rnn_backward_loop(acts, w_hh_parts, rows, relu, lengths, reverse, d_out, first, dh, d_gates):
    """BPTT over all steps. ``acts`` (T, B, H): h' from forward; ``w_hh_parts`` is W_hh (H, H) in
    column blocks, multiplied ``rows`` rows at a time; ``d_out[t, first + b]`` the gradient of the output; ``dh`` (B, H) holds the
    gradient of the final state and ends as that of the initial state; ``d_gates`` receives
    da."""
    steps, batch, hidden = acts.shape[0], acts.shape[1], dh.shape[1]
    one, zero = np.ones(1, dtype=acts.dtype)[0], np.zeros(1, dtype=acts.dtype)[0]
    for s in range(steps):
        t = s if reverse else steps - 1 - s
        for b in range(batch):
            d_row = d_gates[t, b]
            if t >= lengths[b]:
                d_row[:] = 0
                continue
            act_row, dh_row, d_out_row = acts[t, b], dh[b], d_out[t, first + b]
            if relu:
                for j in range(hidden):
                    d_row[j] = (dh_row[j] + d_out_row[j]) * (one if act_row[j] > zero else zero)
            else:
                for j in range(hidden):
                    d_row[j] = (dh_row[j] + d_out_row[j]) * (one - act_row[j] * act_row[j])
            dh_row[:] = 0   # the product below adds this step's dh into it
        tiled_matmul(d_gates[t], w_hh_parts, dh, True, rows)
