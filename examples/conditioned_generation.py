"""One-to-many: a one-hot category vector produces a whole line of text, in the style of the
King James Bible or of Jane Austen, with a character-level LSTM.

The category y (one-hot, 2) sets the LSTM's initial state, and nothing else does:

    h₀ = tanh(W_h y + b_h),  c₀ = W_c y + b_c,   then  h_t, c_t = LSTM(e(x_t), h_{t-1}, c_{t-1}),
    p(x_{t+1} | x_{≤t}, y) = softmax(W h_t + b),  x_0 = "\\n" (line start)

trained by next-character cross-entropy on the first ``--chars`` characters of lines of the
shipped ``data/w2v-public-domain.txt.gz`` (lower-cased words; the first 31,102 lines are the
Bible's verses, the rest Austen's paragraphs; see ``data/NOTICE``), the same number of lines
from each source, so chance is 0.5 below. The model is ``apps.charlm.CharLM`` plus the map
y → (h₀, c₀); samples come from ``charlm.sample`` started from that state.

Two checks that the category steers the text, on lines and samples never trained on:

* likelihood: each held-out line is assigned the category y that maximises log p(line | y)
  under the model (the fraction assigned its true source is printed);
* samples: for each category, ``--samples`` lines are generated (seeds 0, 1, ... for both
  categories: same seed, different y) and classified by an independent add-one character
  trigram model of each source's training lines (its accuracy on the held-out real lines is
  printed beside, as the reference).

    python examples/conditioned_generation.py [CORPUS] [--steps 1500] [--seed 0] [--quick]
"""
import argparse
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F, nn, optim
from tinygrad_rnn.apps import charlm
from tinygrad_rnn.datasets import Vocab
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
    """A char LSTM whose initial state (h₀, c₀) is a linear map of a category vector."""

    def __init__(self, vocab_size, categories, hidden=128, embedding=32):
        super().__init__(vocab_size, hidden=hidden, layers=1, cell="lstm", embedding=embedding)
        self.categories = categories
        self.to_h0, self.to_c0 = nn.Linear(categories, hidden), nn.Linear(categories, hidden)

    def initial_state(self, labels):
        """(h₀, c₀), each (1, N, H), of the one-hot vectors of ``labels`` (N ints)."""
        y = F.one_hot(tg.Tensor(np.asarray(labels)), self.categories, dtype=np.float32)
        h0, c0 = self.to_h0(y).tanh(), self.to_c0(y)
        return h0.reshape(1, *h0.shape), c0.reshape(1, *c0.shape)


def encode(lines, vocab):
    """(inputs, targets) (chars, N) ids: each line after the start symbol, shifted by one."""
    ids = np.stack([vocab.encode(START + line) for line in lines], axis=1)
    return ids[:-1], ids[1:]


def line_log_likelihoods(model, vocab, lines, label):
    """log p(line | y = label) in nats for each line (N,)."""
    inputs, targets = encode(lines, vocab)
    with tg.no_grad():
        logits, _ = model(tg.Tensor(inputs), model.initial_state([label] * len(lines)))
        log_p = logits.log_softmax(-1).numpy()
    return np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0].sum(axis=0)


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
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds) that checks the script works")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.chars, args.train_lines, args.test_lines, args.samples, args.hidden = 30, 24, 200, 50, 5, 32
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_set, test_set = split_lines(source_lines(args.corpus, args.chars), args.train_lines, args.test_lines, rng)
    vocab = Vocab(sorted({START, *"".join(line for line, _ in train_set + test_set)}), specials=())
    model = ConditionedCharLM(len(vocab), len(CATEGORIES), hidden=args.hidden)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = [train_set[i] for i in rng.choice(len(train_set), 32, replace=False)]
        inputs, targets = encode([line for line, _ in batch], vocab)
        loss, _ = model.loss(tg.Tensor(inputs), targets, model.initial_state([label for _, label in batch]))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % max(1, args.steps // 5) == 0:
            print(f"step {step}: train {loss.item() / math.log(2):.3f} bits/char", flush=True)
    print(f"trained {args.steps} steps of 32 lines x {args.chars} characters in {time.perf_counter() - start:.0f} s")

    lines, labels = [line for line, _ in test_set], np.array([label for _, label in test_set])
    scores = np.stack([line_log_likelihoods(model, vocab, lines, y) for y in range(len(CATEGORIES))], axis=1)
    true_bits = -scores[np.arange(len(lines)), labels].sum() / (len(lines) * args.chars * math.log(2))
    other_bits = -scores[np.arange(len(lines)), 1 - labels].sum() / (len(lines) * args.chars * math.log(2))
    print(f"held-out {true_bits:.3f} bits/char given the true category, {other_bits:.3f} given the other")

    samples = {name: [charlm.sample(model, vocab, START, args.chars, args.temperature, seed=s,
                                    state=model.initial_state([label]))[1:] for s in range(args.samples)]
               for label, name in enumerate(CATEGORIES)}
    for seed in range(min(3, args.samples)):
        for name in CATEGORIES:
            print(f"seed {seed} {name:>7}: {samples[name][seed]}")
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
