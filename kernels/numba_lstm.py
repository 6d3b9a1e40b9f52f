"""The LSTM's time loop, forward and BPTT, as Numba kernels (one call each per sequence).

Per step t (gate order i, f, g, o; ``a`` the pre-activations, ``p = (w_ci, w_cf, w_co)`` the
optional peephole weights):

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
"""
import numpy as np
from numba import njit

from .numba_math import JIT_OPTIONS, sigmoid, tanh


@njit(cache=True, **JIT_OPTIONS)
def lstm_forward_loop(gates, whh_t, peephole, lengths, reverse, h, c, out, h_prev, c_prev, tanh_c):
    """Run all steps. ``gates`` (T, B, 4H) holds the hoisted pre-activations and is overwritten
    with the activations i, f, g, o; ``h``, ``c`` (B, H) hold the initial state and end as the
    final one. ``peephole`` is (3, H) or empty; ``h_prev``, ``c_prev``, ``tanh_c`` (T, B, H) are
    filled for backward, or empty (inference)."""
    steps, batch, hidden = out.shape
    use_peephole = peephole.shape[0] > 0
    save = h_prev.shape[0] > 0
    recurrent = np.empty((batch, 4 * hidden), dtype=gates.dtype)
    for s in range(steps):
        t = steps - 1 - s if reverse else s
        np.dot(h, whh_t, recurrent)
        for b in range(batch):
            hb, cb, ob, ab, rb = h[b], c[b], out[t, b], gates[t, b], recurrent[b]
            if save:
                h_prev[t, b] = hb
                c_prev[t, b] = cb
            if t >= lengths[b]:
                ob[:] = 0
                continue
            for j in range(hidden):
                c_old = cb[j]
                a_i = ab[j] + rb[j]
                a_f = ab[hidden + j] + rb[hidden + j]
                a_o = ab[3 * hidden + j] + rb[3 * hidden + j]
                if use_peephole:
                    a_i += peephole[0, j] * c_old
                    a_f += peephole[1, j] * c_old
                i = sigmoid(a_i)
                f = sigmoid(a_f)
                g = tanh(ab[2 * hidden + j] + rb[2 * hidden + j])
                c_new = f * c_old + i * g
                if use_peephole:
                    a_o += peephole[2, j] * c_new
                o = sigmoid(a_o)
                tc = tanh(c_new)
                ab[j], ab[hidden + j], ab[2 * hidden + j], ab[3 * hidden + j] = i, f, g, o
                cb[j] = c_new
                hb[j] = o * tc
                ob[j] = o * tc
                if save:
                    tanh_c[t, b, j] = tc


@njit(cache=True, **JIT_OPTIONS)
def lstm_backward_loop(acts, whh, peephole, lengths, reverse, c_prev, tanh_c, d_out, dh, dc,
                       d_gates, d_peephole):
    """BPTT over all steps. ``acts`` (T, B, 4H): i, f, g, o from forward; ``dh``, ``dc`` (B, H)
    hold the gradients of the final state and end as those of the initial state; ``d_gates``
    (T, B, 4H) receives da; ``d_peephole`` (3, H) (or empty) accumulates the peephole grads."""
    steps, batch, hidden = d_out.shape
    use_peephole = peephole.shape[0] > 0
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
                i, f, g, o = ab[j], ab[hidden + j], ab[2 * hidden + j], ab[3 * hidden + j]
                tc, c_old = tcb[j], cpb[j]
                dh_total = dhb[j] + dob[j]
                da_o = dh_total * tc * o * (1 - o)
                dc_total = dcb[j] + dh_total * o * (1 - tc * tc)
                if use_peephole:
                    dc_total += peephole[2, j] * da_o
                    d_peephole[2, j] += da_o * (f * c_old + i * g)
                da_i = dc_total * g * i * (1 - i)
                da_f = dc_total * c_old * f * (1 - f)
                dcb[j] = dc_total * f
                if use_peephole:
                    dcb[j] += peephole[0, j] * da_i + peephole[1, j] * da_f
                    d_peephole[0, j] += da_i * c_old
                    d_peephole[1, j] += da_f * c_old
                db[j] = da_i
                db[hidden + j] = da_f
                db[2 * hidden + j] = dc_total * i * (1 - g * g)
                db[3 * hidden + j] = da_o
        np.dot(d_gates[t], whh, back)
        for b in range(batch):
            if t < lengths[b]:
                dh[b] = back[b]
