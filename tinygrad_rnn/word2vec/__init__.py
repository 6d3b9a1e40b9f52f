"""word2vec: skip-gram and CBOW with negative sampling (and, on the Numba path, hierarchical softmax).

Two paths share one vocabulary and sampler: ``Word2Vec`` trains with the Numba kernel
(``tinygrad_rnn.kernels.numba_word2vec``); ``readable`` writes the same objective with the engine.
"""

from tinygrad_rnn.word2vec.corpus import LineCorpus
from tinygrad_rnn.word2vec.evaluation import AnalogyScores, PairScores
from tinygrad_rnn.word2vec.keyedvectors import KeyedVectors
from tinygrad_rnn.word2vec.model import Word2Vec
from tinygrad_rnn.word2vec.vocab import Vocabulary, keep_probability

__all__ = ["AnalogyScores", "KeyedVectors", "LineCorpus", "PairScores", "Vocabulary", "Word2Vec", "keep_probability"]
