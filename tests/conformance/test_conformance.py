"""Every name of the PyTorch-compatible surface, run as the same lambda through PyTorch and
tinygrad_rnn: live when torch is installed, and always against the golden fixture
tests/fixtures/conformance_golden.npz (written by tests/fixtures/make_conformance_golden.py)."""
import importlib.util
import pathlib

import numpy as np
import pytest

import tinygrad_rnn as tg
from conformance_harness import assert_same, run
from conformance_table import CASES, REQUIRED

_SCRIPT = pathlib.Path(__file__).parents[1] / "fixtures" / "make_conformance_golden.py"
_spec = importlib.util.spec_from_file_location("make_conformance_golden", _SCRIPT)
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)
FIXTURE = np.load(golden.PATH)


def test_every_required_name_is_covered():
    covered = {name for case in CASES for name in case.names}
    assert not set(REQUIRED) - covered, f"names without a conformance case: {sorted(set(REQUIRED) - covered)}"
    assert not covered - set(REQUIRED), f"cases name things REQUIRED does not list: {sorted(covered - set(REQUIRED))}"
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_matches_pytorch_live(case):
    torch = pytest.importorskip("torch")
    assert_same(run(tg, case, case.inputs), run(torch, case, case.inputs), case.name)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_matches_golden(case):
    inputs, expected = golden.read_case(FIXTURE, case.name)
    assert_same(run(tg, case, inputs), expected, case.name)
