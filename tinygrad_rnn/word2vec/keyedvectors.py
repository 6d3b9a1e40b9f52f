"""KeyedVectors: words and their vectors, with the queries gensim users know.

Similarities are cosines, ``cos(u, v) = u . v / (|u| |v|)``; queries use unit vectors, so
``most_similar(positive=[b, c], negative=[a])`` ranks words ``w`` by ``cos(w, b^ + c^ - a^)``
(``x^`` the unit vector of x), the 3CosAdd analogy rule.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from tinygrad_rnn.word2vec import evaluation, formats


class KeyedVectors:
    """``vectors[i]`` is the vector of ``index_to_key[i]``; ``wv[word]`` returns it."""

    def __init__(self, index_to_key: list, vectors: np.ndarray):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(index_to_key):
            raise ValueError(f"KeyedVectors: {len(index_to_key)} keys but vectors of shape {vectors.shape}")
        self.index_to_key = list(index_to_key)
        self.key_to_index = {key: i for i, key in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            duplicates = [key for key, n in Counter(self.index_to_key).items() if n > 1]
            raise ValueError(f"KeyedVectors: duplicate keys, e.g. {duplicates[:3]}")
        self.vectors = vectors

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, key) -> bool:
        return key in self.key_to_index

    def get_index(self, key) -> int:
        try:
            return self.key_to_index[key]
        except (KeyError, TypeError):
            raise KeyError(f"word {key!r} not in vocabulary ({len(self)} words)") from None

    def __getitem__(self, keys):
        """The vector of one word, or the matrix of a list of words."""
        if isinstance(keys, str):
            return self.vectors[self.get_index(keys)]
        return self.vectors[[self.get_index(k) for k in keys]]

    def unit_vectors(self) -> np.ndarray:
        """All vectors scaled to length 1 (zero vectors stay zero); computed on each call."""
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return self.vectors / np.where(norms > 0, norms, 1)

    def _unit(self, key_or_vector) -> np.ndarray:
        v = self[key_or_vector] if isinstance(key_or_vector, str) else np.asarray(key_or_vector)
        norm = np.linalg.norm(v)
        return v / norm if norm > 0 else v

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self._unit(a) @ self._unit(b))

    def most_similar(self, positive=(), negative=(), topn: int = 10, restrict_vocab: int | None = None):
        """Words closest to ``mean(positive^) - mean(negative^)`` by cosine, as ``[(word, cos)]``.

        Entries may be words or vectors; the given words are never returned.
        """
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = [negative] if isinstance(negative, str) else list(negative)
        if not positive and not negative:
            raise ValueError("most_similar: give at least one positive or negative word")
        query = sum(self._unit(p) for p in positive) - sum(self._unit(n) for n in negative)
        query = self._unit(query)
        unit = self.unit_vectors()[:restrict_vocab]
        scores = unit @ query
        for word in positive + negative:
            if isinstance(word, str) and self.key_to_index[word] < len(scores):
                scores[self.key_to_index[word]] = -np.inf
        topn = min(topn, int(np.isfinite(scores).sum()))
        best = np.argpartition(-scores, topn - 1)[:topn] if topn > 0 else np.zeros(0, int)
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.index_to_key[i], float(scores[i])) for i in best]

    def doesnt_match(self, words) -> str:
        """The word furthest (by cosine) from the mean of the unit vectors of ``words``."""
        words = list(words)
        if not words:
            raise ValueError("doesnt_match: no words given")
        unit = np.stack([self._unit(w) for w in words])
        mean = self._unit(unit.mean(axis=0))
        return words[int(np.argmin(unit @ mean))]

    def evaluate_word_pairs(self, path, **options) -> evaluation.PairScores:
        """Pearson/Spearman against human similarity scores (see ``evaluation``)."""
        return evaluation.evaluate_word_pairs(self, path, **options)

    def evaluate_word_analogies(self, path, **options) -> evaluation.AnalogyScores:
        """3CosAdd analogy accuracy (see ``evaluation``)."""
        return evaluation.evaluate_word_analogies(self, path, **options)

    def save_word2vec_format(self, path, binary: bool = False) -> None:
        formats.save_word2vec_format(path, self.index_to_key, self.vectors, binary=binary)

    @classmethod
    def load_word2vec_format(cls, path, binary: bool = False) -> "KeyedVectors":
        keys, vectors = formats.load_word2vec_format(path, binary=binary)
        return cls(keys, vectors)

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, vector_size={self.vector_size})"
