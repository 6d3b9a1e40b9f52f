"""Gradient flow through time: ‖∂L/∂h_t‖ for every step t of a loss L on the last step.

By the chain rule ∂L/∂h_t = (∂h_{t+1}/∂h_t)ᵀ ∂L/∂h_{t+1}, so the gradient that reaches step
t is a product of T - t Jacobians. For a tanh RNN each is diag(1 - h²_{t+1}) W_hh, of norm
typically below one, so the product shrinks geometrically: the vanishing gradient (Bengio et
al. 1994; Hochreiter 1991). An LSTM also carries gradient along its cell, c_t = f_t ⊙ c_{t-1}
+ ..., where each step multiplies by the forget gate f_t; a forget-gate bias of 1 keeps
f_t ≈ σ(1) ≈ 0.73 and much more gradient survives (Gers et al. 2000; Jozefowicz et al. 2015).

The nets here are unrolled from cells (the reference path), so every h_t is a tensor on the
tape and ``tinygrad_rnn.grad(L, [h_1, ..., h_T])`` returns all the ∂L/∂h_t in one backward.
The task: read T characters of real text (one-hot) and predict the next one from h_T.
"""
import math

import numpy as np

from .. import functional as F, nn, optim
from ..autograd import grad
from ..backend import manual_seed
from ..datasets import Vocab, pydoc_text
from ..tensor import Tensor
from .plotting import pyplot_or_none

CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class LastStepNet(nn.Module):
    """A recurrent cell unrolled over one-hot characters and a linear readout of h_T."""

    def __init__(self, cell, vocab_size, hidden_size, forget_bias=None, dtype=np.float64):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"gradflow: cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.kind, self.vocab_size = cell, vocab_size
        self.cell = CELLS[cell](vocab_size, hidden_size, dtype=dtype)
        self.readout = nn.Linear(hidden_size, vocab_size, dtype=dtype)
        if cell == "lstm" and forget_bias is not None:
            forget = slice(hidden_size, 2 * hidden_size)  # gate order i, f, g, o
            self.cell.bias_ih.data[forget] = forget_bias
            self.cell.bias_hh.data[forget] = 0.0

    def states(self, ids, state=None):
        """The state after each step (h, or (h, c) for the LSTM) for ids (T, N)."""
        eye = np.eye(self.vocab_size, dtype=self.readout.weight.dtype)
        out = []
        for t in range(ids.shape[0]):
            state = self.cell(Tensor(eye[ids[t]]), state)
            out.append(state)
        return out

    @staticmethod
    def hidden(state):
        return state[0] if isinstance(state, tuple) else state

    def loss(self, state, targets):
        """Cross-entropy of the next character predicted from the last hidden state."""
        return F.cross_entropy(self.readout(self.hidden(state)), Tensor(targets))


def hidden_gradient_norms(net, ids, targets):
    """(norms (T,), loss): ‖∂L/∂h_t‖ (Frobenius over the batch) for t = 1..T."""
    states = net.states(ids)
    hiddens = [net.hidden(s) for s in states]
    loss = net.loss(states[-1], targets)
    grads = grad(loss, hiddens, allow_unused=True)
    norms = [0.0 if g is None else float(np.sqrt((g.numpy() ** 2).sum())) for g in grads]
    return np.array(norms), loss.item()


class TextWindows:
    """Random windows of T characters of text (one per batch row) and the character after each."""

    def __init__(self, text, seq_len, seed=0):
        self.vocab = Vocab(sorted(set(text)), specials=())
        self.ids, self.seq_len = self.vocab.encode(text), seq_len
        self.rng = np.random.default_rng(seed)

    def batch(self, size):
        starts = self.rng.integers(0, len(self.ids) - self.seq_len - 1, size)
        windows = np.stack([self.ids[s:s + self.seq_len + 1] for s in starts], axis=1)
        return windows[:-1], windows[-1]


def measure(cells=("rnn", "lstm", "gru"), seq_len=100, hidden=128, forget_bias=1.0, train_steps=30,
            batch_size=16, lr=3e-3, seed=0, text=None, log=print):
    """{cell: {"init": norms, "trained": norms or None, "train_steps": n}} with norms (T,) as in
    :func:`hidden_gradient_norms`, all measured on the same held-fixed batch of windows."""
    windows = TextWindows(pydoc_text() if text is None else text, seq_len, seed)
    probe_ids, probe_targets = windows.batch(batch_size)
    results = {}
    for kind in cells:
        manual_seed(seed)
        net = LastStepNet(kind, len(windows.vocab), hidden, forget_bias)
        init, _ = hidden_gradient_norms(net, probe_ids, probe_targets)
        trained = None
        if train_steps:
            optimizer = optim.Adam(net.parameters(), lr=lr)
            for _ in range(train_steps):
                ids, targets = windows.batch(batch_size)
                optimizer.zero_grad()
                net.loss(net.states(ids)[-1], targets).backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
            trained, _ = hidden_gradient_norms(net, probe_ids, probe_targets)
        results[kind] = {"init": init, "trained": trained, "train_steps": train_steps}
    log(format_table(results))
    return results


def format_table(results):
    """‖∂L/∂h_t‖ / ‖∂L/∂h_T‖ at a few distances back from the last step."""
    seq_len = len(next(iter(results.values()))["init"])
    backs = [k for k in (0, 1, 5, 10, 25, 50, 75, 99) if k < seq_len]
    lines = ["gradient norm relative to the last step, ‖∂L/∂h_(T-k)‖ / ‖∂L/∂h_T‖:",
             f"{'cell':14s}" + "".join(f"{'k=' + str(k):>10s}" for k in backs)]
    for kind, entry in results.items():
        for stage in ("init", "trained"):
            norms = entry[stage]
            if norms is not None:
                relative = norms / norms[-1]
                lines.append(f"{kind + ' ' + stage:14s}" + "".join(f"{relative[-1 - k]:10.2e}" for k in backs))
    return "\n".join(lines)


def plot(results, path, forget_bias, log=print):
    """Log-scale plot of the relative norms against steps back; returns the path or None."""
    plt = pyplot_or_none(log, "gradflow: matplotlib is not installed, so no plot")
    if plt is None:
        return None
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, (kind, entry) in enumerate(results.items()):
        stages = (("init", "-", "at initialisation"),
                  ("trained", "--", f"after {entry.get('train_steps')} training steps"))
        for stage, style, when in stages:
            norms = entry[stage]
            if norms is None:
                continue
            relative = np.maximum(norms[::-1] / norms[-1], np.finfo(np.float64).tiny)
            axes.semilogy(np.arange(len(norms)), relative, style, color=f"C{index}", label=f"{kind} {when}")
    title = "vanishing gradients: loss on the last step"
    if "lstm" in results and forget_bias is not None:
        title += f" (LSTM forget bias {forget_bias:g})"
    axes.set(xlabel="steps back from the last, T - t", ylabel="‖∂L/∂h_t‖ / ‖∂L/∂h_T‖", title=title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)


def steps_back_ratio(results, steps_back, numerator="lstm", denominator="rnn", stage="init"):
    """How many times more relative gradient ``numerator`` keeps than ``denominator`` k steps back."""
    def relative(kind):
        norms = results[kind][stage]
        return norms[-1 - steps_back] / norms[-1]
    return relative(numerator) / relative(denominator) if relative(denominator) > 0 else math.inf
