"""Feeding the Numba kernel: one producer thread encodes batches, ``workers`` threads train.

The producer walks the corpus once per epoch, turns sentences into integer batches and gives
each the learning rate of its place in the run: with ``p`` the fraction of all sentences
(``alpha_decay="sentences"``, what gensim's constructor does) or of all raw words ("words",
word2vec.c's) over all epochs before the batch,

    alpha(p) = alpha - (alpha - min_alpha) * p

and the kernel interpolates linearly, by words, to the rate at the batch's end.  The two
differ where sentence lengths vary along the corpus: on w2v-prose, whose first lines are long,
decay by sentences keeps alpha higher over most words.  Worker threads call the
nogil kernel, so they train in parallel on the shared weights (hogwild); the calling thread
only collects results and draws the progress bar.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from tinygrad_rnn.kernels import numba_word2vec
from tinygrad_rnn.word2vec.corpus import encode_batches
from tinygrad_rnn.word2vec.progress import ProgressLine

_DONE = object()


@dataclass
class TrainingReport:
    """What one call of ``train`` did: word counts, wall time and float64 loss per epoch."""

    effective_words: int = 0
    raw_words: int = 0
    seconds: float = 0.0
    epoch_losses: list = field(default_factory=list)

    @property
    def words_per_second(self) -> float:
        """Effective (kept after subsampling) words trained per second."""
        return self.effective_words / max(self.seconds, 1e-12)


@dataclass
class _Job:
    epoch: int
    words: np.ndarray
    sentence_ends: np.ndarray
    raw_words: int
    alpha_start: float
    alpha_end: float
    seed: int


class _Counted:
    """Iterates ``sentences`` and counts them: ``taken()`` is how many were read since its last call
    (``encode_batches`` yields a batch right after reading its last sentence)."""

    def __init__(self, sentences):
        self.sentences, self.read, self.reported = sentences, 0, 0

    def __iter__(self):
        for sentence in self.sentences:
            self.read += 1
            yield sentence

    def taken(self) -> int:
        count, self.reported = self.read - self.reported, self.read
        return count


class _Producer(threading.Thread):
    def __init__(self, sentences, vocab, settings, epochs, jobs: queue.Queue, workers: int, rng):
        super().__init__(daemon=True, name="word2vec-producer")
        self.sentences, self.vocab, self.settings = sentences, vocab, settings
        self.epochs, self.jobs, self.workers, self.rng = epochs, jobs, workers, rng
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def _alpha(self, done_words: int, done_sentences: int) -> float:
        s = self.settings
        if s.alpha_decay == "sentences":
            progress = done_sentences / (self.epochs * max(self.vocab.sentences, 1))
        else:
            progress = done_words / (self.epochs * self.vocab.raw_words)
        return s.alpha - (s.alpha - s.min_alpha) * min(1.0, progress)

    def run(self):
        try:
            words_done = sentences_done = 0
            for epoch in range(self.epochs):
                read = _Counted(self.sentences)
                for words, ends, raw in encode_batches(read, self.vocab.key_to_index):
                    if self.stop.is_set():
                        return
                    alpha_start = self._alpha(words_done, sentences_done)
                    words_done += raw
                    sentences_done += read.taken()
                    job = _Job(epoch, words, ends, raw, alpha_start, self._alpha(words_done, sentences_done),
                               int(self.rng.integers(1, 2**48)))
                    self.jobs.put(job)
        except BaseException as error:  # re-raised in the calling thread
            self.error = error
        finally:
            for _ in range(self.workers):
                self.jobs.put(_DONE)


def _output_arrays(model):
    """``syn1``, the tree's points, codes and offsets, and ``syn1neg`` as the kernel takes them: an
    objective that is off gets empty weights (and, for the tree, empty paths)."""
    empty = np.zeros((0, model.settings.vector_size), model.wv.vectors.dtype)
    syn1neg = model.syn1neg if model.syn1neg is not None else empty
    if model.tree is None:
        no_paths = np.zeros(len(model.vocab) + 1, np.int64)
        return empty, np.zeros(0, np.int64), np.zeros(0, np.uint8), no_paths, syn1neg
    return model.syn1, model.tree.points, model.tree.codes, model.tree.offsets, syn1neg


def _work(model, settings, compute_loss, jobs: queue.Queue, results: queue.Queue, stop):
    """Train on jobs until the producer is done; after a failure keep draining so it never blocks."""
    vocab = model.vocab
    syn1, points, codes, offsets, syn1neg = _output_arrays(model)
    failed = False
    while (job := jobs.get()) is not _DONE:
        if failed:
            continue
        try:
            effective, loss = numba_word2vec.train_batch(
                model.wv.vectors, syn1, syn1neg, job.words, job.sentence_ends, vocab.keep_threshold,
                points, codes, offsets, vocab.cum_table, vocab.cum_guide, int(settings.sg),
                settings.window, settings.negative, settings.cbow_mean, job.alpha_start, job.alpha_end,
                job.seed, compute_loss)
            results.put((job, effective, loss))
        except BaseException as error:
            failed = True
            stop.set()
            results.put(error)
    results.put(_DONE)


def run_training(model, sentences, epochs: int, compute_loss: bool, progress: bool) -> TrainingReport:
    """Train ``model`` (a Word2Vec) for ``epochs`` passes over ``sentences``."""
    settings = model.settings
    workers = settings.workers
    jobs: queue.Queue = queue.Queue(maxsize=2 * workers)
    results: queue.Queue = queue.Queue()
    rng = np.random.default_rng([settings.seed, model.epochs_trained])
    producer = _Producer(sentences, model.vocab, settings, epochs, jobs, workers, rng)
    worker_args = (model, settings, compute_loss, jobs, results, producer.stop)
    threads = [threading.Thread(target=_work, args=worker_args, daemon=True, name=f"word2vec-worker-{i}")
               for i in range(workers)]
    report = TrainingReport(epoch_losses=[0.0] * epochs)
    line = ProgressLine(epochs * model.vocab.raw_words, epochs) if progress else None
    start = time.perf_counter()
    producer.start()
    for thread in threads:
        thread.start()
    error = None
    running = workers
    while running:
        item = results.get()
        if item is _DONE:
            running -= 1
        elif isinstance(item, BaseException):
            error = item
        else:
            job, effective, loss = item
            report.effective_words += effective
            report.raw_words += job.raw_words
            report.epoch_losses[job.epoch] += loss
            if line is not None:
                line.update(job.raw_words, effective, job.epoch, job.alpha_end,
                            report.epoch_losses[job.epoch] if compute_loss else None)
    producer.join()
    report.seconds = time.perf_counter() - start
    if line is not None:
        line.close(epochs - 1, settings.min_alpha, report.epoch_losses[-1] if compute_loss else None)
    if error is not None or producer.error is not None:
        raise error or producer.error
    return report
