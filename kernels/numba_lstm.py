"""The LSTM's time loop, forward and BPTT, as Numba kernels (one call each per sequence).

Per step t (gate order i, f, g, o; ``a`` the pre-activations, ``p = (w_ci, w_cf, w_co)`` the
peephole weights, zero for a plain LSTM):

    a = [x_t W_ih^T] + h W_hh^T + b_ih + b_hh          (bracket: hoisted, ``gates[t]``)
    i = sigma(a_i + w_ci c),  f = sigma(a_f + w_cf c),  g = tanh(a_g)
    c' = f c + i g,           o = sigma(a_o + w_co c'),  h' = o tanh(c')

and its derivative, with dh' and dc' the gradients reaching h' and c':

    da_o = dh' tanh(c') o (1 - o)
    dc~  = dc' + dh' o (1 - tanh(c')^2) + w_co da_o
    da_i = dc~ g i (1 - i),  da_f = dc~ c f (1 - f),  da_g = dc~ i (1 - g^2)
    dc   = dc~ f + w_ci da_i + w_cf da_f,              dh = da W_hh   (one GEMM per step)

Rows b with t >= lengths[b] are masked: their state passes through, their output is 0 and their
da is 0. Gradients of the weights are GEMMs over all steps after the loop (numba_recurrent).

The recurrent products are BLAS calls that add into arrays the loop already has (numba_blas):
forward adds h W_hh^T straight into ``gates[t]``; backward zeroes dh for the rows it has used and
adds da W_hh into it, so a masked row (da = 0) keeps its dh. The biases are added in the gates'
own passes, not in a pass of their own.

Each row is processed in several short loops rather than one: a loop that stores into many
arrays, or reads one array at an offset it also writes, makes LLVM give up vectorizing (its
runtime alias checks hit their limit), and the transcendentals then cost 8x more (measured: one
fused loop 2.6 ms, these passes 0.5 ms for B=32, T=50, H=128 in float32). Forward applies each
gate's nonlinearity in place over ``gates[t]``, through views named after the gates (measured,
gate arithmetic alone, one thread, B=32, T=100, H=256: 3.5 ms when each gate's pass also summed
the two pre-activation arrays into a separate ``acts``, 2.0 ms this way); row copies are explicit loops (measured a little faster than slice
assignment). Backward computes in the dtype of ``acts``: a literal 1 in ``1 - o`` would make
Numba compute in float64 for float32 arrays.
"""
import numpy as np
from numba import njit

from .numba_math import JIT_OPTIONS, sigmoid, tanh
from .numba_tiles import tiled_matmul


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def lstm_forward_loop(gates, bias, whh_t_parts, rows, peephole, lengths, reverse, h, c, packed,
                      first, h_prev, c_prev, tanh_c):
    """Run all steps. ``gates`` (T, B, 4H) holds x W_ih^T and receives i, f, g, o over it (rows
    past their length keep garbage); ``bias`` (4H,) is b_ih + b_hh; ``whh_t_parts`` is W_hh^T
    (H, 4H) in column blocks, multiplied ``rows`` rows at a time (numba_tiles); ``peephole`` (3, H); ``h``,
    ``c`` (B, H) hold the initial state and end as the final one. Outputs go to
    ``packed[t, first + b]``. ``h_prev``, ``c_prev`` (T, B, H) receive the states entering each
    step and ``tanh_c`` tanh(c'), for backward; for inference ``h_prev`` and ``c_prev`` have
    length 0 in time and ``tanh_c`` length 1 (scratch)."""
    steps, batch, hidden = gates.shape[0], gates.shape[1], h.shape[1]
    saving = h_prev.shape[0] > 0
    w_ci, w_cf, w_co = peephole[0], peephole[1], peephole[2]
    b_i, b_f = bias[:hidden], bias[hidden:2 * hidden]
    b_g, b_o = bias[2 * hidden:3 * hidden], bias[3 * hidden:]
    for s in range(steps):
        t = steps - 1 - s if reverse else s
        tiled_matmul(h, whh_t_parts, gates[t], True, rows)
        for b in range(batch):
            hb, cb, ob, sb = h[b], c[b], packed[t, first + b], gates[t, b]
            tcb = tanh_c[t if saving else 0, b]
            if saving:
                hpb, cpb = h_prev[t, b], c_prev[t, b]
                for j in range(hidden):
                    hpb[j] = hb[j]
                for j in range(hidden):
                    cpb[j] = cb[j]
            if t >= lengths[b]:
                ob[:] = 0
                continue
            i, f = sb[:hidden], sb[hidden:2 * hidden]
            g, o = sb[2 * hidden:3 * hidden], sb[3 * hidden:]
            for j in range(hidden):
                i[j] = sigmoid(i[j] + b_i[j] + w_ci[j] * cb[j])
            for j in range(hidden):
                f[j] = sigmoid(f[j] + b_f[j] + w_cf[j] * cb[j])
            for j in range(hidden):
                g[j] = tanh(g[j] + b_g[j])
            for j in range(hidden):
                cb[j] = f[j] * cb[j] + i[j] * g[j]
            for j in range(hidden):
                o[j] = sigmoid(o[j] + b_o[j] + w_co[j] * cb[j])
            for j in range(hidden):
                tcb[j] = tanh(cb[j])
            for j in range(hidden):
                hb[j] = o[j] * tcb[j]
            for j in range(hidden):
                ob[j] = hb[j]


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def lstm_backward_loop(acts, w_hh_parts, rows, peephole, lengths, reverse, c_prev, tanh_c, d_out,
                       first, dh, dc, d_gates, d_peephole):
    """BPTT over all steps. ``acts`` (T, B, 4H): i, f, g, o from forward; ``w_hh_parts`` is W_hh
    (4H, H) in column blocks, multiplied ``rows`` rows at a time; ``d_out[t, first + b]`` the gradient of the output; ``dh``,
    ``dc`` (B, H) hold the gradients of the final state and end as those of the initial state;
    ``d_gates`` (T, B, 4H) receives da; ``d_peephole`` (3, H) accumulates the peephole gradients,
    or is empty (plain LSTM: ``peephole`` is then zero)."""
    steps, batch, hidden = acts.shape[0], acts.shape[1], dh.shape[1]
    w_ci, w_cf, w_co = peephole[0], peephole[1], peephole[2]
    want_peephole = d_peephole.shape[0] > 0
    one = np.ones(1, dtype=acts.dtype)[0]   # not 1: int64 - float32 is float64 in Numba
    for s in range(steps):
        t = s if reverse else steps - 1 - s
        for b in range(batch):
            db = d_gates[t, b]
            if t >= lengths[b]:
                db[:] = 0
                continue
            ab, dhb, dcb, dob = acts[t, b], dh[b], dc[b], d_out[t, first + b]
            cpb, tcb = c_prev[t, b], tanh_c[t, b]
            i, f = ab[:hidden], ab[hidden:2 * hidden]
            g, o = ab[2 * hidden:3 * hidden], ab[3 * hidden:]
            di, df = db[:hidden], db[hidden:2 * hidden]
            dg, do = db[2 * hidden:3 * hidden], db[3 * hidden:]
            for j in range(hidden):
                dhb[j] += dob[j]
            for j in range(hidden):
                do[j] = dhb[j] * tcb[j] * o[j] * (one - o[j])
            for j in range(hidden):
                dcb[j] += dhb[j] * o[j] * (one - tcb[j] * tcb[j]) + w_co[j] * do[j]
            for j in range(hidden):
                di[j] = dcb[j] * g[j] * i[j] * (one - i[j])
            for j in range(hidden):
                df[j] = dcb[j] * cpb[j] * f[j] * (one - f[j])
            for j in range(hidden):
                dg[j] = dcb[j] * i[j] * (one - g[j] * g[j])
            for j in range(hidden):
                dcb[j] = dcb[j] * f[j] + w_ci[j] * di[j] + w_cf[j] * df[j]
            dhb[:] = 0   # the product below adds this step's dh into it
            if want_peephole:
                for j in range(hidden):
                    c_new = f[j] * cpb[j] + i[j] * g[j]
                    d_peephole[0, j] += di[j] * cpb[j]
                    d_peephole[1, j] += df[j] * cpb[j]
                    d_peephole[2, j] += do[j] * c_new
        tiled_matmul(d_gates[t], w_hh_parts, dh, True, rows)
