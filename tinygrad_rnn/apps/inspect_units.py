"""What the units of a trained character model do: gates and cell states over the characters of
a text, and units whose activation tracks quotes, brackets or the position in a line
(Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks").

``activations`` recomputes one layer of a ``CharLM`` step by
step from its weights, in NumPy, keeping every gate (the fused layer keeps none); the tests hold
its h equal to the layer's own output. ``best_unit`` ranks units by the correlation of their
activation with a property of the text, and ``draw_text`` and ``draw_gates`` colour the
characters by a unit's value.
"""
import numpy as np

from ..tensor import Tensor
from .plotting import save_and_show

FEATURES = ("quote", "bracket", "line")


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def activations(model, vocab, text, layer=-1):
    """{name: (len(text), H)} for one layer of ``model`` reading ``text``: "h" always; the LSTM
    adds "i", "f", "g", "o", "c"; the GRU "r", "z", "n" (gate orders as PyTorch's)."""
    rnn = model.rnn
    layer = range(rnn.num_layers)[layer]
    ids = vocab.encode(text)
    x = model.embedding(Tensor(ids[:, None])).numpy()[:, 0].astype(np.float64)
    for below in range(layer + 1):
        weights = [getattr(rnn, f"{name}_l{below}").numpy().astype(np.float64)
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        found = _run_layer(rnn.mode, x, *weights)
        x = found["h"]
    return found


def _run_layer(mode, x, w_ih, w_hh, b_ih, b_hh):
    steps, hidden = len(x), w_hh.shape[1]
    h, c = np.zeros(hidden), np.zeros(hidden)
    names = {"lstm": "ifgoch", "gru": "rznh", "gru_reset_before": "rznh"}.get(mode, "h")
    out = {name: np.zeros((steps, hidden)) for name in names}
    for t in range(steps):
        xw, hw = w_ih @ x[t] + b_ih, w_hh @ h + b_hh
        if mode == "lstm":
            i, f, o = (_sigmoid(xw[k * hidden:(k + 1) * hidden] + hw[k * hidden:(k + 1) * hidden])
                       for k in (0, 1, 3))
            g = np.tanh(xw[2 * hidden:3 * hidden] + hw[2 * hidden:3 * hidden])
            c = f * c + i * g
            h = o * np.tanh(c)
            values = {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}
        elif mode in ("gru", "gru_reset_before"):
            r, z = (_sigmoid(xw[k * hidden:(k + 1) * hidden] + hw[k * hidden:(k + 1) * hidden]) for k in (0, 1))
            if mode == "gru":   # PyTorch's form: r applied to W_hn h + b_hn
                n = np.tanh(xw[2 * hidden:] + r * hw[2 * hidden:])
            else:               # the lectures' form: r applied to h before the product
                n = np.tanh(xw[2 * hidden:] + w_hh[2 * hidden:] @ (r * h) + b_hh[2 * hidden:])
            h = (1 - z) * n + z * h
            values = {"r": r, "z": z, "n": n, "h": h}
        elif mode in ("rnn_tanh", "rnn_relu"):
            h = (np.maximum if mode == "rnn_relu" else lambda a, _: np.tanh(a))(xw + hw, 0)
            values = {"h": h}
        else:
            raise ValueError(f"inspect: no step for layers of mode {mode!r}")
        for name, value in values.items():
            out[name][t] = value
    return out


def text_feature(text, feature):
    """A value per character: "quote" 1 inside double quotes (the quote characters included),
    "bracket" the nesting depth of (, [ and {, "line" the position within the line."""
    values, inside, depth, column = [], False, 0, 0
    for char in text:
        if feature == "quote":
            if char == '"':
                inside = not inside
                values.append(1.0)
                continue
            values.append(float(inside))
        elif feature == "bracket":
            depth += char in "([{"
            values.append(float(depth))
            depth = max(depth - (char in ")]}"), 0)
        elif feature == "line":
            values.append(float(column))
            column = 0 if char == "\n" else column + 1
        else:
            raise ValueError(f"inspect: feature must be one of {FEATURES}, got {feature!r}")
    return np.array(values)


def best_unit(found, feature_values):
    """(name, unit, r): the state ("h" or "c") and unit whose activation correlates best (largest
    |Pearson r|) with ``feature_values`` over the characters."""
    best = ("h", 0, 0.0)
    centred = feature_values - feature_values.mean()
    if not centred.any():
        raise ValueError("inspect: the feature is constant over this text (nothing to correlate with)")
    for name in ("h", "c"):
        if name not in found:
            continue
        units = found[name] - found[name].mean(axis=0)
        scale = np.sqrt((units ** 2).sum(axis=0) * (centred ** 2).sum())
        r = np.divide(centred @ units, scale, out=np.zeros(units.shape[1]), where=scale > 0)
        unit = int(np.argmax(np.abs(r)))
        if abs(r[unit]) > abs(best[2]):
            best = (name, unit, float(r[unit]))
    return best


def draw_text(text, values, path, title, plt, width=64):
    """The characters of ``text`` on a grid ``width`` wide, each on a colour for its value
    (blue negative, red positive, as in Karpathy et al.)."""
    row, column, positions = 0, 0, []
    for char in text:
        if char == "\n" or column == width:
            row, column = row + 1, 0
            if char == "\n":
                continue
        positions.append((row, column, char))
        column += 1
    rows = row + 1
    figure, axes = plt.subplots(figsize=(width * 0.16 + 0.4, rows * 0.3 + 0.7))
    scale = max(np.abs(values).max(), 1e-12)
    colours = plt.get_cmap("RdBu_r")
    shown = [v for char, v in zip(text, values) if char != "\n"]
    for (r, c, char), value in zip(positions, shown):
        axes.add_patch(plt.Rectangle((c, -r - 1), 1, 1, color=colours(0.5 + 0.5 * value / scale)))
        axes.text(c + 0.5, -r - 0.5, char, ha="center", va="center", fontsize=8, family="monospace")
    axes.set(xlim=(0, width), ylim=(-rows, 0), title=title)
    axes.axis("off")
    figure.tight_layout()
    save_and_show(figure, path, dpi=110)
    return path


def draw_gates(text, found, units, path, plt):
    """A heatmap per unit of its gates and states (rows) over the characters of ``text`` (columns,
    labelled with the characters)."""
    names = [n for n in ("i", "f", "o", "g", "c", "r", "z", "n", "h") if n in found]
    figure, axes = plt.subplots(len(units), 1, figsize=(max(6, 0.17 * len(text) + 1.5), 0.32 * len(names) * len(units) + 1),
                                squeeze=False)
    labels = [repr(ch)[1:-1] for ch in text]
    for ax, unit in zip(axes[:, 0], units):
        grid = np.array([found[n][:, unit] for n in names])
        ax.imshow(grid, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xticks(range(len(text)), labels, fontsize=7, family="monospace")
        ax.set_title(f"unit {unit}", fontsize=9, loc="left")
    figure.tight_layout()
    save_and_show(figure, path, dpi=110)
    return path
