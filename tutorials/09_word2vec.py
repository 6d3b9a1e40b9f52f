# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. word2vec
#
# **What you will learn**
#
# - that multiplying a one-hot vector by a weight matrix **is** looking up one row, forward and
#   backward (`nn.Embedding`), which is why word vectors are stored as a table;
# - the two word2vec architectures, skip-gram and CBOW, and the training pairs each makes from
#   a sentence;
# - the lectures' objective, the full softmax over the vocabulary, against negative sampling,
#   both written with this framework (`tinygrad_rnn.word2vec.readable`), and what one update of
#   each costs, measured;
# - subsampling of frequent words: the keep probabilities of the commonest words under the
#   paper's formula and under word2vec.c's;
# - the fast `tinygrad_rnn.word2vec.Word2Vec` (a Numba kernel) trained on a slice of the
#   shipped public-domain corpus: nearest neighbours and king − man + woman.
#
# Prerequisite: [tutorial 1](01_autodiff_from_scratch.py). word2vec's two tables, the lectures'
# $W$ and $W'$ (input and output vectors), are `input.weight` and `output.weight` of
# `readable.Word2VecNet` (word2vec.c's `syn0` and `syn1neg`); the recurrent symbols are in
# [the notation table](NOTATION.md).

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

import tinygrad_rnn as tg
from tinygrad_rnn.apps.plotting import save_and_show
from tinygrad_rnn import functional as F, nn, optim
from tinygrad_rnn.word2vec import LineCorpus, Vocabulary, Word2Vec, keep_probability, readable

np.set_printoptions(precision=4, suppress=True)
try:
    ROOT = Path(__file__).resolve().parents[1]
except NameError:                        # in Jupyter, started from the tutorials folder
    ROOT = Path.cwd().parent
CORPUS = ROOT / "data" / "w2v-public-domain.txt.gz"   # King James Bible + Jane Austen, public domain

# %% [markdown]
# ## From one-hot vectors to an embedding lookup
#
# The lectures feed a word to the network as a one-hot vector $x \in \{0, 1\}^V$ (a 1 at the
# word's index $w$) and multiply it by the input matrix $W \in \mathbb R^{V \times d}$:
#
# $$h = W^\top x = W_{w,:} .$$
#
# Every product with a 0 vanishes, so $h$ is just row $w$ of $W$. The gradient agrees:
# $\partial L/\partial W = x\, \bar h^\top$ is zero except in row $w$, which receives $\bar h$.
# A lookup does the same work in $O(d)$ instead of $O(Vd)$, and `nn.Embedding` is that table.
# We check it on a five-word vocabulary, for the forward pass and the gradient.

# %%
toy_vocab = ["the", "king", "queen", "man", "woman"]
V_TOY, D_TOY = len(toy_vocab), 3
tg.manual_seed(0)
table = nn.Embedding(V_TOY, D_TOY, dtype="float64")
ids = np.array([1, 3, 1])                                     # "king man king"
one_hot = F.one_hot(tg.tensor(ids), V_TOY, dtype="float64")   # (3, V)
print("one-hot rows:\n", one_hot.numpy())

W_dense = tg.tensor(table.weight.numpy(), requires_grad=True)   # the same matrix, used densely
by_matmul = one_hot @ W_dense
by_lookup = table(ids)
print("one-hot @ W:\n", by_matmul.numpy(), "\nembedding lookup:\n", by_lookup.numpy())
upstream = np.random.default_rng(0).standard_normal((3, D_TOY))   # some ∂L/∂h
(by_matmul * tg.tensor(upstream)).sum().backward()
(by_lookup * tg.tensor(upstream)).sum().backward()
print("∂L/∂W by the matmul:\n", W_dense.grad.numpy(), "\n∂L/∂W by the lookup:\n", table.weight.grad.numpy())

# %% [markdown]
# "king" was read twice, so its row collects the sum of two gradients; the rows of words not in
# the batch get zero.
#
# ## Skip-gram and CBOW
#
# word2vec slides a window of $\pm c$ words over the text. Around the centre word $w_t$:
#
# - **skip-gram** predicts each context word from the centre word ($\Pr(w_{t+j} \mid w_t)$
#   with $h = W_{w_t}$); word2vec.c, and so our implementation, trains the equivalent pairs the
#   other way round: input a context word $w_{t+j}$, target the centre $w_t$. One pair per
#   context word.
# - **CBOW** (continuous bag of words) predicts the centre word from the **mean** of its
#   context's input vectors, $h = \frac{1}{2c} \sum_{0 < |j| \le c} W_{w_{t+j}}$. One example per
#   position.
#
# Each example scores every word $v$ by $s_v = h \cdot W'_v$ with a second table $W'$ (the
# output vectors). Here are the examples of a short sentence for $c = 1$, by hand and from
# `readable.examples` (which also applies word2vec.c's random window shrinking and
# subsampling; with $c = 1$ and `sample=0` neither changes anything).

# %%
sentence = "the king loved the queen".split()
window = 1
skipgram_by_hand, cbow_by_hand = [], []
for t, centre in enumerate(sentence):
    context = [sentence[j] for j in range(max(0, t - window), min(len(sentence), t + window + 1)) if j != t]
    skipgram_by_hand += [(c, centre) for c in context]
    cbow_by_hand.append((context, centre))
print("skip-gram (input → target):", skipgram_by_hand)
print("CBOW (context → target):  ", cbow_by_hand)

toy_words = Vocabulary(min_count=1, sample=0).scan([sentence])
names = toy_words.index_to_key
rng = np.random.default_rng(0)
skipgram_readable = [(names[i], names[t]) for e in readable.examples([sentence], toy_words, 1, window, rng) if e for i, t in [e]]
cbow_readable = [([names[i] for i in c], names[t]) for e in readable.examples([sentence], toy_words, 0, window, rng) if e for c, t in [e]]
print("readable.examples gives the same:", skipgram_readable == skipgram_by_hand and cbow_readable == cbow_by_hand)

# %% [markdown]
# ## The full softmax against negative sampling
#
# The lectures' objective is the softmax over the whole vocabulary,
#
# $$\Pr(c \mid h) = \frac{\exp(h \cdot W'_c)}{\sum_{v=1}^{V} \exp(h \cdot W'_v)}, \qquad
#   L = -\log \Pr(c \mid h) = -s_c + \log \sum_{v=1}^V e^{s_v},$$
#
# and its gradient reaches **every** output vector $W'_v$: one update costs $O(V d)$. Mikolov
# et al. (2013) replace it with **negative sampling**: tell the true target $c$ apart from $K$
# "noise" words $k_1..k_K$ drawn from the unigram distribution raised to the power $3/4$,
#
# $$L = -\log \sigma(s_c) - \sum_{i=1}^{K} \log \sigma(-s_{k_i}),$$
#
# which touches only $K + 1$ output vectors: $O((K+1) d)$ per example.
# `readable.Word2VecNet` holds the two tables and `readable.train` trains either objective
# (`objective="softmax"` or `"negative_sampling"`) with plain SGD.
#
# The cost, measured: one SGD step on a batch of 64 skip-gram pairs ($d = 50$, $K = 5$) for
# vocabularies of growing size $V$ (the first lines of the corpus, every word kept, up to the
# whole corpus). We count the output vectors that receive a gradient, and time the step (the
# best of 5, with NumPy's matrix products held to one thread so that the clock measures the
# work rather than threads waiting for each other on a busy machine).

# %%
all_lines = [line for line in LineCorpus(CORPUS)]
print(f"the corpus: {len(all_lines):,} lines, {sum(map(len, all_lines)):,} tokens")


def one_update(lines, objective, repeats=5):
    """(V, output vectors given a gradient, best time) of an SGD step on 64 skip-gram pairs."""
    vocab = Vocabulary(min_count=1, sample=0).scan(lines)
    net = readable.Word2VecNet(len(vocab), 50, sg=1)
    optimizer = optim.SGD(net.parameters(), lr=0.025)
    rng = np.random.default_rng(0)
    pairs = [e for e in readable.examples(lines, vocab, 1, 5, rng) if e is not None][:64]
    times = []
    with threadpool_limits(limits=1):
        for _ in range(repeats):
            start = time.perf_counter()
            readable.sgd_step(net, optimizer, pairs, vocab, 5, 5, rng, objective)
            times.append(time.perf_counter() - start)
    touched = int((net.output.weight.grad.numpy() != 0).any(axis=1).sum())
    return len(vocab), touched, min(times)


cost = {"softmax": [], "negative_sampling": []}
touched = {"softmax": [], "negative_sampling": []}
vocab_sizes = []
for n_lines in (100, 800, 6400, len(all_lines)):
    for objective in cost:
        V, rows, seconds = one_update(all_lines[:n_lines], objective)
        cost[objective].append(seconds)
        touched[objective].append(rows)
    vocab_sizes.append(V)
    print(f"V = {V:6,d}: full softmax {1e3 * cost['softmax'][-1]:6.2f} ms, {touched['softmax'][-1]:6,d} output vectors; "
          f"negative sampling {1e3 * cost['negative_sampling'][-1]:5.2f} ms, {touched['negative_sampling'][-1]:3d} output vectors")
cost = {k: np.array(v) for k, v in cost.items()}
touched = {k: np.array(v) for k, v in touched.items()}
vocab_sizes = np.array(vocab_sizes)

# %%
fig, ax = plt.subplots(figsize=(7, 4.3))
ax.loglog(vocab_sizes, 1e3 * cost["softmax"], "o-", label="full softmax: scores all V words")
ax.loglog(vocab_sizes, 1e3 * cost["negative_sampling"], "s-", label="negative sampling: scores K + 1 = 6 words")
ax.set_xlabel("vocabulary size V")
ax.set_ylabel("one SGD step on 64 pairs, ms (best of 5)")
ax.set_title("Cost per update of the two objectives (readable engine path, d = 50)", fontsize=10)
ax.legend()
ax.grid(alpha=0.3, which="both")
fig.tight_layout()
save_and_show(fig, "09_softmax_vs_negative_sampling.png")

# %% [markdown]
# Both objectives train the same `Word2VecNet` with `readable.train`. A short run on the first
# 300 lines (skip-gram, $d = 50$, 3 epochs): at the start the output vectors are zero, so every
# score is 0 and the loss per example is $\log V$ for the softmax and $(K + 1) \log 2$ for
# negative sampling; training must bring both below that.

# %%
small = all_lines[:300]
small_vocab = Vocabulary(min_count=1, sample=0).scan(small)
training = {}
for objective in ("softmax", "negative_sampling"):
    net = readable.Word2VecNet(len(small_vocab), 50, sg=1)
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        epoch_losses = readable.train(net, small, small_vocab, epochs=3, objective=objective)
    training[objective] = (np.array(epoch_losses), time.perf_counter() - start)
starting_loss = {"softmax": np.log(len(small_vocab)), "negative_sampling": 6 * np.log(2)}
for objective, (epoch_losses, seconds) in training.items():
    print(f"{objective:17}: loss per example by epoch {np.round(epoch_losses, 3)} (at the start "
          f"{starting_loss[objective]:.3f}); 3 epochs in {seconds:.1f} s, V = {len(small_vocab)}")

# %% [markdown]
# The softmax step gives a gradient to every one of the $V$ output vectors and its time grows
# with $V$; negative sampling gives one to at most $64 \times 6$ of them and its time stays
# flat. Real vocabularies have $10^5$ to $10^6$ words. (word2vec's other way out, the hierarchical softmax, walks a
# Huffman tree of depth $\log_2 V$; it is not implemented here.)
#
# ## Subsampling frequent words
#
# "the", "and", "of" occur in almost every window and say little about their neighbours.
# word2vec drops each occurrence of a word of frequency $f$ (its count) at random, keeping it
# with probability $p_{\text{keep}}(f)$, where $t = \text{sample} \cdot N$ with $N$ the number of
# tokens:
#
# $$p_{\text{keep}}^{\text{paper}}(f) = \min\Big(1, \sqrt{t/f}\Big) \quad\text{(Mikolov et al. 2013: discard } 1 - \sqrt{t/f}\text{)},$$
#
# $$p_{\text{keep}}^{\text{code}}(f) = \min\Big(1, \sqrt{t/f} + t/f\Big) \quad\text{(word2vec.c and gensim)}.$$
#
# The code's formula keeps more of every frequent word and keeps **all** words with
# $f \le \frac{3 + \sqrt 5}{2}\, t \approx 2.62\,t$, not only those with $f \le t$. `Word2Vec`
# uses the code's by default and the paper's with `sample_formula="paper"`. The keep
# probabilities of the commonest words of the whole corpus, with gensim's default
# `sample=1e-3`:

# %%
full_vocab = Vocabulary(min_count=5, sample=1e-3).scan(all_lines)
counts = full_vocab.counts
N_TOKENS, SAMPLE = counts.sum(), 1e-3
t_threshold = SAMPLE * N_TOKENS
keep_code = keep_probability(counts, SAMPLE, "code")
keep_paper = keep_probability(counts, SAMPLE, "paper")
print(f"N = {N_TOKENS:,} tokens of the {len(full_vocab):,} words seen at least 5 times; t = sample·N = {t_threshold:.0f}")
print(f"{'word':>6} {'count':>7} {'f/N':>7} {'keep (code)':>12} {'keep (paper)':>13}")
for i in range(10):
    print(f"{full_vocab.index_to_key[i]:>6} {counts[i]:7d} {counts[i] / N_TOKENS:7.4f} {keep_code[i]:12.3f} {keep_paper[i]:13.3f}")
kept_fraction = {name: float((counts * keep).sum() / N_TOKENS) for name, keep in (("code", keep_code), ("paper", keep_paper))}
print(f"expected fraction of the tokens kept per pass: code {kept_fraction['code']:.3f}, paper {kept_fraction['paper']:.3f}; "
      f"Vocabulary's own estimate (code): {full_vocab.expected_training_words() / N_TOKENS:.3f}")
print(f"words kept whole: code {int((keep_code == 1).sum()):,}, paper {int((keep_paper == 1).sum()):,} "
      f"of {len(full_vocab):,}")

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.5))
grid = np.logspace(np.log10(counts.min()), np.log10(counts.max()), 300)
ax.semilogx(grid / N_TOKENS, np.minimum(1, np.sqrt(t_threshold / grid) + t_threshold / grid), label="word2vec.c / gensim: $\\sqrt{t/f} + t/f$")
ax.semilogx(grid / N_TOKENS, np.minimum(1, np.sqrt(t_threshold / grid)), label="paper: $\\sqrt{t/f}$")
for i in range(4):
    ax.plot(counts[i] / N_TOKENS, keep_code[i], "o", color="C0")
    ax.annotate(full_vocab.index_to_key[i], (counts[i] / N_TOKENS, keep_code[i]), textcoords="offset points",
                xytext=(0, 6), ha="center", fontsize=8)
ax.axvline(SAMPLE, color="0.6", ls=":", lw=1)
ax.text(SAMPLE, 0.6, "f/N = sample ", color="0.4", fontsize=8, ha="right")
ax.axvline((3 + 5 ** 0.5) / 2 * SAMPLE, color="C0", ls=":", lw=1)
ax.text((3 + 5 ** 0.5) / 2 * SAMPLE, 0.7, " 2.62 × sample", color="C0", fontsize=8)
ax.set_xlabel("word frequency f / N")
ax.set_ylabel("probability of keeping an occurrence")
ax.set_title("Subsampling frequent words (sample = 1e-3), the shipped corpus's commonest words", fontsize=10)
ax.legend(loc="lower left")
ax.grid(alpha=0.3)
fig.tight_layout()
save_and_show(fig, "09_subsampling.png")

# %% [markdown]
# ## The fast path: `Word2Vec` on the shipped corpus
#
# `tinygrad_rnn.word2vec.Word2Vec` trains the same negative-sampling objective with a Numba
# kernel that applies each pair's update at once and touches only the rows involved, with
# gensim's interface and word2vec's default settings ($d = 100$, window 5, $K = 5$,
# `sample=1e-3`, `min_count=5`, 5 epochs). We train CBOW (`sg=0`), the faster of the two (one
# update per position instead of one per context word), on the whole shipped corpus, with one
# worker thread so that the seed fixes the result. `examples/word2vec_prose.py` trains
# skip-gram on the same corpus, which takes several times longer.

# %%
start = time.perf_counter()
model = Word2Vec(sentences=all_lines, sg=0, workers=1, seed=1, progress=False)
train_seconds = time.perf_counter() - start
print(f"{model.vocab.raw_words:,} tokens, {len(model.wv):,} words in the vocabulary, trained in {train_seconds:.1f} s")

QUERIES = ["gold", "sister", "jerusalem", "happy"]
neighbours = {word: model.wv.most_similar(word, topn=6) for word in QUERIES}
for word, near in neighbours.items():
    print(f"{word:>10}: " + ", ".join(f"{w} {s:.2f}" for w, s in near))

# %% [markdown]
# **king − man + woman.** Adding and subtracting word vectors moves along directions the
# training found: `most_similar(positive=["king", "woman"], negative=["man"])` ranks the
# words by cosine with $\widehat{king} - \widehat{man} + \widehat{woman}$ (unit vectors),
# leaving out the three words themselves.

# %%
analogy = model.wv.most_similar(positive=["king", "woman"], negative=["man"], topn=10)
analogy_words = [w for w, _ in analogy]
print("king - man + woman ≈", ", ".join(f"{w} {s:.2f}" for w, s in analogy[:5]))
queen_rank = analogy_words.index("queen") + 1 if "queen" in analogy_words else None
print("rank of 'queen':", queen_rank)

# %%
PLOTTED = [("man", "woman"), ("king", "queen"), ("father", "mother"), ("son", "daughter"),
           ("brother", "sister"), ("husband", "wife")]
words = [w for pair in PLOTTED for w in pair]
vectors = np.array([model.wv[w] / np.linalg.norm(model.wv[w]) for w in words])
centred = vectors - vectors.mean(axis=0)
_, _, components = np.linalg.svd(centred, full_matrices=False)
points = centred @ components[:2].T
fig, ax = plt.subplots(figsize=(7, 5.5))
for k, (a, b) in enumerate(PLOTTED):
    pa, pb = points[2 * k], points[2 * k + 1]
    ax.annotate("", xy=pb, xytext=pa, arrowprops=dict(arrowstyle="->", color=f"C{k}", lw=1.5))
    ax.plot(*pa, "o", color=f"C{k}")
    ax.plot(*pb, ".", color=f"C{k}")
    ax.annotate(a, pa, textcoords="offset points", xytext=(-6, -4), ha="right", fontsize=10)
    ax.annotate(b, pb, textcoords="offset points", xytext=(5, (-14, 10, -14, -14, 10, 10)[k]), fontsize=10, color=f"C{k}")
ax.margins(0.15)
ax.set_xlabel("first principal component")
ax.set_ylabel("second principal component")
ax.set_title("CBOW vectors of the shipped corpus: male → female pairs, PCA of these 12 words", fontsize=10)
ax.grid(alpha=0.3)
fig.tight_layout()
save_and_show(fig, "09_word_vectors.png")

# %% [markdown]
# ## Check yourself

# %%
# a one-hot matmul is a row lookup, forward and backward, to the last bit
assert np.array_equal(by_matmul.numpy(), by_lookup.numpy())
assert np.allclose(W_dense.grad.numpy(), table.weight.grad.numpy(), atol=1e-15, rtol=0)
assert np.allclose(table.weight.grad.numpy()[1], upstream[0] + upstream[2]) and not table.weight.grad.numpy()[[0, 2, 4]].any()
# the examples: skip-gram one pair per context word, CBOW one example per position; the
# library makes the same
assert len(skipgram_by_hand) == 2 * (len(sentence) - 1) and len(cbow_by_hand) == len(sentence)
assert skipgram_readable == skipgram_by_hand and cbow_readable == cbow_by_hand
# cost: the softmax update reaches all V output vectors, negative sampling at most 64·6; the
# softmax step's time grows with V and at the largest vocabulary is several times the other's
assert np.array_equal(touched["softmax"], vocab_sizes) and touched["negative_sampling"].max() <= 64 * 6
assert vocab_sizes[-1] > 10 * vocab_sizes[0]
assert cost["softmax"][-1] > 3 * cost["negative_sampling"][-1]
assert cost["softmax"][-1] > 3 * cost["softmax"][0]
# both objectives train: each epoch's loss is below the last and the first below the loss at
# the start (all scores 0)
for objective, (epoch_losses, _) in training.items():
    assert np.all(np.diff(epoch_losses) < 0) and epoch_losses[0] < starting_loss[objective]
# subsampling: both formulas by hand; the code's keeps more of every word, and all words up to
# 2.62 t; the commonest word is thinned hardest
f = counts.astype(float)
assert np.allclose(keep_paper, np.minimum(1, np.sqrt(t_threshold / f)))
assert np.allclose(keep_code, np.minimum(1, np.sqrt(t_threshold / f) + t_threshold / f))
assert np.all(keep_code >= keep_paper) and np.all(keep_code[f <= 2.618 * t_threshold] == 1)
assert keep_code[0] == keep_code.min() and keep_paper[0] == keep_paper.min() and keep_code[0] < 0.2
assert kept_fraction["paper"] < kept_fraction["code"] < 1
# the trained vectors: "silver" is among gold's 3 nearest neighbours, a family word is
# sister's nearest, and "queen" is within the top 5 of king - man + woman (seed 1)
assert "silver" in [w for w, _ in neighbours["gold"][:3]]
assert neighbours["sister"][0][0] in {"brother", "mother", "uncle", "aunt", "cousin", "father", "daughter"}
assert queen_rank is not None and queen_rank <= 5
print("all checks passed")
