"""Batch shards of a GRU or RNN call, as the team's threads (numba_team) run them.

The rows of a batch never interact in these layers, so the batch is cut into P contiguous
shards (``bounds``: shard k has rows ``bounds[k]:bounds[k + 1]``, cpu_threads.shards) and each
shard is one ticket of the team: a thread runs the whole sequence of its shard, forward or
BPTT, and the threads meet only at the end of the call. Threading each step's small GEMM inside
BLAS instead would cost a barrier per step.

A shard's arrays are contiguous (its GEMMs over all steps at once need that), so the arrays of
a call are shard-major: flat buffers in which shard k's (T, b_k, ...) block starts where shard
k - 1's ends (``segment``). The helpers below are inlined into the work functions of each mode
(numba_rnn, numba_gru), which compile them with their own options: ``forward_shard`` and
``backward_shard`` return the views of shard k that the time loops read and write. The products
over every step and row at once (the input projection before the steps, the gradients of the
weights and of x after them) are left to the caller (numba_recurrent), which computes each for
the whole batch in one product. Numba's cache keeps these helpers compiled into those work
functions; after editing this module, delete the kernels' ``__pycache__/*.nb*`` files (Numba
only checks a kernel's own file).
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
