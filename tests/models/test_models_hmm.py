"""The HMM tagger: counted probabilities checked by hand on a tiny corpus, Viterbi against brute
force over every tag sequence."""
import itertools
from fractions import Fraction

import numpy as np
import pytest

from tinygrad_rnn.models import HMMTagger

CORPUS = [[("the", "D"), ("dog", "N"), ("runs", "V")],
          [("the", "D"), ("cat", "N"), ("runs", "V")],
          [("dog", "N"), ("runs", "V")]]


def assert_probabilities(log_values, fractions):
    np.testing.assert_allclose(np.exp(log_values), [[float(f) for f in row] for row in fractions], rtol=1e-14)


def test_add_one_probabilities_counted_by_hand():
    """Tags D, N, V (T = 3); words cat, dog, runs, the (V = 4) and the unknown word.
    Starts D 2, N 1, V 0 of 3: (c + 1) / (3 + 3). Transitions D->N 2 (of 2), N->V 3 (of 3),
    none from V: (c + 1) / (total + 3). Emissions (c + 1) / (c(tag) + 5): D: the 2 of 2;
    N: cat 1, dog 2 of 3; V: runs 3 of 3."""
    hmm = HMMTagger().fit(CORPUS)
    assert hmm.tags == ["D", "N", "V"] and hmm.words == ["cat", "dog", "runs", "the"]
    F = Fraction
    assert_probabilities([hmm.log_start], [[F(3, 6), F(2, 6), F(1, 6)]])
    assert_probabilities(hmm.log_transition, [[F(1, 5), F(3, 5), F(1, 5)],
                                              [F(1, 6), F(1, 6), F(4, 6)],
                                              [F(1, 3), F(1, 3), F(1, 3)]])
    assert_probabilities(hmm.log_emission, [[F(1, 7), F(1, 7), F(1, 7), F(3, 7), F(1, 7)],
                                            [F(2, 8), F(3, 8), F(1, 8), F(1, 8), F(1, 8)],
                                            [F(1, 8), F(1, 8), F(4, 8), F(1, 8), F(1, 8)]])
    # p(the cat runs, D N V) = 3/6 · 3/7 · 3/5 · 2/8 · 4/6 · 4/8
    expected = F(3, 6) * F(3, 7) * F(3, 5) * F(2, 8) * F(4, 6) * F(4, 8)
    assert hmm.log_probability(["the", "cat", "runs"], ["D", "N", "V"]) == pytest.approx(np.log(float(expected)), rel=1e-14)


def test_viterbi_tags_known_and_unknown_words():
    hmm = HMMTagger().fit(CORPUS)
    assert hmm.decode(["the", "cat", "runs"]) == ["D", "N", "V"]
    assert hmm.decode(["the", "bird", "runs"]) == ["D", "N", "V"]   # bird: unknown, placed by A
    assert hmm.decode([]) == []


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_equals_brute_force_over_all_tag_sequences(seed):
    rng = np.random.default_rng(seed)
    words, tags = list("abcdef"), list("XYZ")
    corpus = [[(str(rng.choice(words)), str(rng.choice(tags))) for _ in range(rng.integers(1, 6))]
              for _ in range(30)]
    hmm = HMMTagger(smoothing=0.5).fit(corpus)
    sentence = [str(w) for w in rng.choice(words + ["unseen"], 5)]
    best = max(itertools.product(hmm.tags, repeat=len(sentence)),
               key=lambda y: hmm.log_probability(sentence, y))
    decoded = hmm.decode(sentence)
    assert hmm.log_probability(sentence, decoded) == pytest.approx(hmm.log_probability(sentence, best), abs=1e-12)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"HMMTagger: smoothing must be > 0 .*got 0"):
        HMMTagger(smoothing=0)
    with pytest.raises(ValueError, match="HMMTagger.fit: no tagged sentences"):
        HMMTagger().fit([[]])
    with pytest.raises(RuntimeError, match="HMMTagger.decode: call fit first"):
        HMMTagger().decode(["a"])
