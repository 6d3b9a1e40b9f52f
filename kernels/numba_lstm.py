"""The LSTM's time loop, forward and BPTT, as Numba work functions that a team of threads shares.

Per step t (gate order i, f, g, o; ``p = (w_ci, w_cf, w_co)`` the peepholes, zero for a plain
LSTM):

    a = x_t W_ih^T + h W_hh^T + b_ih + b_hh
    i = sigma(a_i + w_ci c),  f = sigma(a_f + w_cf c),  g = tanh(a_g)
    c' = f c + i g,           o = sigma(a_o + w_co c'),  h' = o tanh(c')

and with dh', dc' the gradients reaching h' and c':

    da_o = dh' tanh(c') o (1 - o)
    dc~  = dc' + dh' o (1 - tanh(c')^2) + w_co da_o
    da_i = dc~ g i (1 - i),  da_f = dc~ c f (1 - f),  da_g = dc~ i (1 - g^2)
    dc   = dc~ f + w_ci da_i + w_cf da_f,              dh = da W_hh

Rows b with t >= lengths[b] are masked: their state passes through, their output is 0 and their
da is 0. The P threads cut each step by blocks of U = H / P hidden units; piece k computes
``[x_t, h] @ [W_ih, W_hh]^T[:, gate, block k]`` for each gate, then its units' gates for every
row (docs/kernels.md). Loops are one per gate and written element by element so that LLVM
vectorizes them; ``one`` is a literal of the arrays' dtype (a Python 1 makes float32 float64).
The helpers are inlined, so that each work function is compiled once, as a whole.
"""
from collections import namedtuple

import numpy as np
from numba import njit

from .numba_blas import gemm
from .numba_math import JIT_OPTIONS, sigmoid, tanh
from .numba_team import finish, next_ticket
from .numba_tiles import tiled_matmul

TeamWeights = namedtuple("TeamWeights", "tiles rows w_hh_tiles back_rows bias_rows peep_rows")
TeamWeights.__doc__ = """The weights as the team's steps read them. Filled by the team's first
step (``_prepare_block``): ``tiles`` (P, 4, parts, I + H, U / parts): [W_ih, W_hh]^T for each
block and gate cut in column tiles (numba_tiles), multiplied ``rows`` rows of [x_t, h] at a
time; ``w_hh_tiles`` (P, parts, 4H, U / parts): W_hh's columns by block, for da @ W_hh,
``back_rows`` rows of da at a time (empty for inference). Filled by the layer: ``bias_rows``
(P, 4, B, U) b_ih + b_hh and ``peep_rows`` (P, 3, B, U) the peepholes (zero for a plain LSTM,
so that ``a + 0 * c == a`` exactly), repeated for every row."""

TeamStates = namedtuple("TeamStates", "acts x_and_h cells tanh_c")
TeamStates.__doc__ = """What forward writes per step and backward reads: ``acts`` (P, T, 4, B,
U) the activations i, f, g, o of each block; ``x_and_h`` (L, B, I + H) the [x_t, h] entering a
step, which its GEMMs read; ``cells`` (L, P, B, U) the cell state c entering a step, by block;
``tanh_c`` (T, P, B, U) tanh(c'). Training keeps all T steps and T + 1 states (the state
entering step t is slot ``t + reverse``, ``slots``); inference one step and two states,
used in turn."""


@njit(cache=True, nogil=True)
def slots(step, steps, reverse, training):
    """The state slots (entering, leaving) of the ``step``-th step run (time ``t``)."""
    if not training:
        entering = step % 2
        return entering, 1 - entering
    t = steps - 1 - step if reverse else step
    return t + reverse, t + 1 - reverse


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def lstm_forward_work(counters, given, weights, states, lengths, reverse, training, out, column):
    """One thread's share of the forward; every thread of the team calls it with the same
    arguments. ``given`` = (x (T, B, I), h0, c0 (B, H), w_ih, w_hh) as the layer has them;
    ``weights`` the ``TeamWeights``, whose tiles the team's first step fills from them;
    ``states`` the ``TeamStates`` it fills, all T steps when ``training``, else only
    what the next step needs. Outputs go to ``out[t, :, column:column + H]`` (out (T, B, W))."""
    x = given[0]
    acts, x_and_h, cells, tanh_c = states
    blocks, _, batch, units = weights.bias_rows.shape
    steps, inputs, flat = out.shape[0], x.shape[2], batch * units
    while True:   # step -1 prepares, then steps 0 .. T - 1
        ticket = next_ticket(counters, blocks, (steps + 1) * blocks)
        if ticket >= (steps + 1) * blocks:
            return
        step, k = ticket // blocks - 1, ticket % blocks
        entering = slots(max(step, 0), steps, reverse, training)[0]
        if step < 0:
            _prepare_block(k, given, weights, reverse, x_and_h[entering], cells[entering, k])
            finish(counters)
            continue
        t = steps - 1 - step if reverse else step
        leaving = slots(step, steps, reverse, training)[1]
        a, tanh_cell = acts[k, t if training else 0], tanh_c[t if training else 0, k]
        for g in range(4):
            tiled_matmul(x_and_h[entering], weights.tiles[k, g], a[g], False, weights.rows)
        _gates(a[0].reshape(flat), a[1].reshape(flat), a[2].reshape(flat), a[3].reshape(flat),
               weights.bias_rows[k].reshape(4, flat), weights.peep_rows[k].reshape(3, flat),
               cells[entering, k].reshape(flat), cells[leaving, k].reshape(flat),
               tanh_cell.reshape(flat))
        _outputs(a[3], tanh_cell, inputs + k * units, t, lengths, x_and_h[entering],
                 cells[entering, k], x_and_h[leaving], cells[leaving, k], out[t], column + k * units)
        if step + 1 < steps:   # this block's share of the rows of the next step's input
            _copy_rows(x[t - 1 if reverse else t + 1], x_and_h[leaving], k, blocks)
        finish(counters)


@njit(cache=True, nogil=True, inline="always")
def _prepare_block(k, given, weights, reverse, x_and_h, c):
    """Block k's part of what the steps read, before the first step: its tiles of
    [W_ih, W_hh]^T (and of W_hh for backward), its rows of x_0 and columns of h0 in the entering
    ``x_and_h`` (B, I + H), its columns of c0 in ``c`` (B, U)."""
    x, h0, c0, w_ih, w_hh = given
    tiles, w_hh_tiles = weights.tiles, weights.w_hh_tiles
    blocks, _, parts, _, width = tiles.shape
    inputs, hidden = w_ih.shape[1], w_hh.shape[1]
    units = hidden // blocks
    first = k * units
    for g in range(4):
        for p in range(parts):
            tile = tiles[k, g, p]
            for j in range(width):
                row = g * hidden + first + p * width + j
                for i in range(inputs):
                    tile[i, j] = w_ih[row, i]
                for i in range(hidden):
                    tile[inputs + i, j] = w_hh[row, i]
    if w_hh_tiles.shape[0]:
        back_parts, back_width = w_hh_tiles.shape[1], w_hh_tiles.shape[3]
        for p in range(back_parts):
            column = first + p * back_width
            for row in range(4 * hidden):
                for j in range(back_width):
                    w_hh_tiles[k, p, row, j] = w_hh[row, column + j]
    batch = x_and_h.shape[0]
    steps = x.shape[0]
    if steps:
        _copy_rows(x[steps - 1 if reverse else 0], x_and_h, k, blocks)
    for b in range(batch):
        for u in range(units):
            x_and_h[b, inputs + first + u] = h0[b, first + u]
            c[b, u] = c0[b, first + u]


@njit(cache=True, nogil=True, inline="always")
def _copy_rows(x_t, xh, k, blocks):
    """Block k's share of the rows of ``x_t`` (B, I) into the input columns of ``xh``."""
    batch = x_t.shape[0]
    for b in range(batch * k // blocks, batch * (k + 1) // blocks):
        for i in range(x_t.shape[1]):
            xh[b, i] = x_t[b, i]


@njit(cache=True, nogil=True, inline="always", **JIT_OPTIONS)
def _gates(i, f, g, o, bias, peep, c_in, c_out, tanh_c):
    """One step of one block, every row at once (flat (B*U,) arrays: long loops): the products in
    ``i, f, g, o`` plus biases and peepholes become the gates; ``c_out``, ``tanh_c`` receive c'
    and tanh(c'). Rows past their length get values that ``_outputs`` replaces."""
    b_i, b_f, b_g, b_o = bias[0], bias[1], bias[2], bias[3]
    w_ci, w_cf, w_co = peep[0], peep[1], peep[2]
    for j in range(c_in.shape[0]):
        i[j] = sigmoid(i[j] + b_i[j] + w_ci[j] * c_in[j])
    for j in range(c_in.shape[0]):
        f[j] = sigmoid(f[j] + b_f[j] + w_cf[j] * c_in[j])
    for j in range(c_in.shape[0]):
        g[j] = tanh(g[j] + b_g[j])
    for j in range(c_in.shape[0]):
        c_out[j] = f[j] * c_in[j] + i[j] * g[j]
    for j in range(c_in.shape[0]):
        o[j] = sigmoid(o[j] + b_o[j] + w_co[j] * c_out[j])
    for j in range(c_in.shape[0]):
        tanh_c[j] = tanh(c_out[j])


@njit(cache=True, nogil=True, inline="always", **JIT_OPTIONS)
def _outputs(o, tanh_c, first, t, lengths, h_in, c_in, h_out, c_out, out, out_first):
    """h' = o tanh(c') into columns ``[first, first + U)`` of ``h_out`` and ``[out_first,
    out_first + U)`` of ``out`` (B, W); rows past their length keep their state (``c_out`` (B,
    U) gets ``c_in`` back) and output 0."""
    units = o.shape[1]
    u = slice(first, first + units)
    for b in range(o.shape[0]):
        h_row, h_next, out_row = h_in[b, u], h_out[b, u], out[b, out_first:out_first + units]
        if t >= lengths[b]:
            for j in range(units):
                h_next[j] = h_row[j]
                c_out[b, j] = c_in[b, j]
                out_row[j] = 0
            continue
        o_row, tanh_row = o[b], tanh_c[b]
        for j in range(units):
            h_next[j] = o_row[j] * tanh_row[j]
        for j in range(units):
            out_row[j] = h_next[j]


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def lstm_backward_work(counters, weights, states, lengths, reverse, d_out, d_state, d_gates,
                       operands, grads):
    """One thread's share of BPTT and of the weight gradients. ``d_state`` = (dh, dc) (B, H) holds
    the gradients of the final state and ends as those of the initial state; ``d_gates`` (T, B,
    4H) receives da. After the steps, piece k writes its rows of ``grads`` = (d_w_ih, d_w_hh,
    d_bias, dx (T*B, I), d_peephole (3, H)) (empty when not wanted) from ``operands`` = (x2
    (T*B, I), h_prev2 (T*B, H), w_ih (4H, I))."""
    acts, _, cells, tanh_c = states
    dh, dc = d_state
    d_peephole = grads[4]
    blocks, steps, _, batch, units = acts.shape
    hidden = blocks * units
    want_peephole = d_peephole.shape[0] > 0
    one = acts.dtype.type(1)   # not 1: int64 - float32 is float64 in Numba
    while True:   # steps 0 .. T - 1, then the weight gradients as step T
        ticket = next_ticket(counters, blocks, (steps + 1) * blocks)
        if ticket >= (steps + 1) * blocks:
            return
        step, k = ticket // blocks, ticket % blocks
        u = slice(k * units, (k + 1) * units)
        if step > 0:   # dh of these units from the whole da of the step run before
            later = step - 1 if reverse else steps - step
            tiled_matmul(d_gates[later], weights.w_hh_tiles[k], dh[:, u], True, weights.back_rows)
        if step == steps:
            _weight_gradients(k, blocks, d_gates.reshape(steps * batch, 4 * hidden), operands, grads)
            finish(counters)
            continue
        t = step if reverse else steps - 1 - step
        for b in range(batch):
            d_row, first = d_gates[t, b], k * units
            d_i, d_f = d_row[first:first + units], d_row[hidden + first:hidden + first + units]
            d_g = d_row[2 * hidden + first:2 * hidden + first + units]
            d_o = d_row[3 * hidden + first:3 * hidden + first + units]
            if t >= lengths[b]:
                for j in range(units):
                    d_i[j] = 0
                    d_f[j] = 0
                    d_g[j] = 0
                    d_o[j] = 0
                continue
            dh_row, dc_row, d_out_row = dh[b, u], dc[b, u], d_out[t, b, u]
            c_prev, tanh_row = cells[t + reverse, k, b], tanh_c[t, k, b]
            i, f, g, o = acts[k, t, 0, b], acts[k, t, 1, b], acts[k, t, 2, b], acts[k, t, 3, b]
            peep = weights.peep_rows
            w_ci, w_cf, w_co = peep[k, 0, b], peep[k, 1, b], peep[k, 2, b]
            for j in range(units):
                dh_row[j] += d_out_row[j]
            for j in range(units):
                d_o[j] = dh_row[j] * tanh_row[j] * o[j] * (one - o[j])
            for j in range(units):
                dc_row[j] += dh_row[j] * o[j] * (one - tanh_row[j] * tanh_row[j]) + w_co[j] * d_o[j]
            for j in range(units):
                d_i[j] = dc_row[j] * g[j] * i[j] * (one - i[j])
            for j in range(units):
                d_f[j] = dc_row[j] * c_prev[j] * f[j] * (one - f[j])
            for j in range(units):
                d_g[j] = dc_row[j] * i[j] * (one - g[j] * g[j])
            for j in range(units):
                dc_row[j] = dc_row[j] * f[j] + w_ci[j] * d_i[j] + w_cf[j] * d_f[j]
            for j in range(units):   # the next piece of these units adds its dh into it
                dh_row[j] = 0
            if want_peephole:
                for j in range(units):
                    c_new = f[j] * c_prev[j] + i[j] * g[j]
                    d_peephole[0, k * units + j] += d_i[j] * c_prev[j]
                    d_peephole[1, k * units + j] += d_f[j] * c_prev[j]
                    d_peephole[2, k * units + j] += d_o[j] * c_new
        finish(counters)


@njit(cache=True, nogil=True, inline="always")
def _weight_gradients(k, blocks, d_gates2, operands, grads):
    """Piece k of the gradients after the steps: rows ``[k 4H / P, (k + 1) 4H / P)`` of the
    weight and bias gradients, rows ``[k T B / P, (k + 1) T B / P)`` of dx (those not empty)."""
    x2, h_prev2, w_ih = operands
    d_w_ih, d_w_hh, d_bias, dx, _ = grads
    width, total = d_gates2.shape[1], d_gates2.shape[0]
    r = slice(width * k // blocks, width * (k + 1) // blocks)
    da = d_gates2[:, r]
    if d_w_ih.shape[0]:
        gemm(da, x2, d_w_ih[r], False, True)
    if d_w_hh.shape[0]:
        gemm(da, h_prev2, d_w_hh[r], False, True)
    if d_bias.shape[0]:
        sums = d_bias[r]
        for j in range(sums.shape[0]):
            sums[j] = 0
        for row in range(total):
            for j in range(sums.shape[0]):
                sums[j] += da[row, j]
    if dx.shape[0]:
        r = slice(total * k // blocks, total * (k + 1) // blocks)
        gemm(d_gates2[r], w_ih, dx[r])
