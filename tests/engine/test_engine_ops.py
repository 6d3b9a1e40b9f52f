"""Property tests generated from the op table: for every op, on every test device,

* analytic gradients equal float64 central differences (gradcheck),
* second derivatives too, for the smooth ops (gradgradcheck),
* values and gradients equal PyTorch's: live when torch is installed, and always against the
  committed golden fixtures (tests/fixtures/engine_golden.npz, made by make_engine_golden.py).
"""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import tinygrad_rnn as tg
from tinygrad_rnn.testing import gradcheck, gradgradcheck

from engine_harness import load_case, ours, torch_reference
from engine_op_table import EXACT_OPS, OPS_BY_NAME, SMOOTH_OPS, TORCH_OPS

GOLDEN = Path(__file__).parents[1] / "fixtures" / "engine_golden.npz"
# the device fixture is a plain string, safe to share across hypothesis examples
fast = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
second_order = settings(fast, max_examples=8)
sweep = settings(fast, max_examples=150)


def by_name(specs):
    return pytest.mark.parametrize("spec", specs, ids=[s.name for s in specs])


ISSUE_OPS = """add sub mul div pow neg exp log sqrt abs tanh sigmoid relu leaky_relu softplus clip
    maximum minimum where sum mean max min logsumexp var softmax log_softmax matmul reshape transpose
    permute expand squeeze unsqueeze flip getitem_basic getitem_int_array getitem_bool_mask cat stack
    split pad take embedding dropout cross_entropy nll_loss mse_loss binary_cross_entropy_with_logits""".split()


def test_table_covers_every_op_of_the_issue():
    assert not set(ISSUE_OPS) - set(OPS_BY_NAME)


def check_gradient(spec, case, device, check=gradcheck):
    arrays, kwargs = case
    assert len(arrays) == spec.arity, f"{spec.name}: the table says {spec.arity} inputs, the case has {len(arrays)}"
    tensors = [tg.Tensor(a, requires_grad=True, device=device) for a in arrays]
    options = {k: tg.Tensor(v, device=device) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    assert check(lambda *xs: spec.fn(*xs, **options), tensors)


@by_name(EXACT_OPS)
def test_gradient_matches_finite_differences(spec, device):
    given(spec.cases)(fast(lambda case: check_gradient(spec, case, device)))()


@by_name(SMOOTH_OPS)
def test_second_derivative_matches_finite_differences(spec, device):
    given(spec.cases)(second_order(lambda case: check_gradient(spec, case, device, gradgradcheck)))()


@pytest.mark.slow
@by_name(EXACT_OPS)
def test_gradient_sweep(spec):
    given(spec.cases)(sweep(lambda case: check_gradient(spec, case, "strict")))()


def assert_same(actual, expected, what):
    assert len(actual) == len(expected), f"{what}: {len(actual)} arrays, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, f"{what} {i}: shape {a.shape}, expected {e.shape}"
        np.testing.assert_allclose(a, e, rtol=1e-7, atol=1e-10, err_msg=f"{what} {i}")


@by_name(TORCH_OPS)
def test_matches_pytorch_live(spec):
    pytest.importorskip("torch")

    @fast
    @given(spec.cases)
    def compare(case):
        expected_out, expected_grads = torch_reference(spec, *case)
        out, grads = ours(spec, *case)
        assert_same(out, expected_out, f"{spec.name} output")
        assert_same(grads, expected_grads, f"{spec.name} gradient")
    compare()


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        yield {key: data[key] for key in data.files}


@by_name(TORCH_OPS)
def test_matches_pytorch_golden(spec, device, golden):
    arrays, kwargs, expected_out, expected_grads, cotangent = load_case(golden, spec.name)
    assert arrays, f"no golden case for {spec.name}: rerun tests/fixtures/make_engine_golden.py"
    out, grads = ours(spec, arrays, kwargs, device, cotangent)
    assert_same(out, expected_out, f"{spec.name} output")
    assert_same(grads, expected_grads, f"{spec.name} gradient")
