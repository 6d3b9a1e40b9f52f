"""The learning-rate schedule: linear in the sentences (gensim's constructor) or words (word2vec.c) trained."""
import queue

import numpy as np
import pytest

from tinygrad_rnn.word2vec import Word2Vec
from tinygrad_rnn.word2vec.training import _DONE, _Producer

# two 10,000-word sentences (one batch each), then 200 of 50 words (one batch): 202 sentences, 30,000 words
CORPUS = [["a"] * 10_000, ["b"] * 10_000] + [["a", "b"] * 25] * 200
EPOCHS = 2


def batch_alphas(alpha_decay):
    model = Word2Vec(min_count=1, epochs=EPOCHS, alpha=0.5, min_alpha=0.1, alpha_decay=alpha_decay, progress=False)
    model.build_vocab(CORPUS)
    jobs = queue.Queue()
    producer = _Producer(CORPUS, model.vocab, model.settings, EPOCHS, jobs, 1, np.random.default_rng(0))
    producer.run()
    return [(job.alpha_start, job.alpha_end) for job in iter(jobs.get, _DONE)]


@pytest.mark.parametrize("alpha_decay, before", [
    ("sentences", [0, 1, 2, 202, 203, 204, 404]),                 # out of 404 sentences
    ("words", [0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000]),  # out of 60,000 words
])
def test_each_batch_gets_the_rates_of_the_work_before_and_after_it(alpha_decay, before):
    done = np.array(before) / before[-1]
    rates = 0.5 - (0.5 - 0.1) * done
    np.testing.assert_allclose(batch_alphas(alpha_decay), np.stack([rates[:-1], rates[1:]], 1), rtol=1e-15)


def test_unknown_schedule_is_named():
    with pytest.raises(ValueError, match="alpha_decay must be 'sentences'"):
        Word2Vec(alpha_decay="batches")
