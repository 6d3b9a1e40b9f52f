"""Vocabulary, frequent-word subsampling and the negative-sampling distribution.

One streaming pass counts the tokens (``Vocabulary.scan``); ``Vocabulary.finalize`` then keeps the
words seen at least ``min_count`` times, sorted by decreasing count (ties in first-seen order, as
gensim), and precomputes the two tables the training kernels read:

* ``keep_threshold``: subsampling of frequent words.  With ``f`` a word's count and
  ``t = sample * N`` (``N`` the total count of the kept words), a word occurrence is kept with
  probability

      p_keep(f) = min(1, (sqrt(f / t) + 1) * t / f)      sample_formula="code" (default)
      p_keep(f) = min(1, sqrt(t / f))                    sample_formula="paper"

  "code" is what word2vec.c and gensim compute; "paper" is Mikolov et al. (2013)'s discard
  probability 1 - sqrt(t / f).  The code's is sqrt(t/f) + t/f: it keeps every word with
  f <= t (3 + sqrt 5) / 2 ≈ 2.6 t, not only those with f <= t, and more of each frequent word, so
  it thins less (gensim's default sample=1e-3 is tuned for it; the paper used t = 1e-5).
  Stored as a uint32 threshold ``p_keep * (2**32 - 1)`` that a kernel compares with a 32-bit
  random number (keep when ``threshold >= random``).
* ``cum_table``: the unigram distribution raised to ``ns_exponent``,
  ``P(w) = f_w**a / sum_v f_v**a``, as a cumulative table over ``[0, 2**31 - 1]``; a kernel draws
  a negative word by binary search of a uniform integer in it (gensim's ``make_cum_table``).
  ``cum_guide`` narrows that search to one bucket of the integer range (see ``guide_table``).

While counting, ``max_vocab_size`` bounds memory as word2vec.c does: whenever the number of
distinct words exceeds it, the words seen at most ``min_reduce`` times are dropped and
``min_reduce`` grows by one.  Dropped words lose their counts, so the result then approximates
the exact counts (a word dropped early and seen again later restarts from zero).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

CUM_TABLE_DOMAIN = 2**31 - 1


def check_sentence(sentence, position: int) -> list:
    """Return ``sentence`` as a list of tokens; a bare str (not split into tokens) is an error."""
    if isinstance(sentence, (str, bytes)):
        raise TypeError(
            f"word2vec: sentence {position} is a {type(sentence).__name__} ({sentence[:30]!r}...); "
            "expected a list of string tokens, e.g. text.split()")
    return sentence if isinstance(sentence, list) else list(sentence)


def _first_non_string(counts: Counter):
    return next((token for token in counts if not isinstance(token, str)), None)


class Vocabulary:
    """Word counts and the sampling tables derived from them.

    After ``finalize``: ``index_to_key`` (list of str, most frequent first), ``key_to_index``
    (dict), ``counts`` (int64 per index), ``keep_threshold`` (uint32), ``cum_table`` (uint32),
    ``raw_words`` (tokens per pass over the corpus, including the dropped ones) and
    ``kept_words`` (``sum(counts)``).
    """

    def __init__(self, min_count: int = 5, sample: float = 1e-3, ns_exponent: float = 0.75,
                 max_vocab_size: int | None = None, sample_formula: str = "code"):
        if min_count < 1:
            raise ValueError(f"Vocabulary: min_count must be >= 1, got {min_count}")
        if sample < 0:
            raise ValueError(f"Vocabulary: sample must be >= 0, got {sample}")
        check_sample_formula("Vocabulary", sample_formula)
        if max_vocab_size is not None and max_vocab_size < 1:
            raise ValueError(f"Vocabulary: max_vocab_size must be >= 1 or None, got {max_vocab_size}")
        self.min_count = min_count
        self.sample = sample
        self.sample_formula = sample_formula
        self.ns_exponent = ns_exponent
        self.max_vocab_size = max_vocab_size
        self.index_to_key: list[str] = []
        self.key_to_index: dict[str, int] = {}
        self.counts = np.zeros(0, np.int64)
        self.raw_words = 0
        self.sentences = 0

    def scan(self, sentences: Iterable) -> "Vocabulary":
        """Count the tokens of one pass over ``sentences`` and finalize."""
        raw = Counter()
        raw_words = 0
        min_reduce = 1
        n_sentences = 0
        for n_sentences, sentence in enumerate(sentences, 1):
            tokens = check_sentence(sentence, n_sentences - 1)
            try:
                raw.update(tokens)
            except TypeError as err:  # an unhashable token, e.g. a nested list
                raise TypeError(f"word2vec: tokens must be str; sentence {n_sentences - 1}: {err}") from None
            raw_words += len(tokens)
            if self.max_vocab_size is not None and len(raw) > self.max_vocab_size:
                # word2vec.c's ReduceVocab: forget the rarest words, then raise the bar
                raw = Counter({w: c for w, c in raw.items() if c > min_reduce})
                min_reduce += 1
        bad = _first_non_string(raw)
        if bad is not None:
            raise TypeError(f"word2vec: tokens must be str, got {bad!r} of type {type(bad).__name__}")
        if raw_words == 0:
            raise ValueError("word2vec: the corpus is empty (no tokens in any sentence)")
        self.raw_words = raw_words
        self.sentences = n_sentences
        return self.finalize(raw)

    def finalize(self, raw_counts: dict) -> "Vocabulary":
        """Keep words with count >= min_count, most frequent first, and build the tables."""
        kept = [(w, c) for w, c in raw_counts.items() if c >= self.min_count]
        if not kept:
            top = max(raw_counts.values(), default=0)
            raise ValueError(
                f"word2vec: min_count={self.min_count} leaves an empty vocabulary "
                f"({len(raw_counts)} distinct words, the most frequent seen {top} times)")
        kept.sort(key=lambda wc: -wc[1])  # stable: ties keep first-seen order
        self.index_to_key = [w for w, _ in kept]
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.counts = np.array([c for _, c in kept], dtype=np.int64)
        self.keep_threshold = keep_thresholds(self.counts, self.sample, self.sample_formula)
        self.cum_table = cumulative_table(self.counts, self.ns_exponent)
        self.cum_guide = guide_table(self.cum_table)
        return self

    @property
    def kept_words(self) -> int:
        return int(self.counts.sum())

    def __len__(self) -> int:
        return len(self.index_to_key)

    def expected_training_words(self) -> float:
        """Expected words per pass after subsampling (sum of count * p_keep)."""
        return float((self.counts * (self.keep_threshold / (2.0**32 - 1))).sum())


SAMPLE_FORMULAS = ("code", "paper")


def check_sample_formula(owner: str, sample_formula) -> None:
    if sample_formula not in SAMPLE_FORMULAS:
        raise ValueError(f"{owner}: sample_formula must be 'code' (word2vec.c's, as gensim) or 'paper' "
                         f"(Mikolov et al.'s 1 - sqrt(t/f) discard), got {sample_formula!r}")


def keep_probability(counts: np.ndarray, sample: float, sample_formula: str = "code") -> np.ndarray:
    """p_keep with t = sample * sum(counts), clipped to 1: word2vec.c's (sqrt(f/t) + 1) * t/f
    ("code") or the paper's sqrt(t/f) ("paper"); all ones when ``sample`` is 0."""
    check_sample_formula("keep_probability", sample_formula)
    f = counts.astype(np.float64)
    if sample == 0:
        return np.ones_like(f)
    t = sample * f.sum()
    keep = np.sqrt(t / f)
    return np.minimum(1.0, keep + t / f if sample_formula == "code" else keep)


def keep_thresholds(counts: np.ndarray, sample: float, sample_formula: str = "code") -> np.ndarray:
    """``keep_probability`` as uint32 thresholds for 32-bit random integers."""
    return (keep_probability(counts, sample, sample_formula) * (2**32 - 1)).astype(np.uint32)


def cumulative_table(counts: np.ndarray, ns_exponent: float) -> np.ndarray:
    """Cumulative ``counts**ns_exponent`` scaled to ``[0, CUM_TABLE_DOMAIN]`` (uint32)."""
    weights = counts.astype(np.float64) ** ns_exponent
    cumulative = np.cumsum(weights) / weights.sum()
    return np.round(cumulative * CUM_TABLE_DOMAIN).astype(np.uint32)


def guide_table(cum_table: np.ndarray, buckets: int = 2**16) -> np.ndarray:
    """Insertion points in ``cum_table`` of the starts of ``buckets`` equal parts of ``[0, 2**31)``.

    ``guide[k] = bisect_left(cum_table, k * 2**31 / buckets)``; a draw ``x`` in bucket k then
    only needs to search ``cum_table[guide[k] : guide[k + 1] + 1]``.
    """
    if buckets & (buckets - 1):
        raise ValueError(f"guide_table: buckets must be a power of two, got {buckets}")
    bucket_starts = np.arange(buckets + 1, dtype=np.int64) * (2**31 // buckets)
    return np.searchsorted(cum_table, bucket_starts, side="left").astype(np.int64)
