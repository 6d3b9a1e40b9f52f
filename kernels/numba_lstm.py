"""The LSTM's time loop, forward and BPTT, as Numba kernels that a team of threads shares.

Per step t (gate order i, f, g, o; ``a`` the pre-activations, ``p = (w_ci, w_cf, w_co)`` the
peephole weights, zero for a plain LSTM):

    a = x_t W_ih^T + h W_hh^T + b_ih + b_hh
    i = sigma(a_i + w_ci c),  f = sigma(a_f + w_cf c),  g = tanh(a_g)
    c' = f c + i g,           o = sigma(a_o + w_co c'),  h' = o tanh(c')

and its derivative, with dh' and dc' the gradients reaching h' and c':

    da_o = dh' tanh(c') o (1 - o)
    dc~  = dc' + dh' o (1 - tanh(c')^2) + w_co da_o
    da_i = dc~ g i (1 - i),  da_f = dc~ c f (1 - f),  da_g = dc~ i (1 - g^2)
    dc   = dc~ f + w_ci da_i + w_cf da_f,              dh = da W_hh

Rows b with t >= lengths[b] are masked: their state passes through, their output is 0 and their
da is 0.

**Cut by hidden units.** The P threads of a team (numba_team) share each step, cut into P
pieces, one per block of U = H / P hidden units. Piece k of step t computes, for each gate, the
input projection and the recurrent product in one GEMM over the concatenated input and state

    a_gate[k] = [x_t, h] @ [W_ih, W_hh]^T[:, gate, block k]    (B x (I + H)) @ ((I + H) x U)

(the weights' columns of that gate and block copied into contiguous tiles once per call; the
state slots hold [x_t, h] side by side, each piece copying its share of the rows of x_{t+1}
next to the h' it writes), then all gate arithmetic of its units for every batch row at once.
One GEMM with K = I + H ran faster than an input projection computed ahead plus a per-step
product. Backward, piece j of step t first
finishes dh for its units from the whole da of the step run before (``dh[:, units j] += da @ W_hh[:, units j]``, (B x 4H) @ (4H x U)),
then does its units' gate derivatives. One step's pieces need the whole of the step before,
which is what the team's tickets wait for. Cutting by units rather than batch rows keeps each
step's GEMM as tall as the batch, which BLAS runs faster. The weight gradients after the steps
are P pieces too.

**Gate-major blocks.** Forward keeps a block's pre-activations, activations and cell state as
(4, B, U) and (B, U) arrays: each gate of a step is then one flat loop over B*U elements, which
LLVM vectorizes without the set-up cost of one short loop per row. Rows past their
length get garbage there that ``_outputs`` replaces by their carried state. Each gate has
its own loop: a loop that stores into many arrays, or reads one array at an offset it also
writes, makes LLVM give up vectorizing (its runtime alias checks hit their limit). Backward works row by row (its da must be in PyTorch's
layout for the GEMMs) in the same short loops, and computes in the dtype of ``acts``: a literal
1 in ``1 - o`` would make Numba compute in float64 for float32 arrays.

Arrays are written element by element, not by slice assignment (``a[:] = b``): a slice
assignment brings in NumPy's broadcasting and its error messages, which lengthen the first
compile.

The states: ``xh`` (L, B, I + H) holds [x_t, h] (the GEMMs read it), ``cs`` (L, P, B, U) c by
block; training keeps all T + 1 (the state entering step t is slot ``t + reverse``,
``slots``), inference two, used in turn.
"""
import numpy as np
from numba import njit, prange

from .numba_blas import gemm
from .numba_math import JIT_OPTIONS, sigmoid, tanh
from .numba_team import finish, next_ticket
from .numba_tiles import tiled_matmul


@njit(cache=True, nogil=True)
def slots(step, steps, reverse, training):
    """The state slots (entering, leaving) of the ``step``-th step run (time ``t``)."""
    if not training:
        entering = step % 2
        return entering, 1 - entering
    t = steps - 1 - step if reverse else step
    return t + reverse, t + 1 - reverse


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def lstm_forward_work(counters, x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, tiles, w_hh_tiles,
                      bias_rows, peep_rows, rows, lengths, reverse, training, acts, xh, cs, tanh_c,
                      out):
    """One thread's share of the forward; every thread of the team calls it with the same
    arguments. ``x`` (T, B, I), ``h0``, ``c0`` (B, H); the weights as the layer has them (a
    missing bias, or the peephole of a plain LSTM, empty), and the arrays that the team's first
    step fills from them, block by block (``_prepare_block``): ``tiles`` (P, 4, parts,
    I + H, U / parts), [W_ih, W_hh]^T for each block and gate cut in column tiles for
    numba_tiles (multiplied ``rows`` rows at a time), ``w_hh_tiles`` (training), ``bias_rows``
    (P, 4, B, U) and ``peep_rows`` (P, 3, B, U). ``acts`` (P, T, 4, B, U) receives the
    activations i, f, g, o ((P, 1, 4, B, U) scratch unless ``training``); ``xh`` (L, B,
    I + H) receives [x_t, h] entering each step (all T + 1 when ``training``, else 2 in turn,
    ``slots``), ``cs`` (L, P, B, U) likewise c; ``tanh_c`` (T, P, B, U) receives tanh(c')
    ((1, P, B, U) unless ``training``); outputs go to ``out[t]`` (T, B, H)."""
    blocks, _, batch, units = bias_rows.shape
    steps, inputs, flat = out.shape[0], x.shape[2], batch * units
    while True:   # step -1 prepares, then steps 0 .. T - 1
        ticket = next_ticket(counters, blocks, (steps + 1) * blocks)
        if ticket >= (steps + 1) * blocks:
            return
        step, k = ticket // blocks - 1, ticket % blocks
        entering = slots(max(step, 0), steps, reverse, training)[0]
        if step < 0:
            _prepare_block(k, x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, tiles, w_hh_tiles,
                           bias_rows, peep_rows, reverse, xh[entering], cs[entering, k])
            finish(counters)
            continue
        t = steps - 1 - step if reverse else step
        leaving = slots(step, steps, reverse, training)[1]
        a, tc = acts[k, t if training else 0], tanh_c[t if training else 0, k]
        for g in range(4):
            tiled_matmul(xh[entering], tiles[k, g], a[g], False, rows)
        _gates(a[0].reshape(flat), a[1].reshape(flat), a[2].reshape(flat), a[3].reshape(flat),
               bias_rows[k].reshape(4, flat), peep_rows[k].reshape(3, flat),
               cs[entering, k].reshape(flat), cs[leaving, k].reshape(flat), tc.reshape(flat))
        _outputs(a[3], tc, inputs + k * units, t, lengths, xh[entering], cs[entering, k],
                 xh[leaving], cs[leaving, k], out[t], k * units)
        if step + 1 < steps:   # this block's share of the rows of the next step's input
            _copy_rows(x[t - 1 if reverse else t + 1], xh[leaving], k, blocks)
        finish(counters)


@njit(cache=True, nogil=True)
def _prepare_block(k, x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, tiles, w_hh_tiles, bias_rows,
                   peep_rows, reverse, xh, c):
    """Block k's part of what the steps read, done by the team before the first step:

    * its weight tiles: ``tiles[k, gate, part]`` is the (I + H, U / parts) block of
      [W_ih, W_hh]^T for its units of the gate, one column tile (copied, not viewed: numba_tiles);
    * in training, ``w_hh_tiles[k, part]`` (4H, U / parts), its units' columns of W_hh, which
      backward multiplies da by;
    * ``bias_rows[k]`` b_ih + b_hh and ``peep_rows[k]`` the peepholes (zero for a plain LSTM, so
      that ``a + 0 * c == a`` exactly), repeated for each row;
    * its share of the entering state ``xh`` (B, I + H) (its rows of x_0, its columns of h0) and
      its columns of c0 into ``c`` (B, U)."""
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
    batch = bias_rows.shape[2]
    for g in range(4):
        rows = bias_rows[k, g]
        for u in range(units):
            rows[0, u] = 0
            if b_ih.shape[0]:
                rows[0, u] += b_ih[g * hidden + first + u]
            if b_hh.shape[0]:
                rows[0, u] += b_hh[g * hidden + first + u]
        _repeat_first_row(rows)
    for g in range(3):
        rows = peep_rows[k, g]
        for u in range(units):
            rows[0, u] = peephole[g, first + u] if peephole.shape[0] else 0
        _repeat_first_row(rows)
    steps = x.shape[0]
    if steps:
        _copy_rows(x[steps - 1 if reverse else 0], xh, k, blocks)
    for b in range(batch):
        for u in range(units):
            xh[b, inputs + first + u] = h0[b, first + u]
            c[b, u] = c0[b, first + u]


@njit(cache=True, nogil=True)
def _repeat_first_row(rows):
    """``rows[r] = rows[0]`` for every later row of the 2-D ``rows``."""
    for r in range(1, rows.shape[0]):
        for u in range(rows.shape[1]):
            rows[r, u] = rows[0, u]


@njit(cache=True, nogil=True)
def _copy_rows(x_t, xh, k, blocks):
    """Block k's share of the rows of ``x_t`` (B, I) into the input columns of ``xh``."""
    batch = x_t.shape[0]
    for b in range(batch * k // blocks, batch * (k + 1) // blocks):
        for i in range(x_t.shape[1]):
            xh[b, i] = x_t[b, i]


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def _gates(i, f, g, o, bias, peep, c_in, c_out, tanh_c):
    """One step of one block, every row at once (flat (B*U,) arrays, so that each loop is long):
    the products ``[x_t, h] [W_ih, W_hh]^T`` in ``i, f, g, o`` plus biases and peepholes, turned
    into the gates; ``c_out`` and ``tanh_c`` receive c' and tanh(c'). Rows past their length
    get values that ``_outputs`` then replaces (and backward never reads)."""
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


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def _outputs(o, tanh_c, first, t, lengths, h_in, c_in, h_out, c_out, out, out_first):
    """h' = o tanh(c') into columns ``[first, first + U)`` of ``h_out`` and ``[out_first,
    out_first + U)`` of ``out`` (B, H); rows past their length keep their state (``c_out`` (B,
    U) gets ``c_in`` back) and output 0."""
    units = o.shape[1]
    u = slice(first, first + units)
    for b in range(o.shape[0]):
        hb, hn, ob = h_in[b, u], h_out[b, u], out[b, out_first:out_first + units]
        if t >= lengths[b]:
            for j in range(units):
                hn[j] = hb[j]
                c_out[b, j] = c_in[b, j]
                ob[j] = 0
            continue
        ro, rt = o[b], tanh_c[b]
        for j in range(units):
            hn[j] = ro[j] * rt[j]
        for j in range(units):
            ob[j] = hn[j]


@njit(cache=True, nogil=True, **JIT_OPTIONS)
def lstm_backward_work(counters, acts, w_hh_tiles, rows, peep_rows, lengths, reverse, cs, tanh_c,
                       d_out, dh, dc, d_gates, d_peephole, x2, h_prev2, w_ih, d_w_ih, d_w_hh,
                       d_bias, dx, wanted):
    """One thread's share of BPTT and of the weight gradients. ``acts`` (P, T, 4, B, U): i, f,
    g, o of each block; ``w_hh_tiles`` (P, parts, 4H, U / parts), ``peep_rows`` (P, 3, B, U),
    ``cs`` and ``tanh_c`` as forward left them; ``dh``, ``dc`` (B, H) hold
    the gradients of the final state and end as those of the initial state; ``d_gates`` (T, B,
    4H) receives da; ``d_peephole`` (3, H) accumulates the peephole gradients, or is empty.
    After the steps, piece k writes its share of the rows of ``d_w_ih``, ``d_w_hh``, ``d_bias``
    and of ``dx`` (T*B, I), each where ``wanted``, from ``x2`` (T*B, I), ``h_prev2`` (T*B, H)
    and ``w_ih`` (4H, I)."""
    blocks, steps, _, batch, units = acts.shape
    hidden = blocks * units
    want_peephole = d_peephole.shape[0] > 0
    one = np.ones(1, dtype=acts.dtype)[0]   # not 1: int64 - float32 is float64 in Numba
    while True:   # steps 0 .. T - 1, then the weight gradients as step T
        ticket = next_ticket(counters, blocks, (steps + 1) * blocks)
        if ticket >= (steps + 1) * blocks:
            return
        step, k = ticket // blocks, ticket % blocks
        u = slice(k * units, (k + 1) * units)
        if step > 0:   # dh of these units from the whole da of the step run before
            later = step - 1 if reverse else steps - step
            tiled_matmul(d_gates[later], w_hh_tiles[k], dh[:, u], True, rows)
        if step == steps:
            _weight_gradients(k, blocks, d_gates.reshape(steps * batch, 4 * hidden), x2, h_prev2,
                              w_ih, d_w_ih, d_w_hh, d_bias, dx, wanted)
            finish(counters)
            continue
        t = step if reverse else steps - 1 - step
        for b in range(batch):
            db = d_gates[t, b]
            di, df = db[k * units:k * units + units], db[hidden + k * units:hidden + k * units + units]
            dg = db[2 * hidden + k * units:2 * hidden + k * units + units]
            do = db[3 * hidden + k * units:3 * hidden + k * units + units]
            if t >= lengths[b]:
                for j in range(units):
                    di[j] = 0
                    df[j] = 0
                    dg[j] = 0
                    do[j] = 0
                continue
            dhb, dcb, dob = dh[b, u], dc[b, u], d_out[t, b, u]
            cpb, tcb = cs[t + reverse, k, b], tanh_c[t, k, b]
            i, f, g, o = acts[k, t, 0, b], acts[k, t, 1, b], acts[k, t, 2, b], acts[k, t, 3, b]
            pi, pf, po = peep_rows[k, 0, b], peep_rows[k, 1, b], peep_rows[k, 2, b]
            for j in range(units):
                dhb[j] += dob[j]
            for j in range(units):
                do[j] = dhb[j] * tcb[j] * o[j] * (one - o[j])
            for j in range(units):
                dcb[j] += dhb[j] * o[j] * (one - tcb[j] * tcb[j]) + po[j] * do[j]
            for j in range(units):
                di[j] = dcb[j] * g[j] * i[j] * (one - i[j])
            for j in range(units):
                df[j] = dcb[j] * cpb[j] * f[j] * (one - f[j])
            for j in range(units):
                dg[j] = dcb[j] * i[j] * (one - g[j] * g[j])
            for j in range(units):
                dcb[j] = dcb[j] * f[j] + pi[j] * di[j] + pf[j] * df[j]
            for j in range(units):   # the next piece of these units adds its dh into it
                dhb[j] = 0
            if want_peephole:
                for j in range(units):
                    c_new = f[j] * cpb[j] + i[j] * g[j]
                    d_peephole[0, k * units + j] += di[j] * cpb[j]
                    d_peephole[1, k * units + j] += df[j] * cpb[j]
                    d_peephole[2, k * units + j] += do[j] * c_new
        finish(counters)


@njit(cache=True, nogil=True)
def _weight_gradients(k, blocks, d_gates2, x2, h_prev2, w_ih, d_w_ih, d_w_hh, d_bias, dx, wanted):
    """Piece k of the gradients after the steps: rows ``[k 4H / P, (k + 1) 4H / P)`` of the
    weight and bias gradients, rows ``[k T B / P, (k + 1) T B / P)`` of dx."""
    width, total = d_gates2.shape[1], d_gates2.shape[0]
    r = slice(width * k // blocks, width * (k + 1) // blocks)
    da = d_gates2[:, r]
    if wanted[0]:
        gemm(da, x2, d_w_ih[r], False, True)
    if wanted[1]:
        gemm(da, h_prev2, d_w_hh[r], False, True)
    if wanted[2]:
        sums = d_bias[r]
        for j in range(sums.shape[0]):
            sums[j] = 0
        for row in range(total):
            for j in range(sums.shape[0]):
                sums[j] += da[row, j]
    if wanted[3]:
        r = slice(total * k // blocks, total * (k + 1) // blocks)
        gemm(d_gates2[r], w_ih, dx[r])


@njit(parallel=True, cache=True, nogil=True)
def lstm_forward_team(threads, *args):
    """``lstm_forward_work(*args)`` on ``threads`` threads."""
    for _ in prange(threads):
        lstm_forward_work(*args)


@njit(parallel=True, cache=True, nogil=True)
def lstm_backward_team(threads, *args):
    """``lstm_backward_work(*args)`` on ``threads`` threads."""
    for _ in prange(threads):
        lstm_backward_work(*args)
