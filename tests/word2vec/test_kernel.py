"""The Numba kernel's sampling: negative draws, subsampling rate, reduced window, alpha decay."""
import numpy as np
import pytest

from tinygrad_rnn.kernels import numba_word2vec as kernel
from tinygrad_rnn.word2vec.vocab import cumulative_table, guide_table, keep_thresholds

MASK = 2**48 - 1


def lcg(state):
    return (state * 25214903917 + 11) & MASK


def test_negative_draws_equal_a_bisect_of_the_same_random_numbers():
    counts = np.array([900, 300, 300, 40, 7, 7, 3, 1, 1, 1])
    cum = cumulative_table(counts, 0.75)
    out = np.empty(2000, np.int64)
    kernel.draw_negatives(cum, guide_table(cum), np.uint64(12345), out)
    state, expected = 12345, []
    for _ in range(len(out)):
        state = lcg(state)
        expected.append(np.searchsorted(cum, (state >> 16) * int(cum[-1]) >> 32, side="left"))
    assert out.tolist() == expected


def test_negative_draws_follow_unigram_to_the_power_075():
    counts = np.array([1000, 100, 10, 1])
    cum = cumulative_table(counts, 0.75)
    out = np.empty(200_000, np.int64)
    kernel.draw_negatives(cum, guide_table(cum), np.uint64(7), out)
    expected = counts**0.75 / (counts**0.75).sum()
    observed = np.bincount(out, minlength=4) / len(out)
    # 5 binomial standard deviations
    np.testing.assert_allclose(observed, expected, atol=5 * np.sqrt(expected / len(out)).max())


def no_tree(syn0):
    """``train_batch``'s hierarchical-softmax arguments with it off: no syn1 rows, empty paths."""
    return (np.zeros((0, syn0.shape[1]), syn0.dtype), np.zeros(0, np.int64), np.zeros(0, np.uint8),
            np.zeros(syn0.shape[0] + 1, np.int64))


def _train(words, ends, keep, sg=1, window=2, alpha=(0.025, 0.025), size=4, vocab=3, seed=3):
    rng = np.random.default_rng(0)
    syn0 = ((rng.random((vocab, size)) - 0.5) / size).astype(np.float32)
    syn1 = np.zeros_like(syn0)
    cum = cumulative_table(np.ones(vocab, np.int64), 0.75)
    hs_syn1, points, codes, offsets = no_tree(syn0)
    result = kernel.train_batch(syn0, hs_syn1, syn1, np.asarray(words, np.int32), np.asarray(ends, np.int64),
                                keep, points, codes, offsets, cum, guide_table(cum), sg, window, 2, True,
                                alpha[0], alpha[1], seed, True)
    return result, syn0, syn1


def test_subsampling_keeps_words_with_word2vec_c_probability():
    counts = np.array([10_000, 10, 10])
    keep = keep_thresholds(counts, 1e-3)  # word 0 kept with p = (sqrt(f/t) + 1) t/f
    p = (np.sqrt(10_000 / 10.02) + 1) * 10.02 / 10_000
    n = 50_000
    (effective, _), _, _ = _train(np.zeros(n), [n], keep)
    assert abs(effective / n - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_out_of_vocabulary_words_are_dropped_and_sentences_do_not_mix():
    keep = np.full(3, 2**32 - 1, np.uint32)
    (effective, _), _, _ = _train([0, -1, 1, -1, 2], [3, 5], keep)
    assert effective == 3
    # one-word sentences have no pairs: no loss, no update of the output vectors
    (effective, loss), _, syn1 = _train([0, 1, 2], [1, 2, 3], keep)
    assert effective == 3 and loss == 0.0 and not syn1.any()


def test_same_seed_same_result_and_seed_matters():
    keep = np.full(3, 2**32 - 1, np.uint32)
    words = np.random.default_rng(1).integers(0, 3, 200)
    a, b, c = (_train(words, [100, 200], keep, seed=s)[1] for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_reduced_window_uses_every_width_from_1_to_window():
    # With alpha = 0 and zero output vectors every target costs log 2, so the loss counts pairs:
    # a pair has its target plus the negatives not equal to it (word 0 of 3 uniform words:
    # 2/3 of the 2 draws), and a centre away from the ends has 2 * (window - b) pairs with b
    # uniform in {0, 1, 2, 3}: 5 on average for window 4, which no fixed width gives (2, 4, 6, 8).
    keep = np.full(3, 2**32 - 1, np.uint32)
    n = 4000
    (_, loss), _, _ = _train(np.zeros(n), [n], keep, window=4, alpha=(0.0, 0.0))
    targets_per_pair = 1 + 2 * 2 / 3
    assert loss / (targets_per_pair * np.log(2)) / n == pytest.approx(5.0, rel=0.02)


def test_alpha_zero_changes_nothing():
    keep = np.full(3, 2**32 - 1, np.uint32)
    words = np.random.default_rng(2).integers(0, 3, 300)
    for sg in (0, 1):
        _, syn0, syn1 = _train(words, [300], keep, sg=sg, alpha=(0.0, 0.0))
        _, syn0_start, _ = _train([0], [1], keep, sg=sg)
        assert np.array_equal(syn0, syn0_start) and not syn1.any()


def test_loss_sum_is_float64_and_does_not_saturate():
    # window 1 gives exactly 2 (n - 1) pairs; the hand-made table never draws word 0 (the target),
    # so each pair has 1 + 5 targets, each costing log 2 with zero output vectors and alpha 0.
    # 2.4M terms summing to 1.7M: a float32 running sum (gensim's) ends 2.5% high.
    n = 200_000
    cum = np.array([0, 2**31 - 1], np.uint32)
    syn0 = np.full((2, 4), 0.1, np.float32)
    syn1 = np.zeros_like(syn0)
    hs_syn1, points, codes, offsets = no_tree(syn0)
    _, loss = kernel.train_batch(syn0, hs_syn1, syn1, np.zeros(n, np.int32), np.array([n]),
                                 np.full(2, 2**32 - 1, np.uint32), points, codes, offsets, cum,
                                 guide_table(cum), 1, 1, 5, True, 0.0, 0.0, 11, True)
    assert loss == pytest.approx(2 * (n - 1) * 6 * np.log(2), rel=1e-9)  # float64 rounding: ~n * 1e-16
