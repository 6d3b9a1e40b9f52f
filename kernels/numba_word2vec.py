"""word2vec's training loop: per-pair SGD with negative sampling and/or hierarchical softmax.

For an input vector ``h`` and a target word ``c`` with negatives ``k_1..k_n`` (``v`` rows of
``syn1neg``), or the inner nodes ``u_b = syn1[p_b]`` on the Huffman path of ``c`` (hs):

    L = -log sigmoid(h . v_c) - sum_k log sigmoid(-h . v_k)
    L = -sum_b log sigmoid((1 - 2 code_b) h . u_b)                    (hs)

One step with rate ``alpha``, ``g_d = alpha (label_d - sigmoid(h . v_d))`` for each target d
(label 1 for ``c``, 0 for each ``k``; ``1 - code_b`` for the node ``u_b``):
``v_d += g_d h``, then ``h += sum_d g_d v_d`` (with the old ``v_d``). With both objectives the
path comes first (gensim's order). Unlike word2vec.c and gensim, no node is skipped when
``|h . u_b| >= 6``: the exact step is taken. Skip-gram's input is each context word's vector;
CBOW's the mean (``cbow_mean``) or sum of them, and every context vector gets the whole error
(word2vec.c's update: for the mean, C times the gradient; the true gradient trained much worse
vectors).

Per batch, as word2vec.c per word: drop out-of-vocabulary words (-1), subsample, draw a reduced
window, decay alpha linearly (one value per sentence); random numbers from word2vec.c's 48-bit
LCG, one state per call. Threads run batches at once and update the weights without locks
(hogwild, as word2vec.c and gensim).
"""

import math

import numpy as np
from numba import njit

_LCG_MUL = np.uint64(25214903917)
_LCG_ADD = np.uint64(11)
_LCG_MASK = np.uint64(2**48 - 1)
_SHIFT = np.uint64(16)

_JIT = dict(cache=True, nogil=True, fastmath=True)
_INLINE = dict(_JIT, inline="always")


@njit(**_JIT)
def _next(state):
    """One step of word2vec.c's LCG; the random bits are ``state >> 16`` (32 bits)."""
    return (state * _LCG_MUL + _LCG_ADD) & _LCG_MASK


@njit(**_JIT)
def _draw_negative(cum_table, guide, state):
    """``bisect_left(cum_table, x)`` for a uniform ``x`` in ``[0, cum_table[-1])`` (gensim's draw).

    ``x = r * cum_table[-1] >> 32`` for the 32 random bits ``r`` (a multiply instead of gensim's
    ``r % cum_table[-1]``, whose 64-bit division cost a fifth of the kernel's time).

    ``guide`` splits ``[0, 2**31)`` into ``B = len(guide) - 1`` equal buckets (B a power of two),
    ``guide[k]`` being the insertion point of bucket k's first integer; the answer for ``x`` lies
    in ``[guide[k], guide[k + 1]]`` with ``k = x * B >> 31``, so the search covers only the few
    words that share ``x``'s bucket instead of the whole vocabulary.
    """
    x = ((state >> _SHIFT) * np.uint64(cum_table[-1])) >> np.uint64(32)
    k = (x * np.uint64(guide.shape[0] - 1)) >> np.uint64(31)
    lo = guide[k]
    hi = min(guide[k + 1], cum_table.shape[0] - 1)
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum_table[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(**_JIT)
def draw_negatives(cum_table, guide, state, out):
    """Fill ``out`` with negative-word draws; returns the advanced RNG state."""
    for k in range(out.shape[0]):
        state = _next(state)
        out[k] = _draw_negative(cum_table, guide, state)
    return state


@njit(**_JIT)
def _softplus(x):
    """log(1 + exp(x)) in float64 without overflow (the loss never saturates)."""
    x = np.float64(x)
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@njit(**_INLINE)
def _dot(h, out):
    """``h . out`` in ``h``'s dtype."""
    f = h[0] * out[0]
    for a in range(1, h.shape[0]):
        f += h[a] * out[a]
    return f


@njit(**_INLINE)
def _label_loss(f, label):
    """``-log sigmoid(f)`` for label 1.0, ``-log sigmoid(-f)`` for label 0.0 (float64)."""
    return _softplus(-f if label == 1.0 else f)


@njit(**_INLINE)
def _output_step(h, out, f, label, alpha, grad_h):
    """The step for one output row ``out`` with score ``f = h . out`` and label 1.0 or 0.0:
    ``grad_h += g * out`` (old ``out``), ``out += g * h``."""
    g = h.dtype.type((label - 1.0 / (1.0 + math.exp(-f))) * alpha)
    for a in range(h.shape[0]):
        grad_h[a] += g * out[a]
        out[a] += g * h[a]


@njit(**_INLINE)
def negative_update(h, syn1neg, target, negatives, alpha, grad_h, compute_loss):
    """Negative sampling: update ``syn1neg`` rows of ``target`` and ``negatives`` (a negative equal
    to the target skipped) for input ``h``; adds ``sum_d g_d * v_d`` to ``grad_h``; returns L."""
    loss = 0.0
    for d in range(negatives.shape[0] + 1):
        if d == 0:
            word = target
            label = 1.0
        else:
            word = negatives[d - 1]
            if word == target:
                continue
            label = 0.0
        out = syn1neg[word]
        f = _dot(h, out)
        if compute_loss:
            loss += _label_loss(f, label)
        _output_step(h, out, f, label, alpha, grad_h)
    return loss


@njit(**_INLINE)
def hs_update(h, syn1, points, codes, alpha, grad_h, compute_loss):
    """Hierarchical softmax: update the inner-node rows ``syn1[points]`` of the target's path,
    label ``1 - code`` at each; adds ``sum_b g_b * u_b`` to ``grad_h``; returns L.

    All scores first, then all steps, then the loss: the path's rows are distinct and ``h`` is not
    written, so this equals the row-by-row loop; it is faster (independent dot products, and no
    loss code among the steps; benchmarks/PERFORMANCE.md).
    """
    scores = np.empty(points.shape[0], h.dtype)
    for b in range(points.shape[0]):
        scores[b] = _dot(h, syn1[points[b]])
    for b in range(points.shape[0]):
        _output_step(h, syn1[points[b]], scores[b], 1.0 - codes[b], alpha, grad_h)
    loss = 0.0
    if compute_loss:
        for b in range(points.shape[0]):
            loss += _label_loss(scores[b], 1.0 - codes[b])
    return loss


@njit(**_INLINE)
def output_update(h, syn1, points, codes, syn1neg, target, negatives, alpha, grad_h, compute_loss):
    """Both objectives for input ``h`` and word ``target`` (gensim's order: the tree path, then the
    negatives); ``grad_h`` is zeroed first and ends as the summed error.  An empty path turns
    hierarchical softmax off, an empty ``syn1neg`` negative sampling."""
    grad_h[:] = 0.0
    loss = 0.0
    if points.shape[0] > 0:  # not even hs_update's scratch array without a path
        loss += hs_update(h, syn1, points, codes, alpha, grad_h, compute_loss)
    if syn1neg.shape[0] > 0:
        loss += negative_update(h, syn1neg, target, negatives, alpha, grad_h, compute_loss)
    return loss


@njit(**_INLINE)
def sg_pair_update(syn0, syn1, syn1neg, input_word, points, codes, target, negatives, alpha, grad_h,
                   compute_loss):
    """One skip-gram step: input vector ``syn0[input_word]``, target ``target`` (whose tree path is
    ``points``, ``codes``); returns L."""
    h = syn0[input_word]
    loss = output_update(h, syn1, points, codes, syn1neg, target, negatives, alpha, grad_h, compute_loss)
    for a in range(h.shape[0]):
        h[a] += grad_h[a]
    return loss


@njit(**_INLINE)
def cbow_update(syn0, syn1, syn1neg, contexts, points, codes, target, negatives, alpha, cbow_mean, h,
                grad_h, compute_loss):
    """One CBOW step: input the mean (or sum) of ``syn0[contexts]``, target ``target``; returns L.

    Every context vector receives the whole error (see the module docstring for the mean).
    """
    size = syn0.shape[1]
    h[:] = 0.0
    for m in range(contexts.shape[0]):
        row = syn0[contexts[m]]
        for a in range(size):
            h[a] += row[a]
    if cbow_mean:
        scale = h.dtype.type(1.0 / contexts.shape[0])
        for a in range(size):
            h[a] *= scale
    loss = output_update(h, syn1, points, codes, syn1neg, target, negatives, alpha, grad_h, compute_loss)
    for m in range(contexts.shape[0]):
        row = syn0[contexts[m]]
        for a in range(size):
            row[a] += grad_h[a]
    return loss


@njit(**_JIT)
def train_batch(syn0, syn1, syn1neg, words, sentence_ends, keep_threshold, tree_points, tree_codes,
                tree_offsets, cum_table, guide, sg, window, negative, cbow_mean, alpha_start, alpha_end,
                seed, compute_loss):
    """Train on a batch of sentences; returns (effective words, float64 loss sum).

    ``words``: int32 vocabulary indices of the concatenated sentences (-1 = out of vocabulary);
    ``sentence_ends``: end offset of each sentence in ``words``.  Alpha goes linearly from
    ``alpha_start`` at the first word to ``alpha_end`` after the last.  Word ``w``'s tree path is
    ``tree_points[tree_offsets[w]:tree_offsets[w + 1]]`` (and the same slice of ``tree_codes``):
    all-zero offsets turn hierarchical softmax off; ``negative = 0`` with an empty ``syn1neg``
    turns negative sampling off.
    """
    size = syn0.shape[1]
    grad_h = np.empty(size, syn0.dtype)
    h = np.empty(size, syn0.dtype)
    negatives = np.empty(negative, np.int64)
    contexts = np.empty(2 * window, np.int64)
    sentence = np.empty(words.shape[0], np.int64)
    state = np.uint64(seed) & _LCG_MASK
    n_raw = max(words.shape[0], 1)
    effective = 0
    loss = 0.0
    start = 0
    for end in sentence_ends:
        alpha = alpha_start + (alpha_end - alpha_start) * (start / n_raw)
        n = 0
        for p in range(start, end):
            w = words[p]
            if w < 0:
                continue
            state = _next(state)
            if keep_threshold[w] < (state >> _SHIFT):
                continue
            sentence[n] = w
            n += 1
        start = end
        effective += n
        for i in range(n):
            target = sentence[i]
            points = tree_points[tree_offsets[target]:tree_offsets[target + 1]]
            codes = tree_codes[tree_offsets[target]:tree_offsets[target + 1]]
            state = _next(state)
            b = np.int64((state >> _SHIFT) % np.uint64(window))
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            if sg:
                for j in range(lo, hi):
                    if j == i:
                        continue
                    state = draw_negatives(cum_table, guide, state, negatives)
                    loss += sg_pair_update(syn0, syn1, syn1neg, sentence[j], points, codes, target,
                                           negatives, alpha, grad_h, compute_loss)
            else:
                c = 0
                for j in range(lo, hi):
                    if j != i:
                        contexts[c] = sentence[j]
                        c += 1
                if c == 0:
                    continue
                state = draw_negatives(cum_table, guide, state, negatives)
                loss += cbow_update(syn0, syn1, syn1neg, contexts[:c], points, codes, target,
                                    negatives, alpha, cbow_mean, h, grad_h, compute_loss)
    return effective, loss
