"""The engine's word2vec equals the kernel: one update exactly (float64), and training alike."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_rnn import optim
from tinygrad_rnn.kernels import numba_word2vec as kernel
from tinygrad_rnn.word2vec import KeyedVectors, Vocabulary, Word2Vec
from tinygrad_rnn.word2vec.readable import (Word2VecNet, examples, full_softmax_loss, make_batch,
                                            negative_sampling_loss, train)

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
    no_syn1, no_path = np.zeros((0, syn0.shape[1])), np.zeros(0, np.int64)
    loss = kernel.sg_pair_update(k0, no_syn1, k1, contexts[0], no_path, no_path, target, negatives, ALPHA,
                                 np.empty(syn0.shape[1]), True)
    targets = np.r_[target, negatives][None]
    assert_same((loss, k0, k1), engine_step(syn0, syn1, contexts[:1], targets))


@settings(max_examples=40, deadline=None)
@given(update_case(), st.booleans())
def test_cbow_update_equals_engine_sgd_step(case, cbow_mean):
    syn0, syn1, target, negatives, contexts = case
    k0, k1 = syn0.copy(), syn1.copy()
    size = syn0.shape[1]
    no_syn1, no_path = np.zeros((0, size)), np.zeros(0, np.int64)
    loss = kernel.cbow_update(k0, no_syn1, k1, contexts, no_path, no_path, target, negatives, ALPHA,
                              cbow_mean, np.empty(size), np.empty(size), True)
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


def test_full_softmax_loss_and_gradients_equal_numpy():
    """L = sum_b -log softmax(h_b W_out^T)_{c_b}; dL/ds = softmax(s) - onehot(c), so
    dL/dW_out = (p - y)^T h and dL/dh = (p - y) W_out (float64, skip-gram: h = syn0[input])."""
    rng = np.random.default_rng(0)
    syn0, syn1 = rng.standard_normal((2, 7, 3))
    inputs, targets = np.array([1, 4, 4]), np.array([[2], [0], [6]])
    net = Word2VecNet.from_arrays(syn0, syn1)
    loss = full_softmax_loss(net.all_scores(inputs), targets)
    loss.backward()
    h = syn0[inputs]
    scores = h @ syn1.T
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.eye(7)[targets[:, 0]]
    assert loss.item() == pytest.approx(-np.log(p[np.arange(3), targets[:, 0]]).sum(), rel=1e-13)
    np.testing.assert_allclose(net.output.weight.grad.numpy(), (p - y).T @ h, rtol=1e-12, atol=1e-14)
    d_syn0 = np.zeros_like(syn0)
    np.add.at(d_syn0, inputs, (p - y) @ syn1)
    np.testing.assert_allclose(net.input.weight.grad.numpy(), d_syn0, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("sg", [1, 0])
def test_full_softmax_and_negative_sampling_learn_the_same_topics(sg, topic_corpus):
    """Both objectives put each word's five nearest neighbours in its own topic (of six words)."""
    corpus = topic_corpus(300)
    vocab = Vocabulary(min_count=1, sample=0).scan(corpus)
    for objective in ("softmax", "negative_sampling"):
        net = Word2VecNet(len(vocab), 12, sg=sg, seed=2)
        losses = train(net, corpus, vocab, epochs=3, window=3, negative=3, batch_size=16, seed=2,
                       objective=objective)
        assert losses[-1] < losses[0]
        wv = KeyedVectors(vocab.index_to_key, net.input.weight.numpy())
        for word in vocab.index_to_key:
            topic = word.rstrip("0123456789")
            assert all(other.startswith(topic) for other, _ in wv.most_similar(word, topn=5)), (objective, word)


def test_unknown_objective_is_named(topic_corpus):
    vocab = Vocabulary(min_count=1, sample=0).scan(topic_corpus(10))
    with pytest.raises(ValueError, match=r"objective must be one of \('negative_sampling', 'softmax'\), got 'hs'"):
        train(Word2VecNet(len(vocab), 4), topic_corpus(10), vocab, objective="hs")
