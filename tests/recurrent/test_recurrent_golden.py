"""The recurrent layers against golden PyTorch results (tests/fixtures/make_recurrent_golden.py),
so that conformance is checked on machines without torch: float64, 1e-10 relative."""
import json
import pathlib

import numpy as np
import pytest

from recurrent_support import Config, assert_results_close, run_ours

with np.load(pathlib.Path(__file__).parents[1] / "fixtures" / "recurrent_golden.npz") as _archive:
    GOLDEN = dict(_archive)
CASES = sorted({key.split("/")[0] for key in GOLDEN})


def _section(entries, name):
    return {key[len(name) + 1:]: value for key, value in entries.items() if key.startswith(name + "/")}


def load_case(case):
    """(Config, inputs, torch's state_dict, torch's results) of one stored case."""
    fields = json.loads(str(GOLDEN[f"{case}/config"]))
    fields["lengths"] = None if fields["lengths"] is None else tuple(fields["lengths"])
    entries = _section(GOLDEN, case)
    inputs = {k: v for k, v in entries.items() if "/" not in k and k != "config"}
    return Config(**fields), inputs, _section(entries, "param"), _section(entries, "expected")


def test_fixture_covers_every_mode_layer_count_and_option():
    configs = [load_case(case)[0] for case in CASES]
    for mode in ("rnn_tanh", "rnn_relu", "lstm", "gru"):
        of_mode = [c for c in configs if c.mode == mode]
        assert {c.num_layers for c in of_mode} == {1, 2, 3}
        assert {(c.bidirectional, c.batch_first, c.lengths is not None) for c in of_mode} == {
            (a, b, d) for a in (False, True) for b in (False, True) for d in (False, True)}


@pytest.mark.parametrize("impl", ["reference", "fused"])
@pytest.mark.parametrize("case", CASES)
def test_matches_golden(case, impl):
    config, inputs, state_dict, expected = load_case(case)
    assert_results_close(run_ours(config, inputs, state_dict, np.float64, impl), expected, 1e-10)
