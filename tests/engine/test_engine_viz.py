"""Graph visualization: DOT text of the recorded graph, and rendering through Graphviz."""
import re
import stat

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.viz import render, to_dot


def node_line(dot, label_start):
    """The DOT id of the node whose label starts with ``label_start``."""
    matches = re.findall(rf'(\w+) \[shape=box, label="{re.escape(label_start)}[^"]*"([^\]]*)\]', dot)
    assert len(matches) == 1, f"{len(matches)} nodes labelled {label_start!r} in\n{dot}"
    return matches[0]


class TinyRNN(Module):
    def __init__(self):
        super().__init__()
        self.W_hh = Parameter(np.eye(3, dtype=np.float32) * 0.5)
        self.W_xh = Parameter(np.ones((2, 3), dtype=np.float32))

    def forward(self, xs):
        h = tg.zeros(1, 3)
        for x in xs:
            h = (x @ self.W_xh + h @ self.W_hh).tanh()
        return h.sum()


def test_shared_rnn_weight_is_one_node_used_at_every_step():
    model, steps = TinyRNN(), 4
    loss = model([tg.ones(1, 2)] * steps)
    dot = to_dot(loss, params=dict(model.named_parameters()))
    w_hh, style = node_line(dot, "W_hh")
    assert "fillcolor" in style  # a leaf that requires grad is highlighted
    assert len(re.findall(rf"^  {w_hh} -> op\d+;$", dot, flags=re.M)) == steps
    assert dot.count("label=\"MatMul\"") == 2 * steps and dot.count("label=\"Tanh\"") == steps
    assert "(1, 3) float32" in dot and dot.startswith("digraph") and dot.rstrip().endswith("}")


def test_names_argument_and_output_highlight():
    x = tg.ones(2, 2, requires_grad=True)
    y = (x * x).sum()
    dot = to_dot(y, names={x: 'input "x"'})
    x_id, _ = node_line(dot, 'input \\"x\\"')
    assert len(re.findall(rf"^  {x_id} -> op\d+;$", dot, flags=re.M)) == 2  # x * x: two edges
    assert re.search(r'label="\(\) float32", style=filled', dot)  # the output


def test_deep_graph_is_walked_without_recursion():
    x = tg.ones(1, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0
    assert to_dot(y).count('label="Mul"') == 20_000


def test_render_without_graphviz_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError, match="Graphviz.*install"):
        render(tg.ones(1, requires_grad=True) * 2, "graph.svg")


def test_render_calls_dot_with_the_format_of_the_suffix(tmp_path, monkeypatch):
    fake_dot = tmp_path / "dot"  # stands in for Graphviz: records its arguments and input
    fake_dot.write_text('#!/bin/sh\necho "$@" > "$0.args"\ncat > "$3"\n')
    fake_dot.chmod(fake_dot.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")  # the fake dot comes first
    target = tmp_path / "graph.png"
    render((tg.ones(1, requires_grad=True) * 2).sum(), target)
    assert (tmp_path / "dot.args").read_text().split()[0] == "-Tpng"
    assert target.read_text().startswith("digraph")
    with pytest.raises(ValueError, match="svg"):
        render(tg.ones(1, requires_grad=True) * 2, tmp_path / "graph.txt")
