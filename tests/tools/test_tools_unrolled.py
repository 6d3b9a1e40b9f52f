"""The lecture-level unrolled graph is read from the engine's own graph: one cell per step, the
same weight tensors at every step of a row."""
import pytest

from tinygrad_rnn.apps import unrolled


@pytest.mark.parametrize("cell, layers, bidirectional", [("rnn", 1, False), ("lstm", 2, False), ("gru", 2, True)])
def test_every_step_applies_the_same_cell_with_the_rows_shared_weights(cell, layers, bidirectional):
    net = unrolled.unroll(cell, seq_len=4, layers=layers, bidirectional=bidirectional)
    directions = 2 if bidirectional else 1
    assert len(net.steps) == 4 * layers * directions
    for layer in range(layers):
        for direction in range(directions):
            row = [s for s in net.steps if (s.layer, s.direction) == (layer, direction)]
            assert sorted(s.t for s in row) == [0, 1, 2, 3]
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            expected = {f"{name}{suffix}" for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            assert all(s.parameters == expected for s in row)   # shared by every step, nothing else
            assert len({s.ops for s in row}) == 1 and row[0].ops > 0   # the same cell each step
    assert net.loss_ops > 0


def test_the_lstm_cell_records_more_ops_than_the_plain_rnn():
    assert unrolled.unroll("lstm").steps[0].ops > unrolled.unroll("rnn").steps[0].ops


def test_the_picture_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = unrolled.draw(unrolled.unroll("lstm", 3, 2, True), tmp_path / "graph.png", plt)
    assert path.stat().st_size > 10_000


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="graph: cell must be one of"):
        unrolled.unroll("transformer")

