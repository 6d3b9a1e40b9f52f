"""A small corpus with structure that word2vec learns in a second."""
import numpy as np
import pytest

TOPICS = [[f"fruit{i}" for i in range(6)], [f"tool{i}" for i in range(6)]]


def make_topic_corpus(sentences=600, length=8, seed=0):
    """Each sentence draws its words from one of two topics: the vectors should separate them."""
    rng = np.random.default_rng(seed)
    return [[str(w) for w in rng.choice(TOPICS[rng.integers(2)], length)] for _ in range(sentences)]


@pytest.fixture
def topic_corpus():
    return make_topic_corpus
