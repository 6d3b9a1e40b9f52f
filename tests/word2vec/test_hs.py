"""Hierarchical softmax: the Huffman tree (by hand and against gensim), one kernel update against
a NumPy reference, training, and save/load."""
import heapq

import numpy as np
import pytest

from tinygrad_rnn.kernels import numba_word2vec as kernel
from tinygrad_rnn.word2vec import Word2Vec
from tinygrad_rnn.word2vec.huffman import huffman_tree

FAST = dict(vector_size=16, window=3, min_count=1, sample=0, epochs=3, progress=False)
ALPHA = 0.3  # large, so that a wrong update would show


def test_tree_by_hand():
    # counts 10, 6, 3, 2: merge 3 + 2 -> inner 0 (5), 5 + 6 -> inner 1 (11), 10 + 11 -> inner 2 (root);
    # the first popped is the left child (bit 0)
    tree = huffman_tree([10, 6, 3, 2])
    assert [tree.path(w) for w in range(4)] == [
        ([2], [0]), ([2, 1], [1, 1]), ([2, 1, 0], [1, 0, 1]), ([2, 1, 0], [1, 0, 0])]
    assert huffman_tree([7]).path(0) == ([], [])  # one word: no inner node


def test_tree_is_a_huffman_code():
    """Prefix-free, complete (Kraft sum 1) and of minimal expected length: the weighted code length
    of a Huffman tree equals the sum of the merged counts (computed here with plain integers)."""
    counts = np.random.default_rng(3).integers(1, 50, 200)
    tree = huffman_tree(counts)
    codes = ["".join(map(str, tree.path(w)[1])) for w in range(len(counts))]
    assert not any(a != b and b.startswith(a) for a in codes for b in codes)
    assert sum(2.0 ** -len(c) for c in codes) == pytest.approx(1.0, abs=1e-12)
    heap, merged = list(counts.tolist()), 0
    heapq.heapify(heap)
    while len(heap) > 1:
        pair = heapq.heappop(heap) + heapq.heappop(heap)
        merged += pair
        heapq.heappush(heap, pair)
    assert sum(c * len(code) for c, code in zip(counts, codes)) == merged


def test_tree_equals_gensims_with_repeated_counts():
    gensim = pytest.importorskip("gensim.models", reason="gensim is not installed")
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 12, 60)  # many ties, which gensim's heap breaks in its own order
    corpus = [[f"w{i}"] * int(c) for i, c in enumerate(counts)]
    model = gensim.Word2Vec(corpus, hs=1, negative=0, min_count=1, vector_size=4, epochs=1, workers=1)
    wv = model.wv
    tree = huffman_tree([wv.get_vecattr(i, "count") for i in range(len(wv))])
    for i in range(len(wv)):
        assert tree.path(i) == (wv.get_vecattr(i, "point").tolist(), wv.get_vecattr(i, "code").tolist())


def numpy_step(syn0, syn1, syn1neg, contexts, points, codes, target, negatives, cbow_mean=True):
    """word2vec's update in plain float64 NumPy: h the context vector (or mean/sum), the tree path
    with labels 1 - code, then target and negatives with labels 1, 0; every step uses the old row
    and the old h; each context vector gets the summed error."""
    syn0, syn1, syn1neg = syn0.copy(), syn1.copy(), syn1neg.copy()
    h = syn0[contexts].sum(axis=0) / (len(contexts) if cbow_mean else 1)
    rows = [(syn1, p, 1.0 - c) for p, c in zip(points, codes)]
    if len(syn1neg):
        rows += [(syn1neg, target, 1.0)] + [(syn1neg, k, 0.0) for k in negatives if k != target]
    error, loss = np.zeros_like(h), 0.0
    for table, row, label in rows:
        f = h @ table[row]
        g = ALPHA * (label - 1 / (1 + np.exp(-f)))
        error += g * table[row]
        table[row] += g * h
        loss += np.logaddexp(0, -f if label else f)
    for c in contexts:  # a context word repeated in the window gets the error once per occurrence
        syn0[c] += error
    return loss, syn0, syn1, syn1neg


def random_case(seed, negative):
    rng = np.random.default_rng(seed)
    vocab, size = 9, 5
    syn0, syn1neg = rng.standard_normal((2, vocab, size))
    syn1 = rng.standard_normal((vocab - 1, size))
    points = rng.permutation(vocab - 1)[:rng.integers(1, vocab)]  # a path visits distinct nodes
    codes = rng.integers(0, 2, len(points)).astype(np.uint8)
    negatives = rng.choice(vocab, negative, replace=False)  # may include the target: skipped
    syn1neg = syn1neg if negative else np.zeros((0, size))
    return syn0, syn1, syn1neg, points, codes, int(rng.integers(vocab)), negatives


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("negative", [0, 3])
def test_skipgram_update_equals_numpy(seed, negative):
    """float64 on both sides; the kernel's dot products sum in another order, so agreement is to
    rounding (rtol 1e-12), not bit for bit."""
    syn0, syn1, syn1neg, points, codes, target, negatives = random_case(seed, negative)
    expected = numpy_step(syn0, syn1, syn1neg, [4], points, codes, target, negatives)
    k0, k1, kneg = syn0.copy(), syn1.copy(), syn1neg.copy()
    loss = kernel.sg_pair_update(k0, k1, kneg, 4, points, codes, target, negatives, ALPHA,
                                 np.empty(syn0.shape[1]), True)
    for ours, theirs in zip((loss, k0, k1, kneg), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("negative, cbow_mean", [(0, True), (0, False), (3, True)])
def test_cbow_update_equals_numpy(seed, negative, cbow_mean):
    syn0, syn1, syn1neg, points, codes, target, negatives = random_case(seed, negative)
    contexts = np.array([1, 7, 1, 3])
    expected = numpy_step(syn0, syn1, syn1neg, contexts, points, codes, target, negatives, cbow_mean)
    k0, k1, kneg = syn0.copy(), syn1.copy(), syn1neg.copy()
    size = syn0.shape[1]
    loss = kernel.cbow_update(k0, k1, kneg, contexts, points, codes, target, negatives, ALPHA, cbow_mean,
                              np.empty(size), np.empty(size), True)
    for ours, theirs in zip((loss, k0, k1, kneg), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("sg, negative", [(1, 0), (0, 0), (1, 3)])
def test_learns_topics_and_the_loss_falls(sg, negative, topic_corpus):
    model = Word2Vec(topic_corpus(), sg=sg, hs=1, negative=negative, compute_loss=True, **FAST)
    assert model.syn1.shape == (len(model.wv) - 1, 16) and model.syn1.any()
    assert (model.syn1neg is None) == (negative == 0)
    assert model.wv.similarity("fruit0", "fruit1") > model.wv.similarity("fruit0", "tool1") + 0.5
    assert model.wv.most_similar("tool3", topn=5)[0][0].startswith("tool")
    losses = model.loss_history
    assert losses[-1] < losses[0] and np.isfinite(losses).all()


def test_first_loss_is_path_length_times_log2(topic_corpus):
    """With syn1 at zero every inner node costs log 2 at first; alpha ~ 0 keeps it there, so the
    loss counts the path nodes of every (context, centre) pair (window 1: both neighbours)."""
    corpus = topic_corpus(50)
    model = Word2Vec(corpus, sg=1, hs=1, negative=0, compute_loss=True,
                     **{**FAST, "window": 1, "epochs": 1, "alpha": 1e-12, "min_alpha": 0.0})
    lengths = np.diff(model.tree.offsets)
    index = model.vocab.key_to_index
    nodes = sum(lengths[index[s[i]]] * ((i > 0) + (i < len(s) - 1)) for s in corpus for i in range(len(s)))
    assert model.loss_history[0] == pytest.approx(nodes * np.log(2), rel=1e-6)


def test_save_load_carries_syn1_and_training_continues(tmp_path, topic_corpus):
    model = Word2Vec(topic_corpus(200), hs=1, negative=0, **FAST)
    model.save(tmp_path / "hs.npz")
    loaded = Word2Vec.load(tmp_path / "hs.npz")
    assert loaded.settings.hs == 1 and loaded.syn1neg is None
    assert np.array_equal(loaded.syn1, model.syn1) and np.array_equal(loaded.wv.vectors, model.wv.vectors)
    assert np.array_equal(loaded.tree.points, model.tree.points)
    assert np.array_equal(loaded.tree.codes, model.tree.codes)
    before = loaded.syn1.copy()
    loaded.train(topic_corpus(200), epochs=1)
    assert not np.array_equal(loaded.syn1, before) and loaded.epochs_trained == 4
