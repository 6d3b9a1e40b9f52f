"""Truncated backpropagation through time: a stateful character-level LSTM language model.

The training text (Python's own reference documentation, shipped with CPython as
``pydoc_data.topics``) is cut into B parallel streams, read in chunks of ``k`` characters. The
LSTM state at the end of one chunk is the initial state of the next, after ``.detach()``: the
forward pass sees the whole history, while backward stops at the chunk boundary (so memory and
time per update stay bounded). Without the detach, the second chunk's backward would try to
go through the first chunk's graph, which the first backward has already freed.

    python examples/tbptt_language_model.py [--epochs 6] [--quick]

The held-out text is scored twice with the trained model: carrying the state across chunks (as
trained) and resetting it at every chunk; the gap is what the carried state is worth.

Measured here (200 000 training characters in 32 streams, chunks of 64, embedding 32, H=256,
Adam lr 3e-3, 6 epochs = 588 updates, float32, fused path, OPENBLAS_NUM_THREADS=1 on 2 shared
CPU cores, 96-112 s): held-out 2.22 bits/char carrying the state, 2.32 resetting it at every
chunk, 4.62 for the character frequencies alone.
"""
import argparse
import math
import time

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F, nn, optim


def corpus(train_chars=200_000, valid_chars=20_000):
    """(train ids, valid ids, alphabet): characters seen fewer than 20 times map to one id."""
    from pydoc_data.topics import topics

    text = "\n".join(topics[key] for key in sorted(topics))
    counts = {c: text.count(c) for c in set(text)}
    alphabet = ["\0"] + sorted(c for c, n in counts.items() if n >= 20)  # "\0": every rare character
    index = {c: i for i, c in enumerate(alphabet)}
    ids = np.array([index.get(c, 0) for c in text], dtype=np.int64)
    return ids[:train_chars], ids[train_chars:train_chars + valid_chars], alphabet


def streams(ids, batch):
    """(L, B) array: B contiguous streams side by side (the remainder is dropped)."""
    length = len(ids) // batch
    return ids[:length * batch].reshape(batch, length).T


class CharLM(nn.Module):
    def __init__(self, vocabulary, embedding=32, hidden_size=256):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, embedding)
        self.lstm = nn.LSTM(embedding, hidden_size)
        self.readout = nn.Linear(hidden_size, vocabulary)

    def forward(self, ids, state=None):
        """ids (T, B) -> logits (T, B, V), the final (h, c)."""
        out, state = self.lstm(self.embed(ids), state)
        return self.readout(out), state


def chunk_losses(model, data, chunk, carry_state, train_with=None):
    """Mean cross-entropy (nats per character) over ``data`` read in chunks; trains when given
    an optimizer. The state is carried (detached) across chunks when ``carry_state``."""
    state, total, count = None, 0.0, 0
    for start in range(0, len(data) - 1, chunk):
        inputs, targets = data[start:start + chunk], data[start + 1:start + chunk + 1]
        inputs = inputs[:len(targets)]
        logits, new_state = model(tg.Tensor(inputs), state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.Tensor(targets.reshape(-1)))
        if train_with is not None:
            train_with.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            train_with.step()
        state = tuple(s.detach() for s in new_state) if carry_state else None
        total, count = total + loss.item() * targets.size, count + targets.size
    return total / count


def sample(model, alphabet, prompt, length=200, temperature=0.7, seed=0):
    """Continue ``prompt`` one character at a time, feeding the state back (unbatched input)."""
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(alphabet)}
    ids = [index.get(c, 0) for c in prompt]
    with tg.no_grad():
        logits, state = model(tg.Tensor(np.array(ids)[:, None]))
        for _ in range(length):
            scores = logits.numpy()[-1, 0] / temperature
            probabilities = np.exp(scores - scores.max())
            ids.append(int(rng.choice(len(alphabet), p=probabilities / probabilities.sum())))
            logits, state = model(tg.Tensor(np.array([[ids[-1]]])), state)
    return "".join(alphabet[i] for i in ids)


def train(epochs=6, batch=32, chunk=64, lr=3e-3, seed=0, log=True, train_chars=200_000):
    """Returns a dict of measured numbers (bits per character) and the trained model."""
    tg.manual_seed(seed)
    train_ids, valid_ids, alphabet = corpus(train_chars)
    model = CharLM(len(alphabet))
    optimizer = optim.Adam(model.parameters(), lr=lr)
    train_data, valid_data = streams(train_ids, batch), streams(valid_ids, batch)
    bits = 1 / math.log(2)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        train_loss = chunk_losses(model, train_data, chunk, carry_state=True, train_with=optimizer)
        if log:
            print(f"  epoch {epoch}: train {train_loss * bits:.3f} bits/char", flush=True)
    seconds = time.perf_counter() - start
    model.eval()
    with tg.no_grad():
        carried = chunk_losses(model, valid_data, chunk, carry_state=True) * bits
        reset = chunk_losses(model, valid_data, chunk, carry_state=False) * bits
    frequencies = np.bincount(train_ids, minlength=len(alphabet)) / len(train_ids)
    unigram = -(np.bincount(valid_ids, minlength=len(alphabet)) / len(valid_ids)
                * np.log2(np.maximum(frequencies, 1e-12))).sum()
    updates = epochs * math.ceil((len(train_data) - 1) / chunk)
    return dict(valid_bits_carried=carried, valid_bits_reset=reset, unigram_bits=unigram, seconds=seconds,
                updates=updates, alphabet=alphabet), model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds) that checks the script works")
    args = parser.parse_args()
    results, model = train(1, train_chars=20_000) if args.quick else train(args.epochs)
    print(f"held-out bits/char: {results['valid_bits_carried']:.3f} carrying the state, "
          f"{results['valid_bits_reset']:.3f} resetting it every chunk, "
          f"{results['unigram_bits']:.3f} for character frequencies alone "
          f"({results['updates']} updates, {results['seconds']:.0f} s)")
    print(repr(sample(model, results["alphabet"], "The for statement")))


if __name__ == "__main__":
    main()
