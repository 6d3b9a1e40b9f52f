"""A hidden Markov model tagger: probabilities counted from a tagged corpus, decoded by Viterbi.

The generative model of a sentence w₁…w_L with tags y₁…y_L::

    p(w, y) = π[y₁] · Πₜ₌₂ A[yₜ₋₁, yₜ] · Πₜ B[yₜ, wₜ]

with every probability a smoothed relative frequency (add-k, k = 1 by default: Laplace's
add-one), from the counts c(·) of the training sentences, T tags and V known word types::

    π[y]    = (c(sentences starting with y) + k) / (c(sentences) + k·T)
    A[i, j] = (c(i followed by j) + k) / (c(i followed by anything) + k·T)
    B[y, w] = (c(w tagged y) + k) / (c(y) + k·(V + 1))     w known or the one unknown word

so a word never seen in training gets k / (c(y) + k·(V + 1)) under every tag, and its tag comes
from the transitions. Decoding maximises log p(w, y) over the T^L tag sequences with Viterbi
in O(L·T²), the recursion of the CRF (models/crf.py) with these log-probabilities as scores:

    δ₁ = log π + log B[:, w₁],   δₜ[j] = maxᵢ(δₜ₋₁[i] + log A[i, j]) + log B[j, wₜ]

The HMM is the count-based baseline that the discriminative taggers (BiLSTM, BiLSTM-CRF)
are compared with; it sees only the word itself, so unknown words are its weak point.
"""
import numpy as np


class HMMTagger:
    """``HMMTagger(smoothing=1.0).fit(sentences)``: sentences are lists of (word, tag); then
    ``decode(words)`` -> the most probable tags. After ``fit``: ``tags``, ``words`` (sorted
    lists), ``log_start`` (T,), ``log_transition`` (T, T), ``log_emission`` (T, V + 1), its last
    column the unknown word."""

    def __init__(self, smoothing=1.0):
        if not smoothing > 0:
            raise ValueError(f"HMMTagger: smoothing must be > 0 (add-k with k > 0), got {smoothing!r}")
        self.smoothing = smoothing

    def fit(self, sentences):
        sentences = [list(s) for s in sentences if len(s)]
        if not sentences:
            raise ValueError("HMMTagger.fit: no tagged sentences (each a non-empty list of (word, tag))")
        self.tags = sorted({tag for s in sentences for _, tag in s})
        self.words = sorted({word for s in sentences for word, _ in s})
        self._tag_ids = {tag: i for i, tag in enumerate(self.tags)}
        self._word_ids = {word: i for i, word in enumerate(self.words)}
        tags, words = len(self.tags), len(self.words)
        start, transition = np.zeros(tags), np.zeros((tags, tags))
        emission = np.zeros((tags, words + 1))
        for sentence in sentences:
            ids = [self._tag_ids[tag] for _, tag in sentence]
            start[ids[0]] += 1
            np.add.at(transition, (ids[:-1], ids[1:]), 1)
            np.add.at(emission, (ids, [self._word_ids[word] for word, _ in sentence]), 1)
        k = self.smoothing
        self.log_start = np.log((start + k) / (start.sum() + k * tags))
        self.log_transition = np.log((transition + k) / (transition.sum(axis=1, keepdims=True) + k * tags))
        self.log_emission = np.log((emission + k) / (emission.sum(axis=1, keepdims=True) + k * (words + 1)))
        return self

    def _word_columns(self, words):
        unknown = len(self.words)
        return np.array([self._word_ids.get(word, unknown) for word in words], dtype=np.int64)

    def log_probability(self, words, tags):
        """log p(words, tags) under the model."""
        y = np.array([self._tag_ids[tag] for tag in tags])
        emitted = self.log_emission[y, self._word_columns(words)].sum()
        return float(self.log_start[y[0]] + self.log_transition[y[:-1], y[1:]].sum() + emitted)

    def decode(self, words):
        """The tag sequence that maximises p(words, tags) (Viterbi); [] for no words."""
        if not hasattr(self, "tags"):
            raise RuntimeError("HMMTagger.decode: call fit first")
        if len(words) == 0:
            return []
        emitted = self.log_emission[:, self._word_columns(words)].T          # (L, T)
        delta, back = self.log_start + emitted[0], []
        for scores in emitted[1:]:
            candidates = delta[:, None] + self.log_transition                # (from, to)
            back.append(candidates.argmax(axis=0))
            delta = candidates.max(axis=0) + scores
        best = [int(delta.argmax())]
        for pointers in reversed(back):
            best.append(int(pointers[best[-1]]))
        return [self.tags[i] for i in reversed(best)]
