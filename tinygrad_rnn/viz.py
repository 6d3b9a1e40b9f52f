"""The graph behind a tensor as Graphviz DOT text, and rendered to SVG/PNG.

``to_dot(loss)`` walks the recorded graph from ``loss`` back to its leaves (iteratively, so
an unrolled RNN of any length works) and draws every tensor once — a weight shared by all
time steps is ONE box with an edge to each step that uses it — and every op as an ellipse::

    W_hh (4, 4) ──> MatMul ──> (2, 4) ──> Tanh ──> ...

Leaves that require grad are filled blue, the output yellow; scalar constants are drawn at
each use, so they do not become hubs. ``render`` needs Graphviz's ``dot`` executable.
"""
import os
import shutil
import subprocess

_INSTALL_GRAPHVIZ = ("render: Graphviz's 'dot' executable was not found on PATH; install Graphviz "
                     "(apt-get install graphviz, brew install graphviz or conda install graphviz), or "
                     "save to_dot(tensor) to a .dot file and render it elsewhere")


def _quote(text):
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def _tensor_label(tensor, name):
    shape = tuple(tensor.shape)
    return f"{name}\n{shape} {tensor.dtype}" if name else f"{shape} {tensor.dtype}"


def to_dot(tensor, names=None, params=None):
    """DOT text of the graph that produced ``tensor``.

    ``names`` maps tensors to labels (``{h0: "h0"}``); ``params`` maps labels to tensors
    (``dict(model.named_parameters())``), so a module's weights show their names.
    """
    labels = {id(t): name for t, name in (names or {}).items()}
    labels.update({id(t): name for name, t in (params or {}).items()})
    ids = {}  # id(tensor or node) -> DOT node name, in order of discovery

    def dot_id(obj, prefix):
        key = id(obj)
        if key not in ids:
            ids[key] = f"{prefix}{len(ids)}"
        return ids[key]

    lines = ["digraph tinygrad_rnn {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    drawn, stack, constants = set(), [tensor], 0
    while stack:
        current = stack.pop()
        if id(current) in drawn:
            continue
        drawn.add(id(current))
        style = ', style=filled, fillcolor="#ffe9a8"' if current is tensor else (
            ', style=filled, fillcolor="#a8d4ff"' if current.requires_grad and current._node is None else "")
        tensor_id = dot_id(current, "t")
        lines.append(f"  {tensor_id} [shape=box, label={_quote(_tensor_label(current, labels.get(id(current))))}{style}];")
        node = current._node
        if node is None:
            continue
        op_id = dot_id(node, "op")
        freed = " (freed)" if node.freed else ""
        lines.append(f"  {op_id} [shape=ellipse, label={_quote(node.name + freed)}];")
        lines.append(f"  {op_id} -> {tensor_id};")
        for parent in node.inputs:
            if parent.ndim == 0 and parent._node is None and not parent.requires_grad and id(parent) not in labels:
                constants += 1
                lines.append(f"  c{constants} [shape=plaintext, label={_quote(f'{parent.item():.4g}')}];")
                lines.append(f"  c{constants} -> {op_id};")
                continue
            lines.append(f"  {dot_id(parent, 't')} -> {op_id};")
            stack.append(parent)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor, path, names=None, params=None):
    """Write the graph of ``tensor`` to ``path``; the format is the suffix (.svg, .png, .pdf)."""
    fmt = os.path.splitext(str(path))[1].lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"render: cannot tell the format from {path!r}; use a .svg, .png or .pdf path")
    executable = shutil.which("dot")
    if executable is None:
        raise RuntimeError(_INSTALL_GRAPHVIZ)
    result = subprocess.run([executable, f"-T{fmt}", "-o", str(path)], input=to_dot(tensor, names, params),
                            text=True, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"render: dot failed with exit status {result.returncode}: {result.stderr.strip()}")
    return path
