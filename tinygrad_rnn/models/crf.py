"""The linear-chain conditional random field: forward algorithm, likelihood and Viterbi.

For emissions E (one score per position t and tag y, e.g. from a BiLSTM), a transition matrix
A (A[i, j]: tag i followed by tag j) and start / end scores s, e, a tag sequence y₁…y_L of a
sentence of length L scores

    score(y) = s[y₁] + Σₜ E[t, yₜ] + Σₜ₌₂ A[yₜ₋₁, yₜ] + e[y_L]

and p(y | E) = exp(score(y)) / Z with Z = Σ over all T^L sequences. The forward algorithm
gets log Z in O(L·T²), in log space so nothing overflows:

    α₁ = s + E[1],   αₜ[j] = logsumexp_i(αₜ₋₁[i] + A[i, j]) + E[t, j],   log Z = logsumexp(α_L + e)

Training minimises the negative log-likelihood log Z - score(y_gold); its gradient is
(expected - observed) feature counts, which the engine derives through logsumexp. Viterbi is
the same recursion with max in place of logsumexp, plus back-pointers.

Batches are padded: ``lengths`` (B,) gives each sentence's length; positions past it are
ignored (α is carried through unchanged, and their tags may hold anything, e.g. -100).
"""
import numpy as np

from .. import backend, functional as F
from ..dtypes import get_default_dtype
from ..nn.module import Module, Parameter
from ..tensor import Tensor


def crf_log_partition(emissions, mask, transitions, start, end):
    """log Z for each sequence: emissions (B, L, T), mask (B, L) bool array (True = a real
    position, a prefix of each row) -> (B,)."""
    alpha = start + emissions[:, 0]
    for t in range(1, emissions.shape[1]):
        step = (alpha.unsqueeze(2) + transitions).logsumexp(axis=1) + emissions[:, t]
        alpha = F.where(mask[:, t:t + 1], step, alpha)
    return (alpha + end).logsumexp(axis=1)


def crf_path_score(emissions, tags, mask, transitions, start, end):
    """score(y) for each sequence: tags (B, L) integer array with valid ids at masked
    positions -> (B,)."""
    xp = emissions.xp
    batch, length = tags.shape
    rows = xp.arange(batch)
    weights = Tensor(mask.astype(emissions.dtype))
    emitted = emissions[rows[:, None], xp.arange(length)[None, :], tags]          # (B, L)
    moved = transitions[tags[:, :-1], tags[:, 1:]]                                # (B, L-1)
    last = tags[rows, mask.sum(axis=1) - 1]
    return (start[tags[:, 0]] + (emitted * weights).sum(axis=1)
            + (moved * weights[:, 1:]).sum(axis=1) + end[last])


def _host_array(values):
    """Integer inputs (tags, lengths) on the host: from a Tensor, a device array or Python data."""
    if isinstance(values, Tensor):
        return values.numpy()
    device = backend.find_device(values)
    return device.to_numpy(values) if device is not None else np.asarray(values)


class LinearChainCRF(Module):
    """A linear-chain CRF over ``num_tags`` tags (the interface of pytorch-crf).

    Parameters: ``transitions`` (T, T), ``start_transitions`` (T,), ``end_transitions`` (T,),
    initialised U(-0.1, 0.1). Emissions are (L, B, T), or (B, L, T) with ``batch_first``;
    tags are (L, B) / (B, L) integers; ``lengths`` (B,) defaults to L for every sequence.

    ``forward(emissions, tags, lengths)`` is the negative log-likelihood (reduced by
    ``reduction``: "mean" over sequences, "sum", "none"); ``log_partition`` and ``score`` are
    its two parts; ``decode`` is Viterbi decoding.
    """

    def __init__(self, num_tags, batch_first=False, device=None, dtype=None):
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, (int, np.integer)) or num_tags < 1:
            raise ValueError(f"LinearChainCRF: num_tags must be a positive integer, got {num_tags!r}")
        self.num_tags, self.batch_first = int(num_tags), batch_first
        device, dtype = backend.get_device(device), dtype or get_default_dtype()
        uniform = lambda *shape: device.uniform(shape, dtype) * 0.2 - 0.1  # noqa: E731
        self.transitions = Parameter(uniform(num_tags, num_tags))
        self.start_transitions = Parameter(uniform(num_tags))
        self.end_transitions = Parameter(uniform(num_tags))

    def extra_repr(self):
        return f"num_tags={self.num_tags}" + (", batch_first=True" if self.batch_first else "")

    # ----- input checks ---------------------------------------------------------------------
    def _emissions(self, emissions):
        """Emissions as (B, L, T) on the parameters' device."""
        if not isinstance(emissions, Tensor):
            raise TypeError(f"LinearChainCRF: emissions must be a Tensor, got {type(emissions).__name__}")
        if emissions.ndim != 3 or emissions.shape[2] != self.num_tags:
            layout = "(batch, seq_len, num_tags)" if self.batch_first else "(seq_len, batch, num_tags)"
            raise ValueError(f"LinearChainCRF: emissions must be {layout} with num_tags={self.num_tags}, "
                             f"got shape {emissions.shape}")
        if emissions.device is not self.transitions.device:
            raise RuntimeError(f"LinearChainCRF: emissions are on device '{emissions.device.name}' but the "
                               f"parameters on '{self.transitions.device.name}'")
        if emissions.dtype != self.transitions.dtype:
            raise TypeError(f"LinearChainCRF: emissions have dtype {emissions.dtype} but the parameters "
                            f"{self.transitions.dtype} (convert one with .to(dtype))")
        if emissions.shape[0] == 0 or emissions.shape[1] == 0:
            raise ValueError(f"LinearChainCRF: emissions of shape {emissions.shape} hold no sequence")
        return emissions if self.batch_first else emissions.transpose(0, 1)

    def _mask(self, lengths, batch, length, device):
        """lengths -> (B, L) bool mask on ``device``, after checking 1 <= lengths <= L."""
        if lengths is None:
            return device.xp.ones((batch, length), dtype=bool)
        host = _host_array(lengths)
        if host.dtype.kind not in "iu":
            raise TypeError(f"LinearChainCRF: lengths must be integers, got {host.dtype}")
        if host.shape != (batch,):
            raise ValueError(f"LinearChainCRF: lengths must have shape ({batch},), one per sequence of the "
                             f"batch, got {host.shape}")
        if host.size and (host.min() < 1 or host.max() > length):
            raise ValueError(f"LinearChainCRF: lengths must be in [1, {length}] (the padded length), got "
                             f"min {host.min()}, max {host.max()}")
        return device.asarray(np.arange(length)[None, :] < host[:, None])

    def _tags(self, tags, batch, length, mask, device):
        """tags -> (B, L) int64 device array; out-of-length positions replaced by 0."""
        host = _host_array(tags)
        if host.dtype.kind not in "iu":
            raise TypeError(f"LinearChainCRF: tags must be integers, got {host.dtype}")
        expected = (batch, length) if self.batch_first else (length, batch)
        if host.shape != expected:
            raise ValueError(f"LinearChainCRF: tags must have shape {expected} like the emissions, got {host.shape}")
        host = host if self.batch_first else host.T
        valid = device.to_numpy(mask)
        inside = host[valid]
        if inside.size and (inside.min() < 0 or inside.max() >= self.num_tags):
            bad = inside[(inside < 0) | (inside >= self.num_tags)][0]
            raise IndexError(f"LinearChainCRF: tag id {int(bad)} is out of range [0, {self.num_tags})")
        return device.asarray(np.where(valid, host, 0).astype(np.int64))

    def _prepare(self, emissions, lengths):
        emissions = self._emissions(emissions)
        batch, length, _ = emissions.shape
        return emissions, self._mask(lengths, batch, length, emissions.device)

    # ----- the model ------------------------------------------------------------------------
    def log_partition(self, emissions, lengths=None):
        """log Z per sequence (B,), by the forward algorithm."""
        emissions, mask = self._prepare(emissions, lengths)
        return crf_log_partition(emissions, mask, self.transitions, self.start_transitions, self.end_transitions)

    def score(self, emissions, tags, lengths=None):
        """score(tags) per sequence (B,)."""
        emissions, mask = self._prepare(emissions, lengths)
        tags = self._tags(tags, *emissions.shape[:2], mask, emissions.device)
        return crf_path_score(emissions, tags, mask, self.transitions, self.start_transitions, self.end_transitions)

    def forward(self, emissions, tags, lengths=None, reduction="mean"):
        """Negative log-likelihood log Z - score(tags), reduced over the batch."""
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"LinearChainCRF: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        emissions, mask = self._prepare(emissions, lengths)
        tags = self._tags(tags, *emissions.shape[:2], mask, emissions.device)
        parameters = (self.transitions, self.start_transitions, self.end_transitions)
        nll = crf_log_partition(emissions, mask, *parameters) - crf_path_score(emissions, tags, mask, *parameters)
        return nll if reduction == "none" else nll.sum() if reduction == "sum" else nll.mean()

    def decode(self, emissions, lengths=None):
        """Viterbi: the best tag sequence of each sequence (a list of lists of ints, each of
        its length) and its score (a (B,) Tensor, outside the graph)."""
        emissions, mask = self._prepare(emissions, lengths)
        device = emissions.device
        xp = device.xp
        emitted, transitions = emissions.data, self.transitions.data
        best = self.start_transitions.data + emitted[:, 0]
        pointers = []  # pointers[t-1][b, j]: the best tag before tag j at position t
        for t in range(1, emitted.shape[1]):
            candidates = best[:, :, None] + transitions[None]
            pointers.append(device.to_numpy(candidates.argmax(axis=1)))
            best = xp.where(mask[:, t:t + 1], candidates.max(axis=1) + emitted[:, t], best)
        final = best + self.end_transitions.data
        last = device.to_numpy(final.argmax(axis=1))
        lengths = device.to_numpy(mask.sum(axis=1))
        paths = []
        for b in range(emitted.shape[0]):
            path = [int(last[b])]
            for t in range(int(lengths[b]) - 1, 0, -1):
                path.append(int(pointers[t - 1][b, path[-1]]))
            paths.append(path[::-1])
        return paths, Tensor(final.max(axis=1))
