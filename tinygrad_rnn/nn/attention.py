"""Attention over a source sequence: Luong's (multiplicative) and Bahdanau's (additive).

A decoder state (the *query*) scores every source position s (the *keys* h̄ₛ); the scores
become weights by a softmax over the attended positions, and the *context* is the weighted
sum of the *values* (the keys themselves unless given)::

    αₜₛ = exp(eₜₛ) / Σ_{r attended} exp(eₜᵣ)          (0 at masked positions)
    cₜ  = Σₛ αₜₛ vₛ

Shapes: queries (N, Hq) for one decoder step or (N, Tq, Hq) for a whole sequence, keys
(N, Ts, Hk), values (N, Ts, Hv), mask (N, Ts) of bools with True = attend. The context has
the query's leading shape, (N, Hv) or (N, Tq, Hv); the weights are (N, Ts) or (N, Tq, Ts).
A row whose mask is all False gets zero weights and a zero context (and zero gradients), never
NaN: a batch of padded sources may hold an empty one.
"""
import math
from typing import NamedTuple

from ..autograd import Function
from ..ops.movement import concatenate
from ..tensor import Tensor, zeros
from . import init
from .layers import Linear, check_same_kind
from .module import Module, Parameter


class MaskedSoftmax(Function):
    """α = softmax(e) over the last axis, restricted to the positions where ``mask`` holds::

        αₛ = maskₛ e^(eₛ - m) / Σᵣ maskᵣ e^(eᵣ - m),   m = max_{r: maskᵣ} eᵣ

    Masked positions get exactly 0 whatever their score (even inf or NaN), and a row with no
    attended position is all zeros instead of 0/0. Backward: ∂L/∂e = α ⊙ (g - Σₛ αₛ gₛ), which
    is 0 wherever α is 0, so masked positions and empty rows pass no gradient.
    """

    def forward(self, scores, mask):
        xp = self.xp
        if mask is not None:
            scores = xp.where(mask, scores, -xp.inf)
        shift = scores.max(axis=-1, keepdims=True)
        shift = xp.where(xp.isfinite(shift), shift, 0)  # an empty row has max -inf
        weights = xp.exp(scores - shift)
        total = weights.sum(axis=-1, keepdims=True)
        return weights / xp.where(total > 0, total, 1)

    def backward(self, g):
        weights = self.output
        return weights * (g - (weights * g).sum(axis=-1, keepdims=True))


def masked_softmax(scores, mask=None):
    """Softmax of ``scores`` over the last axis where ``mask`` (bools broadcastable to the
    scores, True = keep) holds; zero elsewhere and on rows with nothing kept."""
    if mask is not None:
        mask = mask.data if isinstance(mask, Tensor) else mask
        if mask.dtype.kind != "b":
            raise TypeError(f"masked_softmax: the mask must be bool (True = attend), got {mask.dtype}")
    return MaskedSoftmax.apply(scores, mask=mask)


def _score_vector(size, device, dtype):
    """v_a (size,) ~ U(±1/√size), the bound a Linear(size, 1) would give its weight."""
    bound = 1 / math.sqrt(size)
    return init.uniform_(Parameter(zeros(size, dtype=dtype, device=device)), -bound, bound)


def _additive_scores(query, keys, weight_query, weight_key, v):
    """eₜₛ = vᵀ tanh(W_q qₜ + W_k kₛ) for query (N, Tq, Hq), keys (N, Ts, Hk) -> (N, Tq, Ts).
    The projections are computed once per query and per key, then broadcast: (N, Tq, Ts, H)."""
    projected_query = (query @ weight_query.T).unsqueeze(2)
    projected_keys = (keys @ weight_key.T).unsqueeze(1)
    return (projected_query + projected_keys).tanh() @ v


class _Inputs(NamedTuple):
    query: Tensor     # (N, Tq, Hq)
    keys: Tensor      # (N, Ts, Hk)
    values: Tensor    # (N, Ts, Hv)
    mask: object      # (N, 1, Ts) bool array or None
    single_step: bool  # the query was (N, Hq): squeeze Tq from the results


def _check_inputs(layer, query, keys, values, mask, query_size, key_size, parameter):
    """Validate the shapes, dtypes and devices (naming ``layer``; ``parameter`` is one of its
    weights) and bring the query to (N, Tq, Hq)."""
    values = keys if values is None else values
    for what, tensor in (("query", query), ("keys", keys), ("values", values)):
        check_same_kind(layer, what, tensor, parameter)
    if query.ndim not in (2, 3):
        raise ValueError(f"{layer}: query must be (N, {query_size}) or (N, Tq, {query_size}), got shape {query.shape}")
    if keys.ndim != 3:
        raise ValueError(f"{layer}: keys must be (N, Ts, {key_size}), got shape {keys.shape}")
    batch, source_length = keys.shape[:2]
    if query.shape[0] != batch:
        raise ValueError(f"{layer}: batch sizes differ: query {query.shape} has {query.shape[0]}, "
                         f"keys {keys.shape} have {batch}")
    if query.shape[-1] != query_size:
        raise ValueError(f"{layer}: query has {query.shape[-1]} features (shape {query.shape}), expected {query_size}")
    if keys.shape[-1] != key_size:
        raise ValueError(f"{layer}: keys have {keys.shape[-1]} features (shape {keys.shape}), expected {key_size}")
    if values.ndim != 3 or values.shape[:2] != (batch, source_length):
        raise ValueError(f"{layer}: values must be (N, Ts, Hv) = ({batch}, {source_length}, Hv) like the keys "
                         f"{keys.shape}, got shape {values.shape}")
    if mask is not None:
        mask = mask.data if isinstance(mask, Tensor) else keys.device.asarray(mask)
        if tuple(mask.shape) != (batch, source_length):
            raise ValueError(f"{layer}: mask must be (N, Ts) = ({batch}, {source_length}) like the keys "
                             f"{keys.shape}, got shape {tuple(mask.shape)}")
        if mask.dtype.kind != "b":
            raise TypeError(f"{layer}: mask must be bool (True = attend), got {mask.dtype}")
        mask = mask[:, None, :]
    single_step = query.ndim == 2
    return _Inputs(query.unsqueeze(1) if single_step else query, keys, values, mask, single_step)


def _attend(scores, inputs):
    """Weights (N, Tq, Ts) and context (N, Tq, Hv) from scores, as the caller's shapes."""
    weights = masked_softmax(scores, inputs.mask)
    context = weights @ inputs.values
    if inputs.single_step:
        return context.squeeze(1), weights.squeeze(1)
    return context, weights


class Attention(NamedTuple):
    """What ``BahdanauAttention`` returns."""
    context: Tensor   # (N, Hv) or (N, Tq, Hv)
    weights: Tensor   # (N, Ts) or (N, Tq, Ts), rows sum to 1 (0 for empty rows)


class LuongAttentionOutput(NamedTuple):
    """What ``LuongAttention`` returns."""
    context: Tensor      # cₜ: (N, H) or (N, Tq, H)
    weights: Tensor      # αₜ: (N, Ts) or (N, Tq, Ts)
    attentional: Tensor  # ãₜ = tanh(W_c [cₜ; hₜ]): (N, H) or (N, Tq, H)


class LuongAttention(Module):
    """Global attention of Luong, Pham & Manning (2015), "Effective Approaches to
    Attention-based Neural Machine Translation"::

        score(hₜ, h̄ₛ) = hₜᵀ h̄ₛ                    "dot"
                      = hₜᵀ W_a h̄ₛ                 "general"   W_a = linear_a.weight (H, H)
                      = v_aᵀ tanh(W_a [hₜ; h̄ₛ])    "concat"    W_a = linear_a.weight (H, 2H), v_a (H,)
        αₜₛ = softmax over attended s of score(hₜ, h̄ₛ)
        cₜ  = Σₛ αₜₛ h̄ₛ
        ãₜ  = tanh(W_c [cₜ; hₜ])                                W_c = linear_c.weight (H, 2H)

    ``forward(query, keys, values=None, mask=None)`` with query hₜ (N, H) or (N, Tq, H),
    keys h̄ (N, Ts, H), values (default: the keys) (N, Ts, H), mask (N, Ts) bools with True =
    attend. Returns ``LuongAttentionOutput(context, weights, attentional)``. The paper's
    formulas have no biases, and neither do these linear maps.
    """

    SCORES = ("dot", "general", "concat")

    def __init__(self, hidden_size, score="dot", device=None, dtype=None):
        super().__init__()
        if score not in self.SCORES:
            raise ValueError(f"LuongAttention: score must be one of {self.SCORES}, got {score!r}")
        self.hidden_size, self.score = hidden_size, score
        if score == "general":
            self.linear_a = Linear(hidden_size, hidden_size, bias=False, device=device, dtype=dtype)
        elif score == "concat":
            self.linear_a = Linear(2 * hidden_size, hidden_size, bias=False, device=device, dtype=dtype)
            self.v_a = _score_vector(hidden_size, device, dtype)
        self.linear_c = Linear(2 * hidden_size, hidden_size, bias=False, device=device, dtype=dtype)

    def scores(self, query, keys):
        """score(hₜ, h̄ₛ) for query (N, Tq, H) and keys (N, Ts, H) -> (N, Tq, Ts)."""
        if self.score == "dot":
            return query @ keys.mT
        if self.score == "general":
            return (query @ self.linear_a.weight) @ keys.mT  # (hₜᵀ W_a) h̄ₛ: W_a meets the Tq queries only
        weight, size = self.linear_a.weight, self.hidden_size
        return _additive_scores(query, keys, weight[:, :size], weight[:, size:], self.v_a)

    def forward(self, query, keys, values=None, mask=None):
        size = self.hidden_size
        inputs = _check_inputs("LuongAttention", query, keys, values, mask, size, size, self.linear_c.weight)
        if inputs.values.shape[-1] != size:
            raise ValueError(f"LuongAttention: values have {inputs.values.shape[-1]} features "
                             f"(shape {inputs.values.shape}), expected {size}")
        context, weights = _attend(self.scores(inputs.query, keys), inputs)
        attentional = self.linear_c(concatenate([context, query], axis=-1)).tanh()
        return LuongAttentionOutput(context, weights, attentional)

    def extra_repr(self):
        return f"{self.hidden_size}, score={self.score!r}"


class BahdanauAttention(Module):
    """Additive attention of Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by
    Jointly Learning to Align and Translate"::

        eₜₛ = v_aᵀ tanh(W_a sₜ + U_a h̄ₛ)     W_a = linear_query.weight (hidden, query_size),
                                          U_a = linear_key.weight (hidden, key_size), v_a (hidden,)
        αₜₛ = softmax over attended s of eₜₛ
        cₜ  = Σₛ αₜₛ h̄ₛ

    ``forward(query, keys, values=None, mask=None)`` with query sₜ (N, query_size) or
    (N, Tq, query_size), keys (N, Ts, key_size), values (default: the keys) (N, Ts, Hv), mask
    (N, Ts) bools with True = attend. Returns ``Attention(context, weights)``. No biases, as
    in the paper.
    """

    def __init__(self, query_size, key_size, hidden_size, device=None, dtype=None):
        super().__init__()
        self.query_size, self.key_size, self.hidden_size = query_size, key_size, hidden_size
        self.linear_query = Linear(query_size, hidden_size, bias=False, device=device, dtype=dtype)  # W_a
        self.linear_key = Linear(key_size, hidden_size, bias=False, device=device, dtype=dtype)  # U_a
        self.v_a = _score_vector(hidden_size, device, dtype)

    def forward(self, query, keys, values=None, mask=None):
        inputs = _check_inputs("BahdanauAttention", query, keys, values, mask, self.query_size, self.key_size,
                               self.v_a)
        scores = _additive_scores(inputs.query, keys, self.linear_query.weight, self.linear_key.weight, self.v_a)
        return Attention(*_attend(scores, inputs))

    def extra_repr(self):
        return f"query_size={self.query_size}, key_size={self.key_size}, hidden_size={self.hidden_size}"
