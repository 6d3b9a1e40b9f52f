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
# # 6. Bidirectional and deep RNNs: part-of-speech tagging
#
# **What you will learn**
#
# - sequence labelling: one output per input word, here the word's part of speech, on real
#   English text (the OANC extract the repository ships);
# - a **bidirectional** RNN: a second RNN reads the sentence backwards, so each word's
#   output sees the words after it as well as before; how its parameters are named and how its
#   outputs are laid out;
# - a **deep** (stacked) RNN: a second layer reads the first layer's outputs;
# - the four combinations (one or two directions, one or two layers) trained the same way,
#   their measured accuracies side by side;
# - a **linear-chain CRF** on top: it scores whole tag sequences (tag-to-tag transitions
#   included), is trained by the forward algorithm and decoded by **Viterbi**, both checked
#   against brute force over every tag sequence of a short sentence;
# - the lectures' **hidden Markov model** tagger as the count-based baseline.
#
# Prerequisite: [tutorial 4](04_lstm.py). Parameter names (`weight_ih_l1_reverse`, ...) are in
# [the notation table](NOTATION.md).

# %%
import gzip
import itertools
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is fastest

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn.apps.plotting import save_and_show  # noqa: E402
from tinygrad_rnn import functional as F, nn, optim  # noqa: E402
from tinygrad_rnn.models import HMMTagger, LinearChainCRF  # noqa: E402

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## The data
#
# `data/pos-oanc-3000.txt.gz` holds 3,000 sentences of the Open American National Corpus with
# Penn Treebank tags (`data/NOTICE` gives the source and licence), one sentence per line of
# `word/TAG` tokens (a `/` inside a word is written `&slash;`). To keep this tutorial fast we
# hold out 300 sentences for testing and train on 1,200 of the others (at most 40 words each).

# %%
try:
    REPOSITORY = Path(__file__).resolve().parents[1]
except NameError:                      # in a notebook opened from tutorials/
    REPOSITORY = Path.cwd().parent
DATA = REPOSITORY / "data" / "pos-oanc-3000.txt.gz"


def read_tagged_sentences(path):
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [[(word.replace("&slash;", "/"), tag) for word, _, tag in (token.rpartition("/") for token in line.split())]
                for line in lines if line.strip()]


sentences = read_tagged_sentences(DATA)
order = np.random.default_rng(0).permutation(len(sentences))
test = [sentences[i] for i in order[:300]]
training = [sentences[i] for i in order[300:] if len(sentences[i]) <= 40][:1200]
print(f"{len(sentences)} sentences; training on {len(training)} ({sum(map(len, training))} tokens), "
      f"testing on {len(test)} ({sum(map(len, test))} tokens)")
print("a training sentence:", " ".join(f"{w}/{t}" for w, t in training[0]))

# %% [markdown]
# Words become ids (lower-cased; words seen once in training become `<unk>`, so the model learns
# what to do with unknown words), and so do their last three letters (a suffix like `-ing` or
# `-ly` says much about the part of speech of a word never seen before). Id 0 is padding.

# %%
def vocabulary(items, min_count=1):
    counts = Counter(items)
    kept = sorted(item for item, count in counts.items() if count >= min_count)
    return {item: i for i, item in enumerate(["<pad>", "<unk>"] + kept)}


words = vocabulary((w.lower() for s in training for w, _ in s), min_count=2)
suffixes = vocabulary(w[-3:].lower() for s in training for w, _ in s)
tags = sorted({t for s in sentences for _, t in s})
tag_id = {t: i for i, t in enumerate(tags)}
print(f"{len(words)} word ids, {len(suffixes)} suffix ids, {len(tags)} tags")


def batches(sentences, batch_size, rng=None):
    """Padded (word ids, suffix ids, tag ids, lengths), batch first; padded tags are -100."""
    order = np.argsort([len(s) for s in sentences], kind="stable")     # similar lengths together
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(chunks)
    for chunk in chunks:
        group = [sentences[i] for i in chunk]
        lengths = np.array([len(s) for s in group])
        word_ids, suffix_ids = np.zeros((len(group), lengths.max()), np.int64), np.zeros((len(group), lengths.max()), np.int64)
        tag_ids = np.full((len(group), lengths.max()), -100)
        for row, sentence in enumerate(group):
            for col, (word, tag) in enumerate(sentence):
                word_ids[row, col] = words.get(word.lower(), 1)
                suffix_ids[row, col] = suffixes.get(word[-3:].lower(), 1)
                tag_ids[row, col] = tag_id[tag]
        yield word_ids, suffix_ids, tag_ids, lengths


# %% [markdown]
# ## Bidirectional and deep
#
# A unidirectional RNN's output at word $t$ has read words $1 \ldots t$ only. A bidirectional
# layer runs a second RNN from the last word back to the first and concatenates the two
# directions' states at each word:
#
# $$\overrightarrow{h}_t = \mathrm{LSTM}_{\rightarrow}(x_t, \overrightarrow{h}_{t-1}), \qquad
#   \overleftarrow{h}_t = \mathrm{LSTM}_{\leftarrow}(x_t, \overleftarrow{h}_{t+1}), \qquad
#   h_t = [\overrightarrow{h}_t ; \overleftarrow{h}_t],$$
#
# so the tag of "can" in "the can" and "I can" may depend on the words on both sides. A deep RNN
# stacks layers: layer 2 reads layer 1's outputs $h^{(1)}_t$ as its inputs. `nn.LSTM` does
# both (`num_layers=2, bidirectional=True`); the reverse direction's parameters carry the suffix
# `_reverse`, layer 2's `_l1`, and layer 2's input size is $2H$ when layer 1 is bidirectional.
# The reverse direction of a padded batch starts at each sentence's own last word (`lengths=`),
# not at the padding.

# %%
tg.manual_seed(0)
lstm = nn.LSTM(5, 3, num_layers=2, bidirectional=True, batch_first=True, dtype="float64")
print({name: p.shape for name, p in lstm.named_parameters() if name.startswith("weight")})
x_demo = tg.tensor(np.random.default_rng(1).standard_normal((2, 4, 5)))
out_demo, _ = lstm(x_demo, lengths=np.array([4, 2]))
print("output (N, L, 2H):", out_demo.shape, "\nthe second sentence (length 2), padded steps are zero:\n",
      out_demo.numpy()[1])
# the backward direction at the last real word of sentence 2 has read only that word: the same
# as running the reverse direction over that sentence alone
alone, _ = lstm(x_demo[1:2, :2])
direction_check = np.abs(alone.numpy()[0] - out_demo.numpy()[1, :2]).max()
print("sentence 2 alone vs in the padded batch, largest difference:", direction_check)

# %% [markdown]
# ## The tagger
#
# Each word's input is the concatenation of a word embedding (48 numbers) and a suffix embedding
# (16). An LSTM with $H = 48$ units per direction reads the sentence; a linear layer turns each
# output into one score per tag (the *emissions*). The softmax tagger picks each word's best tag
# independently and trains with the cross-entropy. Every variant trains for 3 epochs of Adam
# (learning rate $10^{-2}$, batches of 32, gradient norm clipped at 5), from the same seed.

# %%
class Tagger(nn.Module):
    def __init__(self, bidirectional, num_layers, crf=False):
        super().__init__()
        self.words = nn.Embedding(len(words), 48, padding_idx=0)
        self.suffixes = nn.Embedding(len(suffixes), 16, padding_idx=0)
        self.lstm = nn.LSTM(64, 48, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
        self.output = nn.Linear(48 * (2 if bidirectional else 1), len(tags))
        self.crf = LinearChainCRF(len(tags), batch_first=True) if crf else None

    def emissions(self, word_ids, suffix_ids, lengths):
        x = F.cat([self.words(word_ids), self.suffixes(suffix_ids)], axis=-1)
        out, _ = self.lstm(x, lengths=lengths)
        return self.output(out)                                        # (N, L, number of tags)

    def loss(self, word_ids, suffix_ids, tag_ids, lengths):
        emissions = self.emissions(word_ids, suffix_ids, lengths)
        if self.crf is not None:                       # sentence NLL, per word as the softmax's
            return self.crf(emissions, tag_ids, lengths) / float(np.mean(lengths))
        return F.cross_entropy(emissions.reshape(-1, len(tags)), tg.tensor(tag_ids.reshape(-1)))

    def predict(self, word_ids, suffix_ids, lengths):
        emissions = self.emissions(word_ids, suffix_ids, lengths)
        if self.crf is not None:
            return self.crf.decode(emissions, lengths)[0]                # Viterbi
        best = emissions.numpy().argmax(axis=-1)
        return [row[:n].tolist() for row, n in zip(best, lengths)]


def accuracy(tagger, sentences):
    correct = total = 0
    with tg.no_grad():
        for word_ids, suffix_ids, tag_ids, lengths in batches(sentences, 300):
            for predicted, gold, n in zip(tagger.predict(word_ids, suffix_ids, lengths), tag_ids, lengths):
                correct += int((np.array(predicted) == gold[:n]).sum())
                total += int(n)
    return correct / total


def train(bidirectional, num_layers, crf=False, epochs=3):
    tg.manual_seed(0)
    tagger = Tagger(bidirectional, num_layers, crf)
    optimizer = optim.Adam(tagger.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(epochs):
        for word_ids, suffix_ids, tag_ids, lengths in batches(training, 32, rng):
            loss = tagger.loss(word_ids, suffix_ids, tag_ids, lengths)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(tagger.parameters(), 5.0)
            optimizer.step()
    return tagger, accuracy(tagger, test), time.perf_counter() - start


results = {}
for bidirectional, num_layers in [(False, 1), (False, 2), (True, 1), (True, 2)]:
    name = f"{'bi' if bidirectional else 'uni'}directional, {num_layers} layer{'s' if num_layers > 1 else ''}"
    tagger, test_accuracy, seconds = train(bidirectional, num_layers)
    results[name] = test_accuracy
    print(f"{name:28s} test accuracy {test_accuracy:.4f}   ({seconds:.0f} s)")
uni_1, uni_2, bi_1, bi_2 = results.values()
print(f"reading both directions: {bi_1 - uni_1:+.4f} (1 layer), {bi_2 - uni_2:+.4f} (2 layers); "
      f"a second layer: {uni_2 - uni_1:+.4f} (unidirectional), {bi_2 - bi_1:+.4f} (bidirectional)")

# %% [markdown]
# Reading the right-hand context is worth a few points of accuracy (the first number printed
# above, checked at the end). A second layer has twice
# the recurrent parameters to train from the same 1,200 sentences in 3 epochs, and the numbers
# above say whether it has paid off yet at this size (it needs more data and training to; see
# `examples/pos_tagging_crf.py` for longer runs).

# %% [markdown]
# ## A CRF on top, decoded by Viterbi
#
# The softmax tagger chooses each tag on its own, so nothing stops it from choosing a sequence
# of tags that never occurs (a determiner followed by a verb, say). A linear-chain CRF adds a
# learned transition score $A_{ij}$ for tag $i$ followed by tag $j$ (and start and end scores
# $s$, $e$), and scores a whole tag sequence $y$ of a sentence with emissions $E$:
#
# $$\operatorname{score}(y) = s_{y_1} + \sum_{t=1}^{L} E_{t, y_t} + \sum_{t=2}^{L} A_{y_{t-1}, y_t} + e_{y_L},
#   \qquad p(y \mid E) = \frac{\exp \operatorname{score}(y)}{Z}, \quad Z = \sum_{y'} \exp \operatorname{score}(y').$$
#
# $Z$ sums over all $T^L$ tag sequences, but the **forward algorithm** gets it in $O(L T^2)$:
# $\alpha_1 = s + E_1$, $\alpha_t[j] = \log\sum_i \exp(\alpha_{t-1}[i] + A_{ij}) + E_{t,j}$,
# $\log Z = \log\sum_j \exp(\alpha_L[j] + e_j)$. Training minimises $\log Z - \operatorname{score}(y_\text{gold})$,
# and the engine differentiates through the forward algorithm like any other graph. **Viterbi**
# decoding is the same recursion with max in place of log-sum-exp, plus back-pointers to recover
# the best sequence. We put `LinearChainCRF` on the bidirectional one-layer tagger.

# %%
crf_tagger, crf_accuracy, crf_seconds = train(True, 1, crf=True)
results["bidirectional, 1 layer + CRF"] = crf_accuracy
print(f"bidirectional, 1 layer + CRF test accuracy {crf_accuracy:.4f}   ({crf_seconds:.0f} s)")

# %% [markdown]
# Brute force confirms both algorithms on the first three words of a test sentence: with
# $T$ tags there are $T^3$ tag sequences, few enough to score every one of them.

# %%
example = next(sentence for sentence in test if len(sentence) >= 3)
word_ids, suffix_ids, _, lengths = next(batches([example], 1))
with tg.no_grad():
    emissions = crf_tagger.emissions(word_ids[:, :3], suffix_ids[:, :3], np.array([3]))
E = emissions.numpy()[0].astype(np.float64)                                  # (3, T)
A, s, e = (p.numpy().astype(np.float64) for p in
           (crf_tagger.crf.transitions, crf_tagger.crf.start_transitions, crf_tagger.crf.end_transitions))
T = len(tags)
paths = np.array(list(itertools.product(range(T), repeat=3)))               # (T³, 3)
path_scores = (s[paths[:, 0]] + E[0, paths[:, 0]] + E[1, paths[:, 1]] + E[2, paths[:, 2]]
               + A[paths[:, 0], paths[:, 1]] + A[paths[:, 1], paths[:, 2]] + e[paths[:, 2]])
brute_log_Z = np.logaddexp.reduce(path_scores)
brute_best = paths[path_scores.argmax()].tolist()
with tg.no_grad():
    forward_log_Z = crf_tagger.crf.log_partition(emissions).item()
    viterbi_best, viterbi_score = crf_tagger.crf.decode(emissions)
print(f"{len(paths)} tag sequences of '{' '.join(w for w, _ in example[:3])}'")
print(f"log Z: forward algorithm {forward_log_Z:.5f}, brute force {brute_log_Z:.5f}")
print(f"best sequence: Viterbi {[tags[i] for i in viterbi_best[0]]} (score {viterbi_score.numpy()[0]:.4f}), "
      f"brute force {[tags[i] for i in brute_best]} (score {path_scores.max():.4f})")

# %% [markdown]
# The CRF's negative log-likelihood is differentiated by the tape through the forward
# algorithm; in float64, its gradient with respect to the emissions equals central differences:

# %%
tg.manual_seed(3)
small_crf = LinearChainCRF(4, batch_first=True, dtype="float64")
small_emissions = tg.tensor(np.random.default_rng(3).standard_normal((2, 5, 4)), requires_grad=True)
small_tags, small_lengths = np.array([[0, 1, 2, 3, 0], [3, 3, 1, 0, 0]]), np.array([5, 3])
nll = small_crf(small_emissions, small_tags, small_lengths)
analytic = tg.grad(nll, [small_emissions])[0].numpy()
numeric, eps = np.zeros_like(analytic), 1e-6
for index in np.ndindex(*analytic.shape):
    shifted = small_emissions.numpy().copy()
    shifted[index] += eps
    above = small_crf(tg.tensor(shifted), small_tags, small_lengths).item()
    shifted[index] -= 2 * eps
    below = small_crf(tg.tensor(shifted), small_tags, small_lengths).item()
    numeric[index] = (above - below) / (2 * eps)
crf_gradient_error = np.abs(analytic - numeric).max()
print(f"∂NLL/∂emissions vs central differences: largest difference {crf_gradient_error:.1e}; "
      f"padded positions get gradient {np.abs(analytic[1, 3:]).max()}")

# %% [markdown]
# ## The hidden Markov model baseline
#
# The lectures' generative tagger: $p(w, y) = \pi_{y_1} \prod_t A_{y_{t-1} y_t} \prod_t B_{y_t w_t}$
# with every probability counted from the training sentences (add-one smoothing), decoded with
# the same Viterbi recursion. It sees only the word itself, so an unknown word's tag comes from
# the transitions (and how common each tag is) alone.

# %%
start = time.perf_counter()
hmm = HMMTagger().fit(training)
hmm_pairs = [(predicted == tag, word in hmm._word_ids) for sentence in test
             for predicted, (word, tag) in zip(hmm.decode([w for w, _ in sentence]), sentence)]
hmm_accuracy = float(np.mean([right for right, _ in hmm_pairs]))
hmm_unknown = float(np.mean([right for right, known in hmm_pairs if not known]))
results["HMM (add-one)"] = hmm_accuracy
print(f"HMM (add-one): test accuracy {hmm_accuracy:.4f} ({time.perf_counter() - start:.1f} s to count and "
      f"decode); on the {sum(not k for _, k in hmm_pairs)} test words unseen in training {hmm_unknown:.4f}")

# %% [markdown]
# ## Side by side

# %%
print(f"{'tagger':32s} test token accuracy ({sum(map(len, test))} tokens)")
for name, value in results.items():
    print(f"{name:32s} {value:.4f}")

fig, ax = plt.subplots(figsize=(8, 4.2))
names = list(results)
colors = ["C0", "C0", "C1", "C1", "C2", "0.5"]
bars = ax.barh(range(len(names)), [results[n] for n in names], color=colors)
for bar, name in zip(bars, names):
    ax.text(bar.get_width() + 0.003, bar.get_y() + bar.get_height() / 2, f"{results[name]:.3f}", va="center")
ax.set_yticks(range(len(names)))
ax.set_yticklabels(names)
ax.invert_yaxis()
low = min(results.values())
ax.set_xlim(low - 0.05, max(results.values()) + 0.05)
ax.set_xlabel(f"token accuracy on {len(test)} held-out sentences")
ax.set_title(f"Part-of-speech tagging, {len(training)} training sentences, 3 epochs")
fig.tight_layout()
save_and_show(fig, "06_pos_accuracy.png")

# %% [markdown]
# ## Check yourself

# %%
# the reverse direction of a padded sentence starts at its own last word
assert direction_check < 1e-12
# every LSTM tagger learns (far above always answering the most frequent tag)
most_frequent_share = Counter(t for s in test for _, t in s).most_common(1)[0][1] / sum(map(len, test))
assert min(uni_1, uni_2, bi_1, bi_2) > 0.7 and most_frequent_share < 0.2
# reading the words on the right helps: each bidirectional tagger beats the unidirectional one
# with the same number of layers by more than a point
assert bi_1 > uni_1 + 0.01 and bi_2 > uni_2 + 0.01
# the forward algorithm and Viterbi agree with brute force over all T³ tag sequences
assert abs(forward_log_Z - brute_log_Z) < 1e-3 * abs(brute_log_Z)
assert viterbi_best[0] == brute_best
# the CRF's gradient equals central differences in float64, and padding gets none
assert crf_gradient_error < 1e-7 and np.abs(analytic[1, 3:]).max() == 0
# the CRF tagger learns too, and the best neural tagger beats the counted HMM
assert crf_accuracy > 0.7
assert max(uni_1, uni_2, bi_1, bi_2, crf_accuracy) > hmm_accuracy
print("all checks passed")
