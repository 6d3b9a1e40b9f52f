"""The engine's word2vec equals the kernel: one update exactly (float64), and training alike."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_rnn import optim
from tinygrad_rnn.kernels import numba_word2vec as kernel
from tinygrad_rnn.word2vec import Vocabulary, Word2Vec
from tinygrad_rnn.word2vec.readable import (Word2VecNet, examples, make_batch, negative_sampling_loss,
                                            train)

ALPHA = 0.3  # large, so that a wrong update would show


def engine_step(syn0, syn1, inputs, targets, mask=None, sg=1, cbow_mean=True):
    net = Word2VecNet.from_arrays(syn0, syn1, sg=sg, cbow_mean=cbow_mean)
    loss = negative_sampling_loss(net(inputs, targets, mask), targets)
    loss.backward()
    optim.SGD(net.parameters(), lr=ALPHA).step()
    return loss.item(), net.input.weight.numpy(), net.output.weight.numpy()


@st.composite
def update_case(draw):
    vocab, size = draw(st.integers(4, 9)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    syn0, syn1 = rng.standard_normal((2, vocab, size))
    target = draw(st.integers(0, vocab - 1))
    # distinct negatives (a repeated negative is updated twice in sequence by the kernel); one
    # of them may be the target, which both paths skip
    negatives = draw(st.lists(st.integers(0, vocab - 1), min_size=0, max_size=3, unique=True))
    contexts = draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=4))  # repeats allowed
    return syn0, syn1, target, np.array(negatives, np.int64), np.array(contexts, np.int64)


def assert_same(kernel_result, engine_result):
    for ours, theirs in zip(kernel_result, engine_result):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(update_case())
def test_skipgram_update_equals_engine_sgd_step(case):
    syn0, syn1, target, negatives, contexts = case
    k0, k1 = syn0.copy(), syn1.copy()
    loss = kernel.sg_pair_update(k0, k1, contexts[0], target, negatives, ALPHA, np.empty(syn0.shape[1]), True)
    targets = np.r_[target, negatives][None]
    assert_same((loss, k0, k1), engine_step(syn0, syn1, contexts[:1], targets))


@settings(max_examples=40, deadline=None)
@given(update_case(), st.booleans())
def test_cbow_update_equals_engine_sgd_step(case, cbow_mean):
    syn0, syn1, target, negatives, contexts = case
    k0, k1 = syn0.copy(), syn1.copy()
    size = syn0.shape[1]
    loss = kernel.cbow_update(k0, k1, contexts, target, negatives, ALPHA, cbow_mean, np.empty(size),
                              np.empty(size), True)
    targets = np.r_[target, negatives][None]
    mask = np.ones((1, len(contexts)))
    assert_same((loss, k0, k1), engine_step(syn0, syn1, contexts[None], targets, mask, 0, cbow_mean))


def test_cbow_mask_ignores_padding():
    rng = np.random.default_rng(0)
    syn0, syn1 = rng.standard_normal((2, 5, 3))
    targets = np.array([[1, 2, 3]])
    padded = engine_step(syn0, syn1, np.array([[0, 4, 0]]), targets, np.array([[1, 1, 0.0]]), sg=0)
    exact = engine_step(syn0, syn1, np.array([[0, 4]]), targets, np.ones((1, 2)), sg=0)
    assert_same(padded, exact)


@pytest.mark.parametrize("sg", [1, 0])
def test_both_paths_lower_the_same_loss(sg, topic_corpus):
    corpus = topic_corpus(300)
    setup = dict(vector_size=12, window=3, negative=3, epochs=3, sg=sg, seed=2)
    vocab = Vocabulary(min_count=1, sample=0).scan(corpus)
    rng = np.random.default_rng(9)
    held = [e for e in examples(corpus[:40], vocab, sg, 3, rng) if e is not None]
    inputs, targets, mask = make_batch(held, vocab, sg, 3, 3, rng)

    def held_loss(syn0, syn1):
        net = Word2VecNet.from_arrays(syn0, syn1, sg=sg)
        return negative_sampling_loss(net(inputs, targets, mask), targets).item() / len(targets)

    fast = Word2Vec(corpus, min_count=1, sample=0, progress=False, **setup)
    net = Word2VecNet(len(vocab), 12, sg=sg, seed=2)
    start = held_loss(net.input.weight.numpy(), net.output.weight.numpy())
    assert start == pytest.approx((1 + 3 * (1 - 1 / 12)) * np.log(2), rel=0.05)  # zero output vectors
    train(net, corpus, vocab, epochs=3, window=3, negative=3, batch_size=16, seed=2)
    readable = held_loss(net.input.weight.numpy(), net.output.weight.numpy())
    kernel_trained = held_loss(fast.wv.vectors, fast.syn1neg)
    assert readable < 0.8 * start and kernel_trained < 0.8 * start
    assert readable == pytest.approx(kernel_trained, rel=0.25)
