"""word2vec written with the engine: the model to read (the Numba kernel is the one to run).

Two embedding tables: ``input`` (the word vectors, word2vec.c's syn0) and ``output``
(syn1neg).  One training example is an input ``h`` and a target word ``c`` with ``K`` negative
words ``k`` drawn from the unigram distribution to the power 3/4:

* skip-gram: ``h = input[w_j]`` for a context word ``w_j``, target the centre word ``w_i``;
* CBOW: ``h`` = mean (or sum) of ``input[w_j]`` over the context, target ``w_i``.  For the mean,
  word2vec.c (and gensim, and our kernel) give every context vector the whole error rather than
  its gradient (the error divided by the number ``C`` of context words): the same direction with
  a ``C`` times larger step, which trains much better vectors.  ``hidden`` writes that as a mean
  whose backward is the sum's.

The scores are a batched dot product ``s_d = h . output[d]`` for ``d`` in ``(c, k_1..k_K)``
and the loss is the negative log-likelihood of "c is real, the k are noise":

    L = -log sigmoid(s_c) - sum_k log sigmoid(-s_k) = softplus(-s_c) + sum_k softplus(s_k)

summed over the mini-batch and minimised by plain SGD, the learning rate decaying linearly from
``alpha`` to ``min_alpha``.

``objective="softmax"`` trains the lectures' objective instead, the full softmax over the
vocabulary of V words (no negatives are drawn):

    L = -log Pr(c | h) = -s_c + log sum_{v=1..V} exp(s_v),   s_v = h . output[v]

Its gradient touches every output vector, so one update costs O(V·d) against negative
sampling's O((K+1)·d): fine for the small vocabularies this path is for, hopeless for a real
one (which is why word2vec samples negatives or walks a Huffman tree).  Negatives equal to the target are masked out, as word2vec.c skips
them.  With a batch of one pair this step equals the kernel's update exactly
(``tests/word2vec/test_readable.py``); larger batches sum the gradients of several pairs before
applying them (the kernel applies each pair at once), and every step builds a graph and dense
gradients of both tables, so this path is for reading and checking, not for large corpora.

Examples follow word2vec.c's rules (vocabulary, subsampling, reduced window, the negative
sampling table) with NumPy's random generator instead of word2vec.c's::

    vocab = Vocabulary(min_count=1).scan(sentences)
    net = Word2VecNet(len(vocab), vector_size=50)
    train(net, sentences, vocab, epochs=5)
    wv = KeyedVectors(vocab.index_to_key, net.input.weight.numpy())
"""

from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F, nn, optim
from tinygrad_rnn.word2vec.vocab import Vocabulary


class Word2VecNet(nn.Module):
    """The two embedding tables and the scores of target and negative words."""

    def __init__(self, vocab_size: int, vector_size: int, sg: int = 1, cbow_mean: bool = True,
                 seed: int = 1, dtype=None):
        super().__init__()
        self.sg, self.cbow_mean = sg, cbow_mean
        self.input = nn.Embedding(vocab_size, vector_size, dtype=dtype)
        self.output = nn.Embedding(vocab_size, vector_size, dtype=dtype)
        rng = np.random.default_rng(seed)
        self.input.weight.data[...] = (2 * rng.random((vocab_size, vector_size)) - 1) / vector_size
        self.output.weight.data[...] = 0

    @classmethod
    def from_arrays(cls, syn0: np.ndarray, syn1neg: np.ndarray, sg: int = 1, cbow_mean: bool = True):
        """A net holding copies of given input and output vectors (dtype kept)."""
        dtype = tg.float64 if syn0.dtype == np.float64 else None
        net = cls(*syn0.shape, sg=sg, cbow_mean=cbow_mean, dtype=dtype)
        net.input.weight.data[...] = syn0
        net.output.weight.data[...] = syn1neg
        return net

    def hidden(self, inputs: np.ndarray, context_mask: np.ndarray | None) -> tg.Tensor:
        """``h``: (B, d). Skip-gram: ``inputs`` (B,). CBOW: ``inputs`` (B, C), padded where
        ``context_mask`` (B, C) is 0; the mean divides by the number of real context words."""
        vectors = self.input(inputs)
        if self.sg:
            return vectors
        mask = tg.Tensor(context_mask, dtype=vectors.dtype)
        summed = (vectors * mask.unsqueeze(-1)).sum(axis=1)
        if not self.cbow_mean:
            return summed
        # the value of the mean; the gradient of the sum (word2vec.c's update, see the docstring)
        return summed + (summed / mask.sum(axis=1, keepdims=True) - summed).detach()

    def forward(self, inputs, targets: np.ndarray, context_mask=None) -> tg.Tensor:
        """Scores (B, 1 + K): ``targets[:, 0]`` the true target, ``targets[:, 1:]`` negatives."""
        h = self.hidden(inputs, context_mask)
        return (self.output(targets) @ h.unsqueeze(-1)).squeeze(-1)

    def all_scores(self, inputs, context_mask=None) -> tg.Tensor:
        """Scores (B, V) of every word of the vocabulary, for the full softmax."""
        return self.hidden(inputs, context_mask) @ self.output.weight.transpose(0, 1)


def negative_sampling_loss(scores: tg.Tensor, targets: np.ndarray) -> tg.Tensor:
    """``sum softplus(-s_c) + sum softplus(s_k)`` over the batch, negatives equal to the target masked."""
    sign = np.ones(targets.shape[1])
    sign[1:] = -1
    valid = np.ones(targets.shape)
    valid[:, 1:] = targets[:, 1:] != targets[:, :1]
    sign = tg.Tensor(sign, dtype=scores.dtype)
    return ((-sign * scores).softplus() * tg.Tensor(valid, dtype=scores.dtype)).sum()


def full_softmax_loss(scores: tg.Tensor, targets: np.ndarray) -> tg.Tensor:
    """``sum -log softmax(s)_c`` over the batch: ``scores`` (B, V) from ``all_scores``, the true
    word in ``targets[:, 0]``."""
    return F.cross_entropy(scores, tg.Tensor(targets[:, 0]), reduction="sum")


OBJECTIVES = ("negative_sampling", "softmax")


def examples(sentences, vocab: Vocabulary, sg: int, window: int, rng: np.random.Generator):
    """Yield ``(input, target)`` per example and ``None`` after each sentence.

    Skip-gram inputs are single word indices, CBOW inputs lists of context indices.
    """
    for sentence in sentences:
        ids = np.array([vocab.key_to_index[w] for w in sentence if w in vocab.key_to_index], np.int64)
        ids = ids[vocab.keep_threshold[ids] >= rng.integers(0, 2**32, len(ids))]
        shrink = rng.integers(0, window, len(ids))  # reduced window: window - b, b in [0, window)
        for i, target in enumerate(ids):
            lo, hi = max(0, i - window + shrink[i]), min(len(ids), i + window + 1 - shrink[i])
            context = [ids[j] for j in range(lo, hi) if j != i]
            if sg:
                yield from ((c, target) for c in context)
            elif context:
                yield context, target
        yield None


def make_batch(batch: list, vocab: Vocabulary, sg: int, window: int, negative: int, rng):
    """Arrays for ``Word2VecNet``: inputs, targets (B, 1 + K) with drawn negatives, context mask."""
    inputs, target = zip(*batch)
    draws = rng.integers(0, vocab.cum_table[-1], (len(batch), negative))
    targets = np.column_stack([target, np.searchsorted(vocab.cum_table, draws, side="left")])
    if sg:
        return np.array(inputs), targets, None
    padded = np.zeros((len(batch), 2 * window), np.int64)
    mask = np.zeros((len(batch), 2 * window))
    for row, context in enumerate(inputs):
        padded[row, :len(context)] = context
        mask[row, :len(context)] = 1
    return padded, targets, mask


def sgd_step(net: Word2VecNet, optimizer, batch: list, vocab: Vocabulary, window: int, negative: int,
             rng, objective: str = "negative_sampling") -> float:
    """One SGD step on the summed loss of ``batch``; returns that loss."""
    if objective == "softmax":
        inputs, targets, mask = make_batch(batch, vocab, net.sg, window, 0, rng)
        loss = full_softmax_loss(net.all_scores(inputs, mask), targets)
    else:
        inputs, targets, mask = make_batch(batch, vocab, net.sg, window, negative, rng)
        loss = negative_sampling_loss(net(inputs, targets, mask), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def train(net: Word2VecNet, sentences, vocab: Vocabulary, epochs: int = 5, window: int = 5,
          negative: int = 5, alpha: float = 0.025, min_alpha: float = 1e-4, batch_size: int = 64,
          seed: int = 1, objective: str = "negative_sampling") -> list[float]:
    """Mini-batch SGD on ``objective`` ("negative_sampling" or "softmax", see the module
    docstring); returns the mean loss per example of each epoch."""
    if objective not in OBJECTIVES:
        raise ValueError(f"word2vec.readable.train: objective must be one of {OBJECTIVES}, got {objective!r}")
    rng = np.random.default_rng(seed)
    optimizer = optim.SGD(net.parameters(), lr=alpha)
    epoch_losses = []
    for epoch in range(epochs):
        total, count, sentences_done, batch = 0.0, 0, 0, []
        for example in examples(sentences, vocab, net.sg, window, rng):
            if example is None:
                sentences_done += 1
                continue
            batch.append(example)
            if len(batch) == batch_size:
                progress = min(1.0, (epoch + sentences_done / vocab.sentences) / epochs)
                optimizer.param_groups[0]["lr"] = alpha - (alpha - min_alpha) * progress
                total += sgd_step(net, optimizer, batch, vocab, window, negative, rng, objective)
                count, batch = count + len(batch), []
        if batch:
            total += sgd_step(net, optimizer, batch, vocab, window, negative, rng, objective)
            count += len(batch)
        epoch_losses.append(total / max(count, 1))
    return epoch_losses
