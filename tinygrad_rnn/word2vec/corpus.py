"""Streaming corpora and their conversion to the integer batches the kernels train on.

Nothing here holds more than one batch of the corpus in memory: sentences come from any
re-iterable (a list, or an object whose ``__iter__`` restarts, such as ``LineCorpus``) and are
encoded batch by batch.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from itertools import repeat
from pathlib import Path

import numpy as np

from tinygrad_rnn.textio import TextFileError, decode_text
from tinygrad_rnn.word2vec.vocab import check_sentence


class LineCorpus:
    """Sentences of a whitespace-tokenised UTF-8 text file, one per line (``.gz`` read as gzip).

    Re-iterable: every ``iter()`` reopens the file, so a pass streams it from disk. A file with no
    words, or one that is binary or not UTF-8, raises ``TextFileError`` naming the path and the
    line and byte offset (of the uncompressed text).
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"LineCorpus: no such file: {self.path}")

    def __iter__(self) -> Iterator[list[str]]:
        opener = gzip.open if self.path.suffix == ".gz" else open
        offset, words = 0, 0
        with opener(self.path, "rb") as lines:
            for number, line in enumerate(lines, 1):
                tokens = decode_text(line, self.path, line=number, offset=offset).split()
                offset += len(line)
                words += len(tokens)
                yield tokens
        if words == 0:
            raise TextFileError(f"{self.path}: no words in the corpus (the file is empty or blank)")

    def __repr__(self) -> str:
        return f"LineCorpus({str(self.path)!r})"


def check_reiterable(sentences: Iterable, name: str = "sentences") -> Iterable:
    """Reject one-shot iterators: training reads the corpus once per epoch plus once for the vocabulary."""
    if iter(sentences) is sentences:
        raise TypeError(
            f"word2vec: {name} must be re-iterable (a list, or an object whose __iter__ restarts, "
            f"like LineCorpus); got a one-shot {type(sentences).__name__}")
    return sentences


def encode_batches(sentences: Iterable, key_to_index: dict, batch_words: int = 10_000,
                   max_sentence_words: int = 10_000):
    """Yield ``(words, sentence_ends, raw_words)`` batches of about ``batch_words`` tokens.

    ``words`` (int32) holds the vocabulary index of each token, -1 for a token not in the
    vocabulary; ``sentence_ends`` (int64) the end offset of each sentence in ``words``.
    Sentences longer than ``max_sentence_words`` are cut into pieces of that length, as gensim's
    LineSentence does, so that the learning rate (set per sentence) still decays within them.
    """
    lookup = key_to_index.get
    words: list[int] = []
    ends: list[int] = []
    for position, sentence in enumerate(sentences):
        start = len(words)
        words.extend(map(lookup, check_sentence(sentence, position), repeat(-1)))
        ends.extend(range(start + max_sentence_words, len(words), max_sentence_words))
        ends.append(len(words))
        if len(words) >= batch_words:
            yield np.array(words, np.int32), np.array(ends, np.int64), len(words)
            words, ends = [], []
    if ends:
        yield np.array(words, np.int32), np.array(ends, np.int64), len(words)
