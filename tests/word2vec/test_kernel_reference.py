"""The Numba kernel's skip-gram batch against a plain-Python reference of the same rule, draw by draw.

The reference spells out word2vec.c's (and gensim's ``train_batch_sg``) order with the kernel's
random stream: per sentence, drop unknown words and subsample the rest (one LCG step per known
word), then per centre position draw the reduced window from the kept words, and per context
word train ``syn0[context]`` against ``syn1neg[centre]`` and the negatives drawn for that pair,
adding the accumulated error to ``syn0[context]`` after all targets.  The learning rate is the
batch's start rate moved linearly towards its end rate by the raw words before the sentence.
"""
import math

import numpy as np

from tinygrad_rnn.kernels import numba_word2vec as kernel
from tinygrad_rnn.word2vec.vocab import cumulative_table, guide_table, keep_thresholds

from test_kernel import no_tree

MASK = 2**48 - 1


class LCG:
    def __init__(self, seed):
        self.state = seed & MASK

    def bits(self):
        """The next 32 random bits (the state steps first, as in the kernel)."""
        self.state = (self.state * 25214903917 + 11) & MASK
        return self.state >> 16


def reference_sg_batch(syn0, syn1neg, words, ends, keep, cum, window, negative, alpha_start, alpha_end, seed):
    rng = LCG(seed)
    start, effective = 0, 0
    for end in ends:
        alpha = alpha_start + (alpha_end - alpha_start) * start / len(words)
        kept = [w for w in words[start:end] if w >= 0 and keep[w] >= rng.bits()]
        start = end
        effective += len(kept)
        for i, centre in enumerate(kept):
            b = rng.bits() % window
            for j in range(max(0, i - window + b), min(len(kept), i + window + 1 - b)):
                if j == i:
                    continue
                negatives = [int(np.searchsorted(cum, rng.bits() * int(cum[-1]) >> 32)) for _ in range(negative)]
                h = syn0[kept[j]]
                error = np.zeros_like(h)
                for target, label in [(centre, 1.0)] + [(k, 0.0) for k in negatives if k != centre]:
                    out = syn1neg[target]
                    g = np.float32((label - 1.0 / (1.0 + math.exp(-float(h @ out)))) * alpha)
                    error += g * out
                    out += g * h
                h += error
    return effective


def test_skipgram_batch_equals_the_reference():
    counts = np.array([400, 200, 90, 60, 30, 20, 10, 5, 5, 3])
    keep = keep_thresholds(counts, 0.05)  # the two most frequent words are subsampled
    cum = cumulative_table(counts, 0.75)
    rng = np.random.default_rng(4)
    words = rng.choice(len(counts), 300, p=counts / counts.sum()).astype(np.int32)
    words[rng.random(300) < 0.1] = -1  # out of vocabulary
    ends = np.array([40, 41, 120, 200, 300])
    syn0 = ((rng.random((len(counts), 8)) - 0.5) / 8).astype(np.float32)
    syn1neg = ((rng.random((len(counts), 8)) - 0.5) / 8).astype(np.float32)
    ours, theirs = (syn0.copy(), syn1neg.copy()), (syn0.copy(), syn1neg.copy())
    hs_syn1, points, codes, offsets = no_tree(syn0)
    effective, _ = kernel.train_batch(ours[0], hs_syn1, ours[1], words, ends, keep, points, codes, offsets,
                                      cum, guide_table(cum), 1, 3, 4, True, 0.5, 0.1, 77, False)
    expected = reference_sg_batch(*theirs, words.tolist(), ends.tolist(), keep.tolist(), cum, 3, 4, 0.5, 0.1, 77)
    assert effective == expected
    for mine, reference in zip(ours, theirs):
        # float32 sums in another order (fastmath) differ by ~1e-6 here; a changed rule by > 1e-2
        np.testing.assert_allclose(mine, reference, rtol=0, atol=1e-5)
