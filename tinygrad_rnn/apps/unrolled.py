"""The unrolled graph at the level of the lecture: one box per cell and time step.

A recurrent net unrolled over T steps is the same cell applied T times: step t reads x_t and
the state h_{t-1} (and c_{t-1} for the LSTM) and writes h_t, with the same weights at every
step. ``unroll`` runs such a net (stacked layers, optionally bidirectional) on the tape and
reads the structure back from the recorded graph: for each (layer, direction, step) the ops it
recorded and the parameters they used, so that the picture drawn by ``draw`` (time steps as
columns, layers as rows, every shared weight once with an edge to each step that uses it) is
the engine's own graph grouped by step, not a drawing made up beside it.
"""
from dataclasses import dataclass, field

import numpy as np

from .. import functional as F, nn
from ..tensor import Tensor
from .plotting import save_and_show

CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
GATES = {"rnn": "tanh", "lstm": "i  f  g  o", "gru": "r  z  n"}


@dataclass
class Step:
    """One cell application: its ops on the tape and the parameters they read."""
    layer: int
    direction: int
    t: int
    ops: int
    parameters: set = field(default_factory=set)


@dataclass
class Unrolled:
    cell: str
    seq_len: int
    layers: int
    directions: int
    steps: list          # of Step
    loss_ops: int
    parameters: list     # names, in the order the cells define them


def unroll(cell="rnn", seq_len=3, layers=1, bidirectional=False, hidden=2, vocab=3, seed=0):
    """Run a ``layers``-deep (bidirectional) ``cell`` net over ``seq_len`` one-hot characters with
    a per-step cross-entropy loss, and return its structure read from the recorded graph."""
    if cell not in CELLS:
        raise ValueError(f"graph: cell must be one of {sorted(CELLS)}, got {cell!r}")
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, seq_len + 1)
    directions = 2 if bidirectional else 1
    cells = {(l, d): CELLS[cell](vocab if l == 0 else directions * hidden, hidden, dtype=np.float64)
             for l in range(layers) for d in range(directions)}
    readout = nn.Linear(directions * hidden, vocab, dtype=np.float64)
    names = {id(p): f"{name}{_suffix(l, d)}" for (l, d), c in cells.items()
             for name, p in c.named_parameters()}
    inputs = [Tensor(np.eye(vocab)[ids[t]][None]) for t in range(seq_len)]
    steps = []
    for layer in range(layers):
        outputs = [[None] * directions for _ in range(seq_len)]
        for d in range(directions):
            state, stop = None, set()
            for t in (range(seq_len - 1, -1, -1) if d else range(seq_len)):
                stop |= {id(inputs[t])}
                state = cells[(layer, d)](inputs[t], state)
                h = state[0] if isinstance(state, tuple) else state
                found = _ops_between(state if isinstance(state, tuple) else (state,), stop, names)
                steps.append(Step(layer, d, t, *found))
                stop = {id(s) for s in (state if isinstance(state, tuple) else (state,))}
                outputs[t][d] = h
        inputs = [F.concatenate(pair, axis=-1) if directions == 2 else pair[0] for pair in outputs]
    stop = {id(x) for x in inputs}
    loss = sum(F.cross_entropy(readout(x), Tensor(ids[t + 1:t + 2])) for t, x in enumerate(inputs))
    loss_ops, _ = _ops_between((loss,), stop, {})
    loss.backward()  # the graph differentiates: the picture is of a net that trains
    order = list(dict.fromkeys(names.values()))
    return Unrolled(cell, seq_len, layers, directions, steps, loss_ops, order)


def _suffix(layer, direction):
    return f"_l{layer}" + ("_reverse" if direction else "")


def _ops_between(outputs, stop, names):
    """The number of nodes recorded between ``outputs`` and the tensors whose ids are in
    ``stop`` (or leaves), and the names of the parameters among those leaves."""
    seen, parameters, pending = set(), set(), list(outputs)
    while pending:
        tensor = pending.pop()
        if id(tensor) in stop:
            continue
        node = tensor._node
        if node is None:
            if id(tensor) in names:
                parameters.add(names[id(tensor)])
            continue
        if id(node) not in seen:
            seen.add(id(node))
            pending.extend(node.inputs)
    return len(seen), parameters


def draw(net, path, plt):
    """Draw ``net`` (from ``unroll``) into ``path`` with matplotlib's ``plt``: time steps as
    columns, one row per layer and direction, the loss on top, the weights on the left."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    dx, dy, width, height = 2.0, 1.7, 1.0, 0.78
    shift = 0.32 if net.directions == 2 else 0.0     # forward boxes left, reverse boxes right
    rows = net.layers * net.directions
    top = dy * rows + 0.2
    fig, ax = plt.subplots(figsize=(3.4 + 1.75 * net.seq_len, 2.4 + 1.35 * rows))
    ax.set_xlim(-3.3, dx * (net.seq_len - 1) + 1.0)
    ax.set_ylim(-1.9, top + 0.9)
    ax.axis("off")

    def box(x, y, text, color, w=width, h=height, size=8.5):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04",
                                    fc=color, ec="#333333", lw=1))
        ax.text(x, y, text, ha="center", va="center", fontsize=size)

    def arrow(a, b, color="#333333", style="-|>", lw=1.2, rad=0.0, alpha=1.0, shrink=17):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=11, color=color, lw=lw,
                                     alpha=alpha, connectionstyle=f"arc3,rad={rad}",
                                     shrinkA=shrink, shrinkB=shrink))

    def place(layer, direction, t):
        return dx * t + (shift if direction else -shift), dy * (layer * net.directions + direction)

    name = net.cell.upper()
    for t in range(net.seq_len):
        box(dx * t, -1.25, f"$x_{{{t + 1}}}$", "#e8e8e8", w=0.6, h=0.45, size=10)
    for step in net.steps:
        x, y = place(step.layer, step.direction, step.t)
        state = f"h_{{{step.t + 1}}}" + (f", c_{{{step.t + 1}}}" if net.cell == "lstm" else "")
        arrows = "→" if step.direction == 0 else "←"
        box(x, y, f"{name}{arrows if net.directions == 2 else ''} ${state}$\n{GATES[net.cell]}\n"
                  f"{step.ops} ops", "#cfe3f7")
        sources = [(dx * step.t, -1.25)] if step.layer == 0 else [
            place(step.layer - 1, d, step.t) for d in range(net.directions)]
        for source in sources:
            arrow(source, (x, y), lw=1.0)
        previous = step.t - 1 if step.direction == 0 else step.t + 1
        if 0 <= previous < net.seq_len:
            start = place(step.layer, step.direction, previous)
            arrow((start[0], y - 0.12), (x, y - 0.12), color="#1f5fa8", lw=1.7, shrink=28)
            if net.cell == "lstm":   # the cell state's own path (the gradient highway)
                arrow((start[0], y + 0.2), (x, y + 0.2), color="#c0392b", lw=1.5, shrink=28)
    for layer in range(net.layers):
        for direction in range(net.directions):
            y = dy * (layer * net.directions + direction)
            used = [s for s in net.steps if (s.layer, s.direction) == (layer, direction)]
            shared = sorted(set.intersection(*(s.parameters for s in used)))
            box(-2.35, y, f"used by all {len(used)} steps:\n" + "\n".join(shared), "#fdebd0",
                w=1.75, h=0.3 + 0.17 * len(shared), size=7)
            for s in used:
                arrow((-2.35, y), place(layer, direction, s.t), color="#e67e22", style="-", lw=0.7,
                      rad=-0.18, alpha=0.6, shrink=20)
    loss_x = dx * (net.seq_len - 1) / 2
    box(loss_x, top, f"loss $= \\sum_t$ CE$(V h_t, x_{{t+1}})$   ({net.loss_ops} ops)", "#fff3b0",
        w=max(3.4, dx * net.seq_len * 0.75), h=0.5, size=9.5)
    for step in net.steps:
        if step.layer == net.layers - 1:
            arrow(place(step.layer, step.direction, step.t), (loss_x, top), color="#7f7f7f", lw=0.8,
                  alpha=0.7)
    legend = ["blue: h carried to the next step" + (" (right to left in the reverse rows)"
                                                    if net.directions == 2 else "")]
    if net.cell == "lstm":
        legend.append("red: the cell state c, the LSTM's gradient highway")
    legend.append("orange: each weight is one tensor, used by every step of its row (BPTT sums "
                  "their gradients)")
    ax.text(-3.25, -1.85, "\n".join(legend), fontsize=7.5, color="#444444", va="bottom")
    fig.tight_layout()
    save_and_show(fig, path, dpi=110)
    return path
