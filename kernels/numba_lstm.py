"""The LSTM's time loop, forward and BPTT, as Numba kernels (one call each per sequence).

Per step t (gate order i, f, g, o; ``a`` the pre-activations, ``p = (w_ci, w_cf, w_co)`` the
peephole weights, zero for a plain LSTM):

    a = [x_t W_ih^T + b_ih + b_hh] + h W_hh^T          (bracket: hoisted, ``gates[t]``)
    i = sigma(a_i + w_ci c),  f = sigma(a_f + w_cf c),  g = tanh(a_g)
    c' = f c + i g,           o = sigma(a_o + w_co c'),  h' = o tanh(c')

and its derivative, with dh' and dc' the gradients reaching h' and c':

    da_o = dh' tanh(c') o (1 - o)
    dc~  = dc' + dh' o (1 - tanh(c')^2) + w_co da_o
    da_i = dc~ g i (1 - i),  da_f = dc~ c f (1 - f),  da_g = dc~ i (1 - g^2)
    dc   = dc~ f + w_ci da_i + w_cf da_f,              dh = da W_hh   (one GEMM per step)

Rows b with t >= lengths[b] are masked: their state passes through, their output is 0 and their
da is 0. Gradients of the weights are GEMMs over all steps after the loop (numba_recurrent).

Each row is processed in several short loops rather than one: a loop that stores into many
arrays, or reads one array at an offset it also writes, makes LLVM give up vectorizing (its
runtime alias checks hit their limit), and the transcendentals then cost 8x more (measured: one
fused loop 2.6 ms, these passes 0.5 ms for B=32, T=50, H=128 in float32).
"""
import numpy as np
from numba import njit

from .numba_math import JIT_OPTIONS, sigmoid, tanh


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def lstm_forward_loop(gates, whh_t, peephole, lengths, reverse, h, c, out, acts, h_prev, c_prev,
                      tanh_c):
    """Run all steps. ``gates`` (T, B, 4H) holds the hoisted pre-activations; ``h``, ``c`` (B, H)
    hold the initial state and end as the final one; ``peephole`` (3, H). ``acts`` (T, B, 4H)
    receives i, f, g, o and ``h_prev``, ``c_prev``, ``tanh_c`` (T, B, H) the states, for
    backward; for inference they have length 1 in time and are scratch."""
    steps, batch, hidden = out.shape
    w_ci, w_cf, w_co = peephole[0], peephole[1], peephole[2]
    recurrent = np.empty((batch, 4 * hidden), dtype=gates.dtype)
    for s in range(steps):
        t = steps - 1 - s if reverse else s
        np.dot(h, whh_t, recurrent)
        ts = min(t, acts.shape[0] - 1)
        for b in range(batch):
            hb, cb, ob, ab, rb = h[b], c[b], out[t, b], gates[t, b], recurrent[b]
            sb, tcb = acts[ts, b], tanh_c[ts, b]
            h_prev[ts, b] = hb
            c_prev[ts, b] = cb
            if t >= lengths[b]:
                ob[:] = 0
                continue
            for j in range(hidden):
                sb[j] = sigmoid(ab[j] + rb[j] + w_ci[j] * cb[j])
            for j in range(hidden):
                k = hidden + j
                sb[k] = sigmoid(ab[k] + rb[k] + w_cf[j] * cb[j])
            for k in range(2 * hidden, 3 * hidden):
                sb[k] = tanh(ab[k] + rb[k])
            for j in range(hidden):
                cb[j] = sb[hidden + j] * cb[j] + sb[j] * sb[2 * hidden + j]
            for j in range(hidden):
                k = 3 * hidden + j
                sb[k] = sigmoid(ab[k] + rb[k] + w_co[j] * cb[j])
            for j in range(hidden):
                tcb[j] = tanh(cb[j])
            for j in range(hidden):
                hb[j] = sb[3 * hidden + j] * tcb[j]
            ob[:] = hb


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def lstm_backward_loop(acts, whh, peephole, lengths, reverse, c_prev, tanh_c, d_out, dh, dc,
                       d_gates, d_peephole):
    """BPTT over all steps. ``acts`` (T, B, 4H): i, f, g, o from forward; ``dh``, ``dc`` (B, H)
    hold the gradients of the final state and end as those of the initial state; ``d_gates``
    (T, B, 4H) receives da; ``d_peephole`` (3, H) accumulates the peephole gradients, or is empty
    (plain LSTM: ``peephole`` is then zero)."""
    steps, batch, hidden = d_out.shape
    w_ci, w_cf, w_co = peephole[0], peephole[1], peephole[2]
    want_peephole = d_peephole.shape[0] > 0
    back = np.empty((batch, hidden), dtype=acts.dtype)
    for s in range(steps):
        t = s if reverse else steps - 1 - s
        for b in range(batch):
            db = d_gates[t, b]
            if t >= lengths[b]:
                db[:] = 0
                continue
            ab, dhb, dcb, dob = acts[t, b], dh[b], dc[b], d_out[t, b]
            cpb, tcb = c_prev[t, b], tanh_c[t, b]
            for j in range(hidden):
                dhb[j] += dob[j]
            for j in range(hidden):
                o = ab[3 * hidden + j]
                db[3 * hidden + j] = dhb[j] * tcb[j] * o * (1 - o)
            for j in range(hidden):
                o, tc = ab[3 * hidden + j], tcb[j]
                dcb[j] += dhb[j] * o * (1 - tc * tc) + w_co[j] * db[3 * hidden + j]
            for j in range(hidden):
                i, g = ab[j], ab[2 * hidden + j]
                db[j] = dcb[j] * g * i * (1 - i)
            for j in range(hidden):
                f = ab[hidden + j]
                db[hidden + j] = dcb[j] * cpb[j] * f * (1 - f)
            for j in range(hidden):
                i, g = ab[j], ab[2 * hidden + j]
                db[2 * hidden + j] = dcb[j] * i * (1 - g * g)
            for j in range(hidden):
                dcb[j] = dcb[j] * ab[hidden + j] + w_ci[j] * db[j] + w_cf[j] * db[hidden + j]
            if want_peephole:
                for j in range(hidden):
                    c_new = ab[hidden + j] * cpb[j] + ab[j] * ab[2 * hidden + j]
                    d_peephole[0, j] += db[j] * cpb[j]
                    d_peephole[1, j] += db[hidden + j] * cpb[j]
                    d_peephole[2, j] += db[3 * hidden + j] * c_new
        np.dot(d_gates[t], whh, back)
        for b in range(batch):
            if t < lengths[b]:
                dh[b] = back[b]
