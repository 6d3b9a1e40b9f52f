"""Vocabulary counting, pruning, subsampling probabilities and the negative-sampling tables."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_rnn.word2vec.vocab import (Vocabulary, cumulative_table, guide_table, keep_probability,
                                         keep_thresholds)


def test_counts_sorted_by_frequency_ties_in_first_seen_order():
    corpus = [["b", "a", "c"], ["c", "a", "d"], ["a"]]
    vocab = Vocabulary(min_count=1, sample=0).scan(corpus)
    assert vocab.index_to_key == ["a", "c", "b", "d"]
    assert vocab.counts.tolist() == [3, 2, 1, 1]
    assert vocab.key_to_index == {"a": 0, "c": 1, "b": 2, "d": 3}
    assert (vocab.raw_words, vocab.sentences, vocab.kept_words) == (7, 3, 7)


def test_min_count_drops_rare_words_but_raw_words_counts_them():
    vocab = Vocabulary(min_count=2, sample=0).scan([["x", "y", "x"], ["z", "y"]])
    assert vocab.index_to_key == ["x", "y"]
    assert vocab.raw_words == 5 and vocab.kept_words == 4


def test_empty_corpus_and_empty_vocabulary_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        Vocabulary().scan([[], []])
    with pytest.raises(ValueError, match="min_count=5 leaves an empty vocabulary.*seen 2 times"):
        Vocabulary(min_count=5).scan([["a", "a", "b"]])


def test_bad_tokens_and_sentences():
    with pytest.raises(TypeError, match="tokens must be str, got 3"):
        Vocabulary(min_count=1).scan([["a", 3]])
    with pytest.raises(TypeError, match="sentence 1: unhashable"):
        Vocabulary(min_count=1).scan([["a"], [["nested"]]])
    with pytest.raises(TypeError, match="sentence 0 is a str"):
        Vocabulary(min_count=1).scan(["not split"])


def test_max_vocab_size_prunes_like_word2vec_c():
    # "a b c": 3 > 2 distinct words -> forget counts <= 1 (all of them), bar becomes 2;
    # "a a f": a=2, f=1, no pruning; "a d": a=3, f=1, d=1 -> forget counts <= 2 -> {a: 3}
    vocab = Vocabulary(min_count=1, sample=0, max_vocab_size=2)
    vocab.scan([["a", "b", "c"], ["a", "a", "f"], ["a", "d"]])
    assert vocab.index_to_key == ["a"] and vocab.counts.tolist() == [3]
    assert vocab.raw_words == 8


def test_keep_probability_formula():
    counts = np.array([1000, 100, 10, 1])
    t = 1e-2 * counts.sum()  # 11.11
    expected = np.minimum(1, (np.sqrt(counts / t) + 1) * t / counts)
    np.testing.assert_allclose(keep_probability(counts, 1e-2), expected, rtol=1e-15)
    assert keep_probability(counts, 1e-2)[0] == pytest.approx((np.sqrt(1000 / 11.11) + 1) * 11.11 / 1000)
    assert keep_probability(counts, 0).tolist() == [1, 1, 1, 1]
    assert keep_thresholds(counts, 0).tolist() == [2**32 - 1] * 4


def test_expected_training_words_is_sum_of_count_times_p_keep():
    corpus = [["a"] * 50 + ["b"] * 5 + ["c"]]
    assert Vocabulary(min_count=1, sample=0).scan(corpus).expected_training_words() == 56
    vocab = Vocabulary(min_count=1, sample=1e-2).scan(corpus)
    expected = (vocab.counts * keep_probability(vocab.counts, 1e-2)).sum()
    # thresholds are rounded down to multiples of 2**-32
    assert vocab.expected_training_words() == pytest.approx(expected, rel=1e-8)
    assert vocab.expected_training_words() < 56


def test_cumulative_table_matches_gensims_definition():
    counts = np.array([50, 20, 20, 7, 1])
    weights = counts**0.75
    expected = [round(c / weights.sum() * (2**31 - 1)) for c in np.cumsum(weights)]
    assert cumulative_table(counts, 0.75).tolist() == expected
    assert cumulative_table(counts, 0.75)[-1] == 2**31 - 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=300), st.floats(0.0, 1.0),
       st.lists(st.integers(0, 2**31 - 2), min_size=1, max_size=50))
def test_guide_table_brackets_every_bisect(counts, exponent, xs):
    cum = cumulative_table(np.array(counts), exponent)
    guide = guide_table(cum, buckets=2**10)
    for x in xs:
        if x >= cum[-1]:
            continue
        k = x * 2**10 >> 31
        answer = np.searchsorted(cum, x, side="left")
        assert guide[k] <= answer <= guide[k + 1]


def test_sample_formulas_on_counts_computed_by_hand():
    """N = 1000 kept words, sample = 0.004, so t = 4. Paper: p_keep = sqrt(t/f); code (word2vec.c):
    sqrt(t/f) + t/f; both clipped to 1."""
    counts = np.array([900, 64, 16, 16, 4])
    paper = [1 / 15, 1 / 4, 1 / 2, 1 / 2, 1]                           # 2/30, 2/8, 2/4, 2/4, 1
    code = [1 / 15 + 4 / 900, 1 / 4 + 1 / 16, 1 / 2 + 1 / 4, 3 / 4, 1]   # = 16/225, 5/16, 3/4, 3/4, 1
    np.testing.assert_allclose(keep_probability(counts, 0.004, "paper"), paper, rtol=1e-15)
    np.testing.assert_allclose(keep_probability(counts, 0.004, "code"), code, rtol=1e-15)
    np.testing.assert_array_equal(keep_probability(counts, 0.004), keep_probability(counts, 0.004, "code"))
    assert keep_probability(counts, 0, "paper").tolist() == [1] * 5
    corpus = [[word] * count for word, count in zip("abcde", counts)]
    by_formula = {formula: Vocabulary(min_count=1, sample=0.004, sample_formula=formula).scan(corpus)
                  for formula in ("code", "paper")}
    assert by_formula["paper"].expected_training_words() == pytest.approx(900 / 15 + 64 / 4 + 16 + 4, rel=1e-8)
    assert by_formula["code"].expected_training_words() == pytest.approx(64 + 20 + 24 + 4, rel=1e-8)


def test_unknown_sample_formula_is_named():
    with pytest.raises(ValueError, match=r"Vocabulary: sample_formula must be 'code' .* or 'paper' .*got 'book'"):
        Vocabulary(sample_formula="book")
