"""Gradient flow through time: ‖∂L/∂h_t‖ for every step t of a loss L on the last step.

By the chain rule ∂L/∂h_t = (∂h_{t+1}/∂h_t)ᵀ ∂L/∂h_{t+1}, so the gradient that reaches step
t is a product of T - t Jacobians. For a tanh RNN each is diag(1 - h²_{t+1}) W_hh, of norm
typically below one, so the product shrinks geometrically: the vanishing gradient (Bengio et
al. 1994; Hochreiter 1991). An LSTM also carries gradient along its cell, c_t = f_t ⊙ c_{t-1}
+ ..., where each step multiplies by the forget gate f_t; a forget-gate bias of 1 keeps
f_t ≈ σ(1) ≈ 0.73 and much more gradient survives (Gers et al. 2000; Jozefowicz et al. 2015).

The nets here are unrolled from cells (the reference path), so every h_t (and the LSTM's c_t)
is a tensor on the tape and ``tinygrad_rnn.grad(L, [h_1, ..., h_T])`` returns all the ∂L/∂h_t in
one backward. The task: read T characters of real text (one-hot) and predict the next one from
h_T. Scaling W_hh up (``recurrent_scale``) pushes its spectral radius past one, where the same
product of Jacobians explodes instead (Pascanu et al. 2013); ``clipping_study`` trains that
regime with and without gradient-norm clipping.
"""
import math

import numpy as np

from .. import functional as F, nn, optim
from ..autograd import grad
from ..backend import manual_seed
from ..datasets import Vocab, pydoc_text
from ..tensor import Tensor
from .plotting import pyplot_or_none, save_and_show

CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class LastStepNet(nn.Module):
    """A recurrent cell unrolled over one-hot characters and a linear readout of h_T."""

    def __init__(self, cell, vocab_size, hidden_size, forget_bias=None, dtype=np.float64,
                 recurrent_scale=1.0):
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
        self.cell.weight_hh.data *= recurrent_scale

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


def state_gradient_norms(net, ids, targets):
    """(h norms (T,), c norms (T,) or None, loss): ‖∂L/∂h_t‖ and, for the LSTM, ‖∂L/∂c_t‖
    (Frobenius over the batch) for t = 1..T. ∂L/∂c_t is BPTT's gradient of the cell state, through
    h_t = o ⊙ tanh(c_t) and along c_(t+1) = f ⊙ c_t + i ⊙ g, the path that carries the LSTM's
    gradient."""
    states = net.states(ids)
    hiddens = [net.hidden(s) for s in states]
    cells = [s[1] for s in states] if isinstance(states[0], tuple) else []
    loss = net.loss(states[-1], targets)
    grads = grad(loss, hiddens + cells, allow_unused=True)
    norms = np.array([0.0 if g is None else float(np.sqrt((g.numpy() ** 2).sum())) for g in grads])
    steps = len(hiddens)
    return norms[:steps], (norms[steps:] if cells else None), loss.item()


def hidden_gradient_norms(net, ids, targets):
    """(norms (T,), loss): ‖∂L/∂h_t‖ (Frobenius over the batch) for t = 1..T."""
    h_norms, _, loss = state_gradient_norms(net, ids, targets)
    return h_norms, loss


def carry_factor(net, ids):
    """(mean, best): the factor by which a gated cell carries its state one step, the LSTM's
    forget gate f (c_t = f ⊙ c_(t-1) + ...) or the GRU's z (h_t = z ⊙ h_(t-1) + (1 - z) ⊙ n,
    PyTorch's z), averaged over steps, rows and units, and the per-step factor of the unit that
    carries best (its geometric mean over steps and rows); None for the plain RNN. Along one
    unit's carried path the gradient over k steps is the product of its k factors, so the best
    unit's factor to the k-th power bounds how much of it survives."""
    if net.kind == "rnn":
        return None
    cell, hidden = net.cell, net.cell.weight_hh.shape[1]
    weights = [p.numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    eye = np.eye(net.vocab_size)
    previous = np.zeros((ids.shape[1], hidden))
    factors = []
    for t, state in enumerate(net.states(ids)):
        pre = eye[ids[t]] @ weights[0].T + weights[2] + previous @ weights[1].T + weights[3]
        gate = pre[:, hidden:2 * hidden]   # f (LSTM i, f, g, o) and z (GRU r, z, n) are second
        factors.append(1 / (1 + np.exp(-gate)))
        previous = net.hidden(state).numpy()
    factors = np.array(factors)
    return float(factors.mean()), float(np.exp(np.log(factors).mean(axis=(0, 1))).max())


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
            batch_size=16, lr=3e-3, seed=0, text=None, log=print, recurrent_scale=1.0):
    """{cell: {"init": norms, "trained": norms or None, "init_c"/"trained_c": the LSTM's cell
    norms, "carry": mean carry factor after training, "train_steps": n}} with norms (T,) as in
    ``state_gradient_norms``, all measured on the same held-fixed batch of windows."""
    windows = TextWindows(pydoc_text() if text is None else text, seq_len, seed)
    probe_ids, probe_targets = windows.batch(batch_size)
    results = {}
    for kind in cells:
        manual_seed(seed)
        net = LastStepNet(kind, len(windows.vocab), hidden, forget_bias, recurrent_scale=recurrent_scale)
        init, init_c, _ = state_gradient_norms(net, probe_ids, probe_targets)
        trained = trained_c = None
        if train_steps:
            optimizer = optim.Adam(net.parameters(), lr=lr)
            for _ in range(train_steps):
                ids, targets = windows.batch(batch_size)
                optimizer.zero_grad()
                net.loss(net.states(ids)[-1], targets).backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
            trained, trained_c, _ = state_gradient_norms(net, probe_ids, probe_targets)
        results[kind] = {"init": init, "trained": trained, "init_c": init_c, "trained_c": trained_c,
                         "carry": carry_factor(net, probe_ids), "train_steps": train_steps}
    log(format_table(results))
    for line in explanations(results):
        log(line)
    return results


def explanations(results):
    """One line per gated cell: why its gradient decays as measured (its mean carry factor)."""
    lines = []
    for kind, entry in results.items():
        carry, norms = entry.get("carry"), entry["trained"] if entry["trained"] is not None else entry["init"]
        if carry is None:
            continue
        (mean, best), steps = carry, len(norms) - 1
        cells = entry["trained_c"] if entry["trained"] is not None else entry["init_c"]
        gate = "forget gate f" if kind == "lstm" else "z (the share of h_(t-1) a unit keeps)"
        lines.append(f"{kind}: each step multiplies the carried gradient by its {gate}: "
                     f"{mean:.2f} on average ({mean:.2f}^{steps} = {mean ** steps:.1e}), "
                     f"{best:.3f} for the unit that carries best ({best:.3f}^{steps} = {best ** steps:.1e}); "
                     f"measured ‖∂L/∂h_1‖/‖∂L/∂h_T‖ = {norms[0] / norms[-1]:.1e}"
                     + (f", ‖∂L/∂c_1‖/‖∂L/∂c_T‖ = {cells[0] / cells[-1]:.1e}" if cells is not None else ""))
    return lines


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
    figure, axes = plt.subplots(figsize=(7.5, 4.8))
    for index, (kind, entry) in enumerate(results.items()):
        stages = (("init", "-", "h", "at initialisation"),
                  ("trained", "--", "h", f"after {entry.get('train_steps')} training steps"),
                  ("init_c", ":", "c", "at initialisation"),
                  ("trained_c", "-.", "c", f"after {entry.get('train_steps')} training steps"))
        for stage, style, state, when in stages:
            norms = entry.get(stage)
            if norms is None:
                continue
            relative = np.maximum(norms[::-1] / norms[-1], np.finfo(np.float64).tiny)
            axes.semilogy(np.arange(len(norms)), relative, style, color=f"C{index}",
                          label=f"{kind} ‖∂L/∂{state}_t‖ {when}")
    title = "gradients back through time: loss on the last step"
    if "lstm" in results and forget_bias is not None:
        title += f" (LSTM forget bias {forget_bias:g})"
    axes.set(xlabel="steps back from the last, T - t", ylabel="norm relative to the last step", title=title)
    axes.legend(fontsize=7)
    figure.tight_layout()
    save_and_show(figure, path, dpi=100)
    return str(path)


def steps_back_ratio(results, steps_back, numerator="lstm", denominator="rnn", stage="init"):
    """How many times more relative gradient ``numerator`` keeps than ``denominator`` k steps back."""
    def relative(kind):
        norms = results[kind][stage]
        return norms[-1 - steps_back] / norms[-1]
    return relative(numerator) / relative(denominator) if relative(denominator) > 0 else math.inf


def clipping_study(cell="rnn", seq_len=30, hidden=64, recurrent_scale=2.0, clip=1.0, steps=60,
                   batch_size=16, lr=0.5, seed=0, text=None):
    """Train the same net (identical start and batches) by plain SGD without and with
    gradient-norm clipping at ``clip``, in the exploding regime that ``recurrent_scale`` sets up.
    (SGD, because Adam divides every step by the gradient's running size and hides the effect.)

    Returns {"none" | "clipped": {"loss": (steps,), "grad_norm": (steps,)}}, the gradient norm
    taken before any clipping."""
    windows = TextWindows(pydoc_text() if text is None else text, seq_len, seed)
    batches = [windows.batch(batch_size) for _ in range(steps)]
    runs = {}
    for name, max_norm in (("none", None), ("clipped", clip)):
        manual_seed(seed)
        net = LastStepNet(cell, len(windows.vocab), hidden, recurrent_scale=recurrent_scale)
        optimizer = optim.SGD(net.parameters(), lr=lr)
        losses, norms = [], []
        for ids, targets in batches:
            optimizer.zero_grad()
            loss = net.loss(net.states(ids)[-1], targets)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(net.parameters(), max_norm if max_norm else math.inf)
            losses.append(loss.item())
            norms.append(float(norm))
            optimizer.step()
        runs[name] = {"loss": np.array(losses), "grad_norm": np.array(norms)}
    return runs


def plot_clipping(runs, path, clip, log=print):
    """Learning curves and gradient norms of ``clipping_study``; returns the path or None."""
    plt = pyplot_or_none(log, "gradflow: matplotlib is not installed, so no plot")
    if plt is None:
        return None
    figure, (losses, norms) = plt.subplots(1, 2, figsize=(10, 4))
    for name, run in runs.items():
        label = "no clipping" if name == "none" else f"clipped at norm {clip:g}"
        losses.plot(run["loss"], label=label)
        norms.semilogy(run["grad_norm"], label=label)
    norms.axhline(clip, color="gray", ls=":", lw=1)
    losses.set(xlabel="step", ylabel="training loss (nats)", title="learning curves")
    norms.set(xlabel="step", ylabel="‖∇L‖ before clipping", title="gradient norm")
    losses.legend()
    figure.tight_layout()
    save_and_show(figure, path, dpi=100)
    return str(path)
