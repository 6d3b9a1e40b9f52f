"""One-to-many: a one-hot category vector produces a whole line of text, in the style of the
King James Bible or of Jane Austen, with a character-level LSTM.

The category y (one-hot, 2) sets the LSTM's initial state, and nothing else does (with
``--every-step`` it is also added to every step's input, x_t = e(c_t) + U y):

    h₀ = tanh(W_h y + b_h),  c₀ = W_c y + b_c,   then  h_t, c_t = LSTM(x_t, h_{t-1}, c_{t-1}),
    p(c_{t+1} | c_{≤t}, y) = softmax(W h_t + b),  x_t = e(c_t),  c_0 = "\\n" (line start)

trained by next-character cross-entropy on the first ``--chars`` characters of lines of the
shipped ``data/w2v-public-domain.txt.gz`` (lower-cased words; the first 31,102 lines are the
Bible's verses, the rest Austen's paragraphs; see ``data/NOTICE``), the same number of lines
from each source, so chance is 0.5 below. The model is ``apps.charlm.CharLM`` plus the maps
of y; samples come from ``charlm.sample`` started from (h₀, c₀) (with U y folded into the
embedding table for ``--every-step``).

Two checks that the category steers the text, on lines and samples never trained on:

* likelihood: each held-out line is assigned the category y that maximises log p(line | y)
  under the model (the fraction assigned its true source is printed);
* samples: for each category, ``--samples`` lines are generated (seeds 0, 1, ... for both
  categories: same seed, different y) and classified by an independent add-one character
  trigram model of each source's training lines (its accuracy on the held-out real lines is
  printed beside, as the reference).

    python examples/conditioned_generation.py [CORPUS] [--steps 1500] [--seed 0] [--every-step]
                                              [--quick]

Measured here (64 characters a line, 6000 training and 500 held-out lines per source, LSTM-128,
embedding 32, batch 32, Adam 3e-3, clipping at 1, 1500 steps, temperature 0.8, 100 samples per
category; 2 shared CPU cores at load average 10-12: 83 s CPU, 9 min wall each). Seed 0:

    held-out 1.980 bits/char given the true category, 2.017 given the other
    bits/char the wrong category costs, by quarter of the line: 0.147, 0.000, -0.000, 0.000
    seed 0   bible: for the lord and of a morettly i shall enemies of the give and r
    seed 0  austen: no assureth unto the cituetting and myself good and the lord ear
    result: likelihood classification of held-out lines 0.839, trigram classification
            of generated lines 0.675 (of held-out real lines 0.958), chance 0.500

Seed 1 (50 samples per category): likelihood 0.827, generated 0.620; seed 0 with 3000 steps:
likelihood 0.856, generated 0.620. The initial state steers only the first quarter of the line
(about 16 characters): after that the wrong category costs nothing, the model predicts from
the text written so far, and samples only lean to their category. With ``--every-step`` the
category keeps steering (same settings):

    seed 0: held-out 1.960 bits/char given the true category, 2.200 given the other
            wrong category costs by quarter: 0.369, 0.214, 0.191, 0.186
            likelihood classification 0.957, generated lines 0.940 (real lines 0.958)
            seed 0   bible: for the lord and said unto you have into the thoom do i do all t
            seed 0  austen: oh arrisennes pass i am shrist has good marianne wish i have bee
    seed 1: 1.938 / 2.201 bits/char, likelihood 0.974, generated 0.950 (real lines 0.954)

so its samples are told apart by the trigram models nearly as well as real lines are.
"""
import argparse
import math
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F, nn, optim
from tinygrad_rnn.apps import charlm
from tinygrad_rnn.datasets import Vocab
from tinygrad_rnn.nn.fused_loss import linear_cross_entropy
from tinygrad_rnn.word2vec import LineCorpus

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "data" / "w2v-public-domain.txt.gz"
CATEGORIES = ("bible", "austen")
START = "\n"


def source_lines(corpus, chars):
    """{category: lines of at least ``chars`` characters, cut to ``chars``}. Austen begins at the
    title line before the first "by jane austen"; everything before it is the Bible."""
    lines = [" ".join(tokens) for tokens in LineCorpus(corpus)]
    split = lines.index("by jane austen") - 1
    parts = dict(zip(CATEGORIES, (lines[:split], lines[split:])))
    return {name: [line[:chars] for line in part if len(line) >= chars] for name, part in parts.items()}


def split_lines(by_source, train, test, rng):
    """(train, test): lists of (line, category index), ``train`` and ``test`` disjoint lines per category."""
    parts = ([], [])
    for label, name in enumerate(CATEGORIES):
        chosen = rng.choice(len(by_source[name]), train + test, replace=False)
        for part, indices in zip(parts, (chosen[:train], chosen[train:])):
            part.extend((by_source[name][i], label) for i in indices)
    return parts


class ConditionedCharLM(charlm.CharLM):
    """A char LSTM whose initial state (h₀, c₀) is a linear map of a category vector y; with
    ``every_step``, U y is also added to each step's character embedding."""

    def __init__(self, vocab_size, categories, hidden=128, embedding=32, every_step=False):
        super().__init__(vocab_size, hidden=hidden, layers=1, cell="lstm", embedding=embedding)
        self.categories = categories
        self.to_h0, self.to_c0 = nn.Linear(categories, hidden), nn.Linear(categories, hidden)
        self.to_input = nn.Linear(categories, embedding, bias=False) if every_step else None

    def one_hot(self, labels):
        return F.one_hot(tg.Tensor(np.asarray(labels)), self.categories, dtype=np.float32)

    def initial_state(self, labels):
        """(h₀, c₀), each (1, N, H), of the one-hot vectors of ``labels`` (N ints)."""
        y = self.one_hot(labels)
        h0, c0 = self.to_h0(y).tanh(), self.to_c0(y)
        return h0.reshape(1, *h0.shape), c0.reshape(1, *c0.shape)

    def hidden_states(self, ids, labels):
        """The LSTM's h_t (L, N, H) for ids (L, N), sequence n conditioned on ``labels[n]``."""
        x = self.embedding(ids)
        if self.to_input is not None:
            x = x + self.to_input(self.one_hot(labels))
        return self.rnn(x, self.initial_state(labels))[0]

    def sampler(self, label):
        """What ``charlm.sample`` reads (embedding table, rnn, head), with U y folded into the table."""
        if self.to_input is None:
            return self
        table = tg.Tensor(self.embedding.weight.data + self.to_input.weight.data[:, label])
        return SimpleNamespace(embedding=SimpleNamespace(weight=table), rnn=self.rnn, head=self.head)


def encode(lines, vocab):
    """(inputs, targets) (chars, N) ids: each line after the start symbol, shifted by one."""
    ids = np.stack([vocab.encode(START + line) for line in lines], axis=1)
    return ids[:-1], ids[1:]


def char_log_likelihoods(model, vocab, lines, label):
    """log p(c_t | c_{<t}, y = label) in nats, (chars, N)."""
    inputs, targets = encode(lines, vocab)
    with tg.no_grad():
        log_p = model.head(model.hidden_states(tg.Tensor(inputs), [label] * len(lines))).log_softmax(-1).numpy()
    return np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]


class TrigramModel:
    """Add-one smoothed character trigram model: log p(line) = Σ log p(c_t | c_{t-2} c_{t-1})."""

    def __init__(self, lines, alphabet):
        self.size, self.pairs, self.triples = len(alphabet), Counter(), Counter()
        for line in lines:
            padded = START * 2 + line
            self.pairs.update(padded[i:i + 2] for i in range(len(line)))
            self.triples.update(padded[i:i + 3] for i in range(len(line)))

    def log_likelihood(self, line):
        padded = START * 2 + line
        return sum(math.log((self.triples[padded[i:i + 3]] + 1) / (self.pairs[padded[i:i + 2]] + self.size))
                   for i in range(len(line)))


def trigram_accuracy(models, lines, labels):
    scores = np.array([[m.log_likelihood(line) for m in models] for line in lines])
    return float(np.mean(scores.argmax(axis=1) == np.asarray(labels)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS,
                        help="the word2vec corpus with the Bible then Austen (default: the shipped one)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--chars", type=int, default=64, help="characters per line (longer lines are cut)")
    parser.add_argument("--train-lines", type=int, default=6000, help="training lines per category")
    parser.add_argument("--test-lines", type=int, default=500, help="held-out lines per category")
    parser.add_argument("--samples", type=int, default=100, help="generated lines per category")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every-step", action="store_true", help="add U y to every step's input too")
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds) that checks the script works")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.chars, args.train_lines, args.test_lines, args.samples, args.hidden = 30, 24, 200, 50, 5, 32
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_set, test_set = split_lines(source_lines(args.corpus, args.chars), args.train_lines, args.test_lines, rng)
    vocab = Vocab(sorted({START, *"".join(line for line, _ in train_set + test_set)}), specials=())
    model = ConditionedCharLM(len(vocab), len(CATEGORIES), hidden=args.hidden, every_step=args.every_step)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = [train_set[i] for i in rng.choice(len(train_set), 32, replace=False)]
        inputs, targets = encode([line for line, _ in batch], vocab)
        out = model.hidden_states(tg.Tensor(inputs), [label for _, label in batch])
        loss = linear_cross_entropy(out.reshape(-1, args.hidden), model.head.weight, model.head.bias,
                                    targets.reshape(-1))   # the next-character cross-entropy, head fused
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % max(1, args.steps // 5) == 0:
            print(f"step {step}: train {loss.item() / math.log(2):.3f} bits/char", flush=True)
    print(f"trained {args.steps} steps of 32 lines x {args.chars} characters in {time.perf_counter() - start:.0f} s")

    lines, labels = [line for line, _ in test_set], np.array([label for _, label in test_set])
    log_p = np.stack([char_log_likelihoods(model, vocab, lines, y) for y in range(len(CATEGORIES))])  # (2, L, N)
    columns = np.arange(len(lines))
    true_bits, other_bits = -log_p[labels, :, columns].T / math.log(2), -log_p[1 - labels, :, columns].T / math.log(2)
    print(f"held-out {true_bits.mean():.3f} bits/char given the true category, {other_bits.mean():.3f} given the other")
    quarters = np.array_split(np.arange(args.chars), 4)
    print("bits/char the wrong category costs, by quarter of the line: "
          + ", ".join(f"{(other_bits[q] - true_bits[q]).mean():.3f}" for q in quarters))
    scores = log_p.sum(axis=1).T   # (N, 2): log p(line | y)

    samples = {name: [charlm.sample(model.sampler(label), vocab, START, args.chars, args.temperature, seed=s,
                                    state=model.initial_state([label]))[1:] for s in range(args.samples)]
               for label, name in enumerate(CATEGORIES)}
    for seed in range(min(3, args.samples)):
        for name in CATEGORIES:
            print(f"seed {seed} {name:>7}: " + samples[name][seed].replace(START, "\\n"))
    alphabet = vocab.itos
    trigrams = [TrigramModel([line for line, label in train_set if label == y], alphabet)
                for y in range(len(CATEGORIES))]
    generated = [line for name in CATEGORIES for line in samples[name]]
    generated_labels = np.repeat(np.arange(len(CATEGORIES)), args.samples)
    print(f"result: likelihood classification of held-out lines {np.mean(scores.argmax(axis=1) == labels):.3f}, "
          f"trigram classification of generated lines {trigram_accuracy(trigrams, generated, generated_labels):.3f} "
          f"(of held-out real lines {trigram_accuracy(trigrams, lines, labels):.3f}), chance 0.500")


if __name__ == "__main__":
    main()
