"""Batch shards of a GRU or RNN call, as the team's threads (numba_team) run them.

Shard k has rows ``bounds[k]:bounds[k + 1]`` (cpu_threads.shards) and is one ticket: a thread
runs its whole sequence. Its arrays must be contiguous, so a call's arrays are shard-major flat
buffers, shard k's (T, b_k, ...) block starting where shard k - 1's ends (``segment``). These
helpers are inlined into the work functions (numba_rnn, numba_gru); after editing them, delete
the kernels' ``__pycache__/*.nb*`` files (Numba only checks a kernel's own file).
"""
from numba import njit

from .numba_team import next_ticket


@njit(inline="always")
def next_shard(counters, given):
    """The next shard a thread of the team takes (``given[0]`` the bounds), -1 when none is left."""
    shards = given[0].shape[0] - 1
    k = next_ticket(counters, shards, shards)   # one step: every shard may start
    return k if k < shards else -1


@njit(inline="always")
def segment(flat, shard_first, shape):
    """The (T, b, n) block of a shard whose first row is ``shard_first`` in the shard-major
    ``flat`` buffer of a (T, B, n) array (any T, including 0)."""
    steps, rows, width = shape
    start = steps * shard_first * width
    return flat[start:start + steps * rows * width].reshape((steps, rows, width))


@njit(inline="always")
def _other_size(flat, known):
    """The remaining dimension of a flat buffer whose other dimensions multiply to ``known``
    (T of a (T, B, n) buffer given B n, n given T B; 0 when ``known`` is)."""
    return flat.shape[0] // known if known else 0


@njit(inline="always")
def forward_shard(k, given, saved_extra):
    """Shard k's (first row, gates, h, lengths, h_prev, extra) views. ``given`` = (bounds, gates
    (holding x W_ih^T), h (B, H), lengths (B,), h_prev, out (T, B, H)); ``saved_extra`` a mode's
    other saved state (possibly empty)."""
    bounds, gates, h, lengths, h_prev, out = given
    steps, batch, hidden = out.shape
    width = _other_size(gates, steps * batch)
    first, last = bounds[k], bounds[k + 1]
    rows = last - first
    return (first, segment(gates, first, (steps, rows, width)), h[first:last], lengths[first:last],
            segment(h_prev, first, (_other_size(h_prev, batch * hidden), rows, hidden)),
            segment(saved_extra, first, (_other_size(saved_extra, batch * hidden), rows, hidden)))


@njit(inline="always")
def backward_shard(k, given, saved_extra):
    """Shard k's (first row, acts, h_prev, lengths, dh, d_gi, d_gh, extra) views. ``given`` =
    (bounds, acts, h_prev, lengths (B,), dh (B, H), d_gi, d_gh, d_out (T, B, H)), the flat ones
    shard-major; ``d_gh`` may be ``d_gi`` itself (modes where both are the same)."""
    bounds, acts, h_prev, lengths, dh, d_gi, d_gh, d_out = given
    steps, batch, hidden = d_out.shape
    width = _other_size(acts, steps * batch)
    first, last = bounds[k], bounds[k + 1]
    rows = last - first
    shape = (steps, rows, width)
    return (first, segment(acts, first, shape),
            segment(h_prev, first, (steps, rows, hidden)),
            lengths[first:last], dh[first:last], segment(d_gi, first, shape),
            segment(d_gh, first, shape),
            segment(saved_extra, first, (_other_size(saved_extra, batch * hidden), rows, hidden)))
