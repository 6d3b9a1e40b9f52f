"""Word2Vec: skip-gram / CBOW with negative sampling or hierarchical softmax, trained by the Numba kernel.

    model = Word2Vec(corpus_file="text.txt.gz", vector_size=100, sg=1, workers=2)
    model.wv.most_similar("king")

The input vectors ``wv.vectors`` start uniform in ``[-1, 1) / vector_size`` (gensim 4's range;
word2vec.c's is half of it, which trained slightly worse word-similarity scores here) and the
output vectors at zero: ``syn1neg`` (V, d) for negative sampling (``negative`` > 0), ``syn1``
(V - 1, d), one per inner node of a Huffman tree over the word counts, for hierarchical softmax
(``hs=1``; both may be on at once, as in gensim).  Hierarchical softmax models

    Pr(c | h) = prod_b sigmoid((1 - 2 code_b) * h . syn1[point_b])

over the inner nodes ``point_b`` on the path from the root to word ``c`` (``code_b`` = 1 where
the path turns right), so the loss ``-log Pr(c | h) = sum_b softplus(-(1 - 2 code_b) h . syn1[point_b])``
touches about log2(V) rows per example instead of all V (see ``huffman`` and the kernel).

``train`` runs ``epochs`` passes with the learning rate decaying linearly from ``alpha`` to
``min_alpha`` over all of them, by the fraction of sentences trained (``alpha_decay="sentences"``,
as gensim's constructor) or of words ("words", word2vec.c's; see ``training``).  ``sample_formula`` chooses how frequent words
are subsampled: word2vec.c's formula ("code", the default, as gensim) or the paper's ("paper";
see ``vocab``).  Models save to ``.npz`` without pickle: the weight matrices (``vectors`` and
``syn1`` and/or ``syn1neg``), the vocabulary (UTF-8 bytes with offsets) and counts (the tree is
rebuilt from them), and the settings as JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

from tinygrad_rnn.word2vec.corpus import LineCorpus, check_reiterable
from tinygrad_rnn.word2vec.huffman import HuffmanTree, huffman_tree
from tinygrad_rnn.word2vec.keyedvectors import KeyedVectors
from tinygrad_rnn.word2vec.training import TrainingReport, run_training
from tinygrad_rnn.word2vec.vocab import Vocabulary, check_sample_formula


@dataclass(frozen=True)
class Settings:
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    sg: int = 1
    hs: int = 0
    negative: int = 5
    ns_exponent: float = 0.75
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 1e-4
    epochs: int = 5
    cbow_mean: bool = True
    seed: int = 1
    workers: int = 1
    max_vocab_size: int | None = None
    sample_formula: str = "code"
    alpha_decay: str = "sentences"

    def __post_init__(self):
        def need(ok, what):
            if not ok:
                raise ValueError(f"Word2Vec: {what}")
        for name in ("vector_size", "window", "min_count", "hs", "negative", "epochs", "seed", "workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"Word2Vec: {name} must be an int, got {value!r}")
        for name in ("ns_exponent", "sample", "alpha", "min_alpha"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"Word2Vec: {name} must be a number, got {value!r}")
            need(math.isfinite(value), f"{name} must be finite, got {value}")
        need(self.vector_size >= 1, f"vector_size must be >= 1, got {self.vector_size}")
        need(self.window >= 1, f"window must be >= 1, got {self.window}")
        need(self.min_count >= 1, f"min_count must be >= 1, got {self.min_count}")
        need(self.sg in (0, 1), f"sg must be 0 (CBOW) or 1 (skip-gram), got {self.sg!r}")
        need(self.hs in (0, 1), f"hs must be 0 or 1 (1: hierarchical softmax), got {self.hs!r}")
        need(self.negative >= 0, f"negative must be >= 0, got {self.negative}")
        need(self.hs or self.negative, "no objective: set hs=1 (hierarchical softmax) or negative >= 1 "
                                       "(negative sampling), got hs=0, negative=0")
        need(self.sample >= 0, f"sample must be >= 0, got {self.sample}")
        check_sample_formula("Word2Vec", self.sample_formula)
        need(self.alpha_decay in ("sentences", "words"), f"alpha_decay must be 'sentences' (gensim's) or "
                                                         f"'words' (word2vec.c's), got {self.alpha_decay!r}")
        need(self.alpha > 0, f"alpha must be > 0 (the initial learning rate), got {self.alpha}")
        need(0 <= self.min_alpha <= self.alpha, f"need 0 <= min_alpha <= alpha, got "
                                                 f"alpha={self.alpha}, min_alpha={self.min_alpha}")
        need(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        need(self.workers >= 1, f"workers must be >= 1, got {self.workers}")


class Word2Vec:
    """gensim-style word2vec; give ``sentences`` (a re-iterable of token lists) or ``corpus_file``
    (one whitespace-tokenised sentence per line, ``.gz`` allowed) to build the vocabulary and
    train at once, or neither and call ``build_vocab`` and ``train`` yourself.  The options are
    gensim's: ``sg`` 1 (skip-gram) or 0 (CBOW); ``hs=1`` hierarchical softmax and ``negative`` > 0
    negative sampling with that many noise words (either or both; ``hs=1, negative=0`` is
    hierarchical softmax alone, the module docstring has its loss)."""

    def __init__(self, sentences=None, corpus_file=None, vector_size=100, window=5, min_count=5,
                 sg=1, hs=0, negative=5, ns_exponent=0.75, sample=1e-3, alpha=0.025, min_alpha=1e-4,
                 epochs=5, cbow_mean=True, seed=1, workers=1, max_vocab_size=None, progress=True,
                 compute_loss=False, sample_formula="code", alpha_decay="sentences"):
        self.settings = Settings(vector_size, window, min_count, sg, hs, negative, ns_exponent,
                                 sample, alpha, min_alpha, epochs, bool(cbow_mean), seed, workers,
                                 max_vocab_size, sample_formula, alpha_decay)
        self.progress = progress
        self.compute_loss = compute_loss
        self.vocab: Vocabulary | None = None
        self.wv: KeyedVectors | None = None
        self.syn1neg: np.ndarray | None = None  # None without negative sampling
        self.syn1: np.ndarray | None = None  # None without hierarchical softmax
        self.tree: HuffmanTree | None = None
        self.epochs_trained = 0
        self.loss_history: list[float] = []  # float64 loss sum per trained epoch
        self.last_report: TrainingReport | None = None
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences, corpus_file)
            self.train(sentences, corpus_file)

    @staticmethod
    def _corpus(sentences, corpus_file):
        if (sentences is None) == (corpus_file is None):
            raise ValueError("Word2Vec: give exactly one of sentences and corpus_file")
        return LineCorpus(corpus_file) if corpus_file is not None else check_reiterable(sentences)

    def build_vocab(self, sentences=None, corpus_file=None) -> "Word2Vec":
        """Count the corpus, build the sampling tables and initialise the weights."""
        s = self.settings
        self.vocab = Vocabulary(s.min_count, s.sample, s.ns_exponent, s.max_vocab_size, s.sample_formula)
        self.vocab.scan(self._corpus(sentences, corpus_file))
        rng = np.random.default_rng(s.seed)
        vectors = (2 * rng.random((len(self.vocab), s.vector_size), dtype=np.float32) - 1) / s.vector_size
        self.wv = KeyedVectors(self.vocab.index_to_key, vectors)
        self._init_outputs()
        self.epochs_trained = 0
        self.loss_history = []
        return self

    def _init_outputs(self, syn1=None, syn1neg=None) -> None:
        """The output weights the settings ask for (given ones, else zeros) and the Huffman tree."""
        s, (words, size) = self.settings, self.wv.vectors.shape
        self.tree = huffman_tree(self.vocab.counts) if s.hs else None
        if s.hs and syn1 is None:
            syn1 = np.zeros((words - 1, size), np.float32)
        if s.negative and syn1neg is None:
            syn1neg = np.zeros((words, size), np.float32)
        self.syn1 = syn1 if s.hs else None
        self.syn1neg = syn1neg if s.negative else None

    def train(self, sentences=None, corpus_file=None, epochs=None, compute_loss=None):
        """Train; returns ``(effective_words, raw_words)`` as gensim (details in ``last_report``)."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec.train: call build_vocab first")
        epochs = self.settings.epochs if epochs is None else epochs
        if epochs < 1:
            raise ValueError(f"Word2Vec.train: epochs must be >= 1, got {epochs}")
        compute_loss = self.compute_loss if compute_loss is None else compute_loss
        report = run_training(self, self._corpus(sentences, corpus_file), epochs, compute_loss,
                              self.progress)
        self.epochs_trained += epochs
        if compute_loss:
            self.loss_history.extend(report.epoch_losses)
        self.last_report = report
        return report.effective_words, report.raw_words

    def get_latest_training_loss(self) -> float:
        """Loss summed over the pairs of the last trained epoch (float64; needs compute_loss)."""
        if not self.loss_history:
            raise RuntimeError("Word2Vec: no loss recorded; train with compute_loss=True")
        return self.loss_history[-1]

    def save(self, path) -> None:
        """Save weights, vocabulary and settings to one ``.npz`` file (no pickle)."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec.save: nothing to save before build_vocab")
        encoded = [k.encode("utf-8") for k in self.vocab.index_to_key]
        meta = {"settings": asdict(self.settings), "raw_words": self.vocab.raw_words,
                "sentences": self.vocab.sentences, "epochs_trained": self.epochs_trained,
                "loss_history": self.loss_history}
        outputs = {name: array for name, array in (("syn1", self.syn1), ("syn1neg", self.syn1neg))
                   if array is not None}
        np.savez(path, vectors=self.wv.vectors, **outputs, counts=self.vocab.counts,
                 words_utf8=np.frombuffer(b"".join(encoded), np.uint8),
                 word_ends=np.cumsum([len(e) for e in encoded], dtype=np.int64),
                 meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path) -> "Word2Vec":
        """A model saved by ``save``, ready to query or to train further."""
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
        meta = json.loads(str(arrays["meta"]))
        model = cls(progress=False, **meta["settings"])
        blob, ends = arrays["words_utf8"].tobytes(), arrays["word_ends"]
        starts = np.r_[0, ends[:-1]]
        keys = [blob[a:b].decode("utf-8") for a, b in zip(starts, ends)]
        vocab = Vocabulary(model.settings.min_count, model.settings.sample, model.settings.ns_exponent,
                           model.settings.max_vocab_size, model.settings.sample_formula)
        vocab.finalize(dict(zip(keys, arrays["counts"].tolist())))
        vocab.raw_words, vocab.sentences = meta["raw_words"], meta["sentences"]
        model.vocab = vocab
        model.wv = KeyedVectors(keys, arrays["vectors"])
        model._init_outputs(arrays.get("syn1"), arrays.get("syn1neg"))
        model.epochs_trained = meta["epochs_trained"]
        model.loss_history = meta["loss_history"]
        return model

    def __repr__(self) -> str:
        s = self.settings
        words = len(self.vocab) if self.vocab is not None else 0
        return (f"Word2Vec({'skip-gram' if s.sg else 'CBOW'}, {words} words, "
                f"vector_size={s.vector_size}, window={s.window}, hs={s.hs}, negative={s.negative})")
