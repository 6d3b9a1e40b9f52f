"""The Elman RNN's time loop (tanh or relu), forward and BPTT, as Numba kernels.

Per step t:  h' = act(a),  a = [x_t W_ih^T + b_ih + b_hh] + h W_hh^T  (bracket hoisted);
backward:    da = dh' act'(a)  with act' = 1 - h'^2 (tanh) or [h' > 0] (relu, as PyTorch),
             dh = da W_hh      (one GEMM per step).
Rows b with t >= lengths[b] are masked: their state passes through, their output is 0 and their
da is 0. Each row is processed in short loops that LLVM vectorizes (see numba_lstm).
"""
import numpy as np
from numba import njit

from .numba_math import JIT_OPTIONS, tanh


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def rnn_forward_loop(gates, whh_t, relu, lengths, reverse, h, out, h_prev):
    """Run all steps. ``gates`` (T, B, H) holds the hoisted pre-activations and is overwritten
    with h' (what backward needs); ``h`` (B, H) holds the initial state and ends as the final
    one; ``h_prev`` (T, B, H) receives the states for backward, or has length 1 in time and is
    scratch (inference)."""
    steps, batch, hidden = out.shape
    recurrent = np.empty((batch, hidden), dtype=gates.dtype)
    for s in range(steps):
        t = steps - 1 - s if reverse else s
        np.dot(h, whh_t, recurrent)
        for b in range(batch):
            hb, ob, ab, rb = h[b], out[t, b], gates[t, b], recurrent[b]
            h_prev[min(t, h_prev.shape[0] - 1), b] = hb
            if t >= lengths[b]:
                ob[:] = 0
                continue
            if relu:
                for j in range(hidden):
                    ab[j] = max(ab[j] + rb[j], 0.0)
            else:
                for j in range(hidden):
                    ab[j] = tanh(ab[j] + rb[j])
            hb[:] = ab
            ob[:] = ab


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def rnn_backward_loop(acts, whh, relu, lengths, reverse, d_out, dh, d_gates):
    """BPTT over all steps. ``acts`` (T, B, H): h' from forward; ``dh`` (B, H) holds the gradient
    of the final state and ends as that of the initial state; ``d_gates`` receives da."""
    steps, batch, hidden = d_out.shape
    back = np.empty((batch, hidden), dtype=acts.dtype)
    for s in range(steps):
        t = s if reverse else steps - 1 - s
        for b in range(batch):
            db = d_gates[t, b]
            if t >= lengths[b]:
                db[:] = 0
                continue
            ab, dhb, dob = acts[t, b], dh[b], d_out[t, b]
            if relu:
                for j in range(hidden):
                    db[j] = (dhb[j] + dob[j]) * (ab[j] > 0)
            else:
                for j in range(hidden):
                    db[j] = (dhb[j] + dob[j]) * (1 - ab[j] * ab[j])
        np.dot(d_gates[t], whh, back)
        for b in range(batch):
            if t < lengths[b]:
                dh[b] = back[b]
