"""The GRU's time loops, forward and BPTT, as Numba kernels, in both forms (``reset_after``, see
tinygrad_rnn.nn.cells).

PyTorch's form (gate order r, z, n; r scales the recurrent part of n after its bias):

    gi = [x_t W_ih^T] + b_ih + [b_hr, b_hz, 0],   gh = h W_hh^T     (bracket hoisted)
    r = sigma(gi_r + gh_r),  z = sigma(gi_z + gh_z),  m = gh_n + b_hn
    n = tanh(gi_n + r m),    h' = n + z (h - n)

    da_n = dh' (1 - z) (1 - n^2),  da_z = dh' (h - n) z (1 - z),  da_r = da_n m r (1 - r)
    d gi = [da_r, da_z, da_n],     d gh = [da_r, da_z, da_n r],    dh = dh' z + d gh W_hh

With the reset gate before the product (Cho et al.; ``gru_reset_before_*``) the step's GEMM
splits in two, the second needing r:

    [gh_r, gh_z] = h W_h[rz]^T,  q = r h,  n = tanh(a_n + q W_hn^T)   (a = [x_t W_ih^T] + b_ih + b_hh)
    dq = da_n W_hn,  da_r = dq h r (1 - r),  dh = dh' z + dq r + [da_r, da_z] W_h[rz]

and both biases get da; dW_h[rz] = [da_r, da_z]^T h, dW_hn = da_n^T q.

Masked rows (t >= lengths[b]) pass their state through, output 0 and get zero gradients.
"""
import numpy as np
from numba import njit

from .numba_math import JIT_OPTIONS, sigmoid, tanh
from .numba_rnn import masked_after_saving, next_shard
from .numba_team import finish
from .numba_tiles import tiled_matmul

# The work functions are one thread's share of a call, a batch shard at a time (numba_rnn has
# ``next_shard``, ``given`` and ``cut``); the gates are (T, B, 3H), r, z, n written over x W_ih^T.


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def gru_forward_work(counters, bounds, given, bias, b_hn, cut, reverse, m_saved):
    """``bias`` is b_ih + [b_hr, b_hz, 0]; ``m_saved`` (T, B, H) receives m for backward (one
    step of scratch for inference)."""
    gates, h, lengths, h_prev, out, column = given
    steps, hidden = gates.shape[0], h.shape[1]
    n_input = np.empty(hidden, dtype=gates.dtype)
    b_n = bias[2 * hidden:]
    while True:
        first, last = next_shard(counters, bounds)
        if first < 0:
            return
        recurrent = np.empty((last - first, 3 * hidden), dtype=gates.dtype)
        for s in range(steps):
            t = steps - 1 - s if reverse else s
            tiled_matmul(h[first:last], cut[0], recurrent, False, cut[1])
            for b in range(first, last):
                h_row, out_row, gate_row = h[b], out[t, b, column:column + hidden], gates[t, b]
                rec_row = recurrent[b - first]
                m_row = m_saved[t if h_prev.shape[0] else 0, b]
                if masked_after_saving(h_row, h_prev, t, b, lengths, out_row):
                    continue
                _reset_and_update(gate_row, bias, rec_row)
                for j in range(hidden):
                    m_row[j] = rec_row[2 * hidden + j] + b_hn[j]
                for j in range(hidden):
                    n_input[j] = gate_row[2 * hidden + j] + b_n[j] + gate_row[j] * m_row[j]
                for j in range(hidden):
                    gate_row[2 * hidden + j] = tanh(n_input[j])
                _new_state(gate_row, h_row, out_row)
        finish(counters)


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def gru_backward_work(counters, bounds, given, cut, reverse, m_saved):
    """``d_gi``, ``d_gh`` in ``given`` receive the gradients of the input and recurrent
    pre-activations."""
    acts, h_prev, lengths, dh, d_gi, d_gh, d_out = given
    steps, hidden = acts.shape[0], dh.shape[1]
    one = acts.dtype.type(1)   # not 1: int64 - float32 is float64 in Numba
    while True:
        first, last = next_shard(counters, bounds)
        if first < 0:
            return
        for s in range(steps):
            t = s if reverse else steps - 1 - s
            for b in range(first, last):
                d_gi_row, d_gh_row = d_gi[t, b], d_gh[t, b]
                if t >= lengths[b]:
                    d_gi_row[:] = 0
                    d_gh_row[:] = 0
                    continue
                act_row, dh_row, m_row = acts[t, b], dh[b], m_saved[t, b]
                _d_update_and_candidate(act_row, h_prev[t, b], dh_row, d_out[t, b], d_gi_row, one)
                for j in range(hidden):
                    r, z, n = act_row[j], act_row[hidden + j], act_row[2 * hidden + j]
                    d_gi_row[j] = dh_row[j] * (one - z) * (one - n * n) * m_row[j] * r * (one - r)
                for k in range(2 * hidden):
                    d_gh_row[k] = d_gi_row[k]
                for j in range(hidden):
                    d_gh_row[2 * hidden + j] = d_gi_row[2 * hidden + j] * act_row[j]
                for j in range(hidden):
                    dh_row[j] *= act_row[hidden + j]   # the product below adds d gh W_hh into it
            tiled_matmul(d_gh[t, first:last], cut[0], dh[first:last], True, cut[1])
        finish(counters)


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def gru_reset_before_forward_work(counters, bounds, given, bias, cut, reverse, q_saved):
    """The reset-before form: ``bias`` is b_ih + b_hh; ``cut`` holds W_h[rz]^T (H, 2H) and
    W_hn^T (H, H), each with its rows per product; ``q_saved`` (T, B, H) receives q = r h (one
    step of scratch for inference)."""
    gates, h, lengths, h_prev, out, column = given
    steps, hidden = gates.shape[0], h.shape[1]
    while True:
        first, last = next_shard(counters, bounds)
        if first < 0:
            return
        recurrent = np.empty((last - first, 2 * hidden), dtype=gates.dtype)
        candidate = np.empty((last - first, hidden), dtype=gates.dtype)
        for s in range(steps):
            t = steps - 1 - s if reverse else s
            q = q_saved[t if h_prev.shape[0] else 0]
            tiled_matmul(h[first:last], cut[0], recurrent, False, cut[1])
            for b in range(first, last):
                h_row, gate_row, rec_row, q_row = h[b], gates[t, b], recurrent[b - first], q[b]
                # a masked row's q is 0: finite, backward multiplies it by a zero gradient
                if masked_after_saving(h_row, h_prev, t, b, lengths, q_row):
                    continue
                _reset_and_update(gate_row, bias, rec_row)
                for j in range(hidden):
                    q_row[j] = gate_row[j] * h_row[j]
            tiled_matmul(q[first:last], cut[2], candidate, False, cut[3])
            for b in range(first, last):
                h_row, out_row, gate_row = h[b], out[t, b, column:column + hidden], gates[t, b]
                cand_row = candidate[b - first]
                if t >= lengths[b]:
                    out_row[:] = 0
                    continue
                for j in range(hidden):
                    n = 2 * hidden + j
                    gate_row[n] = tanh(gate_row[n] + bias[n] + cand_row[j])
                _new_state(gate_row, h_row, out_row)
        finish(counters)


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def gru_reset_before_backward_work(counters, bounds, given, cut, reverse):
    """BPTT of the reset-before form: ``cut`` holds W_h[rz] (2H, H) and W_hn (H, H); ``d_gi``
    (also ``d_gh``) receives da = [da_r, da_z, da_n], the gradient of both pre-activations."""
    acts, h_prev, lengths, dh, d_gates, _, d_out = given
    steps, hidden = acts.shape[0], dh.shape[1]
    one = acts.dtype.type(1)   # not 1: int64 - float32 is float64 in Numba
    while True:
        first, last = next_shard(counters, bounds)
        if first < 0:
            return
        d_reset = np.empty((last - first, hidden), dtype=acts.dtype)
        for s in range(steps):
            t = s if reverse else steps - 1 - s
            for b in range(first, last):
                d_row = d_gates[t, b]
                if t >= lengths[b]:
                    d_row[:] = 0
                    continue
                _d_update_and_candidate(acts[t, b], h_prev[t, b], dh[b], d_out[t, b], d_row, one)
            tiled_matmul(d_gates[t, first:last, 2 * hidden:], cut[2], d_reset, False, cut[3])
            for b in range(first, last):
                if t >= lengths[b]:
                    continue
                act_row, dh_row, d_row = acts[t, b], dh[b], d_gates[t, b]
                h_prev_row, dq_row = h_prev[t, b], d_reset[b - first]
                for j in range(hidden):
                    r = act_row[j]
                    d_row[j] = dq_row[j] * h_prev_row[j] * r * (one - r)
                for j in range(hidden):   # the product below adds more
                    dh_row[j] = dh_row[j] * act_row[hidden + j] + dq_row[j] * act_row[j]
            tiled_matmul(d_gates[t, first:last, :2 * hidden], cut[0], dh[first:last], True, cut[1])
        finish(counters)


# The steps of both forms share these pieces (each a row of one step), inlined where they are
# called: as calls, LLVM rounds their arithmetic differently (fused multiply-adds).

@njit(inline="always", **JIT_OPTIONS)
def _reset_and_update(gate_row, bias, rec_row):
    """r and z over their input parts in ``gate_row`` (3H,), ``rec_row`` their recurrent parts."""
    for k in range(2 * (gate_row.shape[0] // 3)):
        gate_row[k] = sigmoid(gate_row[k] + bias[k] + rec_row[k])


@njit(inline="always", **JIT_OPTIONS)
def _new_state(gate_row, h_row, out_row):
    """h' = n + z (h - n) into ``h_row`` and ``out_row``, from r, z, n in ``gate_row``."""
    hidden = h_row.shape[0]
    for j in range(hidden):
        n = gate_row[2 * hidden + j]
        h_row[j] = n + gate_row[hidden + j] * (h_row[j] - n)
    for j in range(hidden):
        out_row[j] = h_row[j]


@njit(inline="always", **JIT_OPTIONS)
def _d_update_and_candidate(act_row, h_prev_row, dh_row, d_out_row, d_row, one):
    """dh' = ``dh_row`` + ``d_out_row`` (left in ``dh_row``), then da_z and da_n into the last two
    thirds of ``d_row`` (3H,), from r, z, n in ``act_row``."""
    hidden = dh_row.shape[0]
    for j in range(hidden):
        dh_row[j] += d_out_row[j]
    for j in range(hidden):
        z, n = act_row[hidden + j], act_row[2 * hidden + j]
        d_row[2 * hidden + j] = dh_row[j] * (one - z) * (one - n * n)
    for j in range(hidden):
        z, n = act_row[hidden + j], act_row[2 * hidden + j]
        d_row[hidden + j] = dh_row[j] * (h_prev_row[j] - n) * z * (one - z)
