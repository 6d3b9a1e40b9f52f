"""The GRU's time loop, forward and BPTT, as Numba kernels (one call each per sequence).

Per step t (gate order r, z, n; PyTorch's formula, where the reset gate scales the recurrent
part of n *after* its bias):

    gi = x_t W_ih^T + b_ih + [b_hr, b_hz, 0]              (hoisted, ``gates[t]``)
    gh = h W_hh^T                                          (one GEMM per step)
    r = sigma(gi_r + gh_r),  z = sigma(gi_z + gh_z),  m = gh_n + b_hn
    n = tanh(gi_n + r m),    h' = (1 - z) n + z h  =  n + z (h - n)

and its derivative, with dh' the gradient reaching h':

    da_n = dh' (1 - z) (1 - n^2),  da_z = dh' (h - n) z (1 - z),  da_r = da_n m r (1 - r)
    d gi = [da_r, da_z, da_n],     d gh = [da_r, da_z, da_n r]
    dh   = dh' z + d gh W_hh                                (one GEMM per step)

Rows b with t >= lengths[b] are masked: their state passes through, their output is 0 and their
d gi, d gh are 0. Each row is processed in short loops that LLVM vectorizes (see numba_lstm).
"""
import numpy as np
from numba import njit

from .numba_math import JIT_OPTIONS, sigmoid, tanh


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def gru_forward_loop(gates, whh_t, b_hn, lengths, reverse, h, out, acts, h_prev, m_saved):
    """Run all steps. ``gates`` (T, B, 3H) holds gi; ``h`` (B, H) holds the initial state and
    ends as the final one. ``acts`` (T, B, 3H) receives r, z, n and ``h_prev``, ``m_saved``
    (T, B, H) the state and ``m``, for backward; for inference they have length 1 in time and are
    scratch."""
    steps, batch, hidden = out.shape
    recurrent = np.empty((batch, 3 * hidden), dtype=gates.dtype)
    n_input = np.empty(hidden, dtype=gates.dtype)
    for s in range(steps):
        t = steps - 1 - s if reverse else s
        np.dot(h, whh_t, recurrent)
        ts = min(t, acts.shape[0] - 1)
        for b in range(batch):
            hb, ob, ab, rb = h[b], out[t, b], gates[t, b], recurrent[b]
            sb, mb = acts[ts, b], m_saved[ts, b]
            h_prev[ts, b] = hb
            if t >= lengths[b]:
                ob[:] = 0
                continue
            for k in range(2 * hidden):
                sb[k] = sigmoid(ab[k] + rb[k])
            for j in range(hidden):
                mb[j] = rb[2 * hidden + j] + b_hn[j]
            for j in range(hidden):
                n_input[j] = ab[2 * hidden + j] + sb[j] * mb[j]
            for j in range(hidden):
                sb[2 * hidden + j] = tanh(n_input[j])
            for j in range(hidden):
                n = sb[2 * hidden + j]
                hb[j] = n + sb[hidden + j] * (hb[j] - n)
            ob[:] = hb


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def gru_backward_loop(acts, whh, lengths, reverse, h_prev, m_saved, d_out, dh, d_gi, d_gh):
    """BPTT over all steps. ``acts`` (T, B, 3H): r, z, n from forward; ``dh`` (B, H) holds the
    gradient of the final state and ends as that of the initial state; ``d_gi``, ``d_gh``
    (T, B, 3H) receive the gradients of the input and recurrent pre-activations."""
    steps, batch, hidden = d_out.shape
    back = np.empty((batch, hidden), dtype=acts.dtype)
    for s in range(steps):
        t = s if reverse else steps - 1 - s
        for b in range(batch):
            gib, ghb = d_gi[t, b], d_gh[t, b]
            if t >= lengths[b]:
                gib[:] = 0
                ghb[:] = 0
                continue
            ab, dhb, dob, hpb, mb = acts[t, b], dh[b], d_out[t, b], h_prev[t, b], m_saved[t, b]
            for j in range(hidden):
                dhb[j] += dob[j]
            for j in range(hidden):
                z, n = ab[hidden + j], ab[2 * hidden + j]
                gib[2 * hidden + j] = dhb[j] * (1 - z) * (1 - n * n)
            for j in range(hidden):
                z, n = ab[hidden + j], ab[2 * hidden + j]
                gib[hidden + j] = dhb[j] * (hpb[j] - n) * z * (1 - z)
            for j in range(hidden):
                r, z, n = ab[j], ab[hidden + j], ab[2 * hidden + j]
                gib[j] = dhb[j] * (1 - z) * (1 - n * n) * mb[j] * r * (1 - r)
            ghb[:2 * hidden] = gib[:2 * hidden]
            for j in range(hidden):
                ghb[2 * hidden + j] = gib[2 * hidden + j] * ab[j]
            for j in range(hidden):
                dhb[j] *= ab[hidden + j]
        np.dot(d_gh[t], whh, back)
        for b in range(batch):
            if t < lengths[b]:
                dh[b] += back[b]
