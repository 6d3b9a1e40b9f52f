"""The Numba kernels at the array level: against a NumPy step-by-step reference, central finite
differences (float64), and on bad input."""

import numpy as np
import pytest

from tinygrad_rnn import kernels
from tinygrad_rnn.kernels import cpu_threads

from kernel_support import (ARGUMENTS, GATES, assert_close, call_kernel, check_gradients_are_fresh,
                            check_output_into_shared_columns, make_problem, reference)

CASES = [(mode, peephole) for mode in GATES for peephole in ((False, True) if mode == "lstm" else (False,))]
LENGTHS = [None, [5, 2, 0, 5]]   # 0: a row that never runs (the kernel allows it; layers reject it)


def _loss_and_cotangents(mode, problem, lengths, reverse, seed=1):
    """L(problem) = sum(u*out) + sum(v*h_n) + sum(w*c_n) by the NumPy reference, and u, v, w."""
    rng = np.random.default_rng(seed)
    out, h_n, c_n = reference(mode, problem, lengths, reverse)
    u, v, w = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape), rng.standard_normal(h_n.shape)

    def loss(p):
        o, h, c = reference(mode, p, lengths, reverse)
        return (u * o).sum() + (v * h).sum() + (0.0 if c is None else (w * c).sum())

    return loss, u, v, (w if mode == "lstm" else None)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-13), (np.float32, 2e-6)])
@pytest.mark.parametrize("mode, peephole", CASES)
@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("reverse", [False, True])
def test_forward_matches_numpy_reference(mode, peephole, lengths, reverse, dtype, rtol):
    problem = make_problem(mode, 5, 4, 3, 6, dtype, peephole=peephole)
    out, h_n, c_n, _ = call_kernel(kernels.get(mode, "cpu"), problem, lengths, reverse)
    want = reference(mode, problem, lengths, reverse)
    for name, got, expected in zip(("out", "h_n", "c_n"), (out, h_n, c_n), want):
        if expected is None:
            assert got is None
            continue
        assert got.dtype == dtype
        assert_close(got, expected, rtol, name)


@pytest.mark.parametrize("mode, peephole", CASES)
@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_match_central_differences(mode, peephole, lengths, reverse, bias):
    """For every argument a, <dL/da, e> equals (L(a + h e) - L(a - h e)) / 2h along a random e."""
    problem = make_problem(mode, 5, 4, 3, 6, peephole=peephole, bias=bias, seed=2)
    kernel = kernels.get(mode, "cpu")
    loss, u, v, w = _loss_and_cotangents(mode, problem, lengths, reverse)
    *_, saved = call_kernel(kernel, problem, lengths, reverse)
    grads = kernel.backward(saved, u, v, w)
    rng = np.random.default_rng(3)
    step = 1e-6
    for name in ARGUMENTS:
        if problem[name] is None:
            assert name not in grads
            continue
        direction = rng.standard_normal(problem[name].shape)
        plus = dict(problem, **{name: problem[name] + step * direction})
        minus = dict(problem, **{name: problem[name] - step * direction})
        numeric = (loss(plus) - loss(minus)) / (2 * step)
        analytic = np.sum(grads[name] * direction)
        assert abs(analytic - numeric) <= 1e-7 * max(1.0, abs(numeric)), (name, analytic, numeric)


@pytest.mark.parametrize("mode", list(GATES))
def test_inference_forward_equals_training_forward(mode):
    problem = make_problem(mode, 6, 3, 4, 5, np.float32, peephole=mode == "lstm")
    kernel = kernels.get(mode, "cpu")
    train = call_kernel(kernel, problem, [6, 3, 1], save=True)
    infer = call_kernel(kernel, problem, [6, 3, 1], save=False)
    assert infer[3] is None
    for a, b in zip(train[:3], infer[:3]):
        assert (a is None and b is None) or np.array_equal(a, b)


@pytest.mark.parametrize("save, reverse", [(True, False), (True, True), (False, True)])
@pytest.mark.parametrize("mode", list(GATES))
def test_output_into_columns_of_a_shared_array(mode, save, reverse, monkeypatch):
    monkeypatch.setattr(cpu_threads, "MIN_FLOPS", 1)   # LSTM blocks and batch shards even here
    check_output_into_shared_columns(kernels.get(mode, "cpu"), mode, save, reverse)


@pytest.mark.parametrize("mode", list(GATES))
def test_backward_returns_fresh_arrays(mode, monkeypatch):
    monkeypatch.setattr(cpu_threads, "MIN_FLOPS", 1)   # LSTM blocks and batch shards even here
    check_gradients_are_fresh(kernels.get(mode, "cpu"), mode)


@pytest.mark.parametrize("mode", list(GATES))
def test_backward_leaves_saved_values_intact(mode):
    """retain_graph: a second backward from the same forward gives the same gradients."""
    problem = make_problem(mode, 4, 2, 3, 5)
    kernel = kernels.get(mode, "cpu")
    out, h_n, c_n, saved = call_kernel(kernel, problem, [4, 2], reverse=True)
    first = kernel.backward(saved, np.ones_like(out), np.ones_like(h_n), None)
    second = kernel.backward(saved, np.ones_like(out), np.ones_like(h_n), None)
    assert first.keys() == second.keys()
    assert all(np.array_equal(first[k], second[k]) for k in first)


def test_wanted_restricts_the_gradients_computed():
    problem = make_problem("gru", 3, 2, 3, 4)
    kernel = kernels.get("gru", "cpu")
    out, h_n, _, saved = call_kernel(kernel, problem)
    grads = kernel.backward(saved, np.ones_like(out), None, wanted={"weight_hh", "h0"})
    assert sorted(grads) == ["h0", "weight_hh"]
    assert np.array_equal(grads["weight_hh"], kernel.backward(saved, np.ones_like(out), None)["weight_hh"])


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_non_contiguous_inputs_give_the_same_result(mode):
    problem = make_problem(mode, 5, 3, 4, 6, peephole=mode == "lstm")
    strided = {k: None if v is None else np.asfortranarray(v) for k, v in problem.items()}
    x_batch_first = np.ascontiguousarray(problem["x"].transpose(1, 0, 2))
    strided["x"] = x_batch_first.transpose(1, 0, 2)                    # a transposed view
    strided["weight_ih"] = np.repeat(problem["weight_ih"], 2, axis=1)[:, ::2]  # a strided view
    kernel = kernels.get(mode, "cpu")
    want, got = call_kernel(kernel, problem, [5, 1, 3]), call_kernel(kernel, strided, [5, 1, 3])
    for a, b in zip(want[:3], got[:3]):
        assert (a is None and b is None) or np.array_equal(a, b)
    ones = np.ones_like(want[0])
    gw, gg = kernel.backward(want[3], ones, None, None), kernel.backward(got[3], ones, None, None)
    assert all(np.array_equal(gw[k], gg[k]) for k in gw)


def test_kernel_asserts_its_invariants():
    # the layers check user input with the messages users see (tests/recurrent/test_recurrent_errors);
    # the kernel only asserts what it relies on
    kernel = kernels.get("lstm", "cpu")
    problem = make_problem("lstm", 3, 2, 3, 4)
    bad = [{k: None if v is None else v.astype(np.float16) for k, v in problem.items()},
           dict(problem, weight_hh=problem["weight_hh"].astype(np.float32)),
           dict(problem, weight_hh=np.zeros((16, 5))), dict(problem, c0=None)]
    for arrays in bad:
        with pytest.raises(AssertionError, match="numba kernel 'lstm' on 'cpu'"):
            call_kernel(kernel, arrays)
    with pytest.raises(AssertionError, match="lengths"):
        call_kernel(kernel, problem, lengths=[3, 1, 2])
    with pytest.raises(AssertionError):
        call_kernel(kernels.get("gru", "cpu"), dict(make_problem("gru", 3, 2, 3, 4), c0=problem["c0"]))
    with pytest.raises(RuntimeError, match="backward needs a forward run with save=True"):
        kernel.backward(None, np.zeros((3, 2, 4)), None)


def test_kernel_masks_any_integer_length():
    # the layer accepts lengths in [1, T]; the kernel is safe for any, masking steps t >= length
    kernel = kernels.get("gru", "cpu")
    problem = make_problem("gru", 3, 2, 3, 4)
    out, h_n, _, _ = call_kernel(kernel, problem, lengths=[0, 5])
    full = call_kernel(kernel, problem)
    assert not out[:, 0].any() and np.array_equal(h_n[0], problem["h0"][0])
    assert np.array_equal(out[:, 1], full[0][:, 1]) and np.array_equal(h_n[1], full[1][1])


@pytest.fixture
def threads():
    """Set the kernels' thread count for one test, then restore it."""
    before = cpu_threads.get_num_threads()
    yield cpu_threads.set_num_threads
    cpu_threads.set_num_threads(before)


@pytest.mark.parametrize("mode", list(GATES))
def test_batch_shards_on_threads_give_the_single_thread_result(mode, threads, monkeypatch):
    pytest.importorskip("threadpoolctl")
    problem = make_problem(mode, 6, 19, 3, 5, peephole=mode == "lstm", seed=4)
    lengths = np.random.default_rng(0).integers(0, 7, 19)
    monkeypatch.setattr(cpu_threads, "MIN_FLOPS", 1)   # shard even this small problem
    kernel = kernels.get(mode, "cpu")
    results = []
    for count in (1, 3):
        threads(count)
        assert len(cpu_threads.shards(19, cpu_threads.MIN_FLOPS)) == min(count, 19 // cpu_threads.MIN_ROWS)
        out, h_n, c_n, saved = call_kernel(kernel, problem, lengths, reverse=True)
        # inference shares its one step of scratch (GRU: m, q) among the shards
        infer = call_kernel(kernel, problem, lengths, reverse=True, save=False)
        for name, got, want in zip(("out", "h_n", "c_n"), infer[:3], (out, h_n, c_n)):
            if want is not None:
                assert_close(got, want, 1e-13, f"inference {name}")
        rng = np.random.default_rng(1)
        grads = kernel.backward(saved, rng.standard_normal(out.shape), rng.standard_normal(h_n.shape),
                                None if c_n is None else rng.standard_normal(c_n.shape))
        results.append(dict(grads, out=out, h_n=h_n))
    want = reference(mode, problem, lengths, reverse=True)
    assert_close(results[1]["out"], want[0], 1e-13, "out")
    for name in results[0]:
        assert_close(results[1][name], results[0][name], 1e-13, name)


def test_small_work_is_not_sharded(threads):
    threads(4)
    assert len(cpu_threads.shards(64, cpu_threads.MIN_FLOPS // 64)) == 1
    assert len(cpu_threads.shards(64, cpu_threads.MIN_FLOPS)) == (4 if cpu_threads._blas_controller() else 1)


def test_set_num_threads_rejects_zero():
    with pytest.raises(ValueError, match="set_num_threads: expected a positive number of threads, got 0"):
        cpu_threads.set_num_threads(0)


@pytest.mark.parametrize("mode", [mode for mode in GATES if mode != "lstm"])
def test_repeated_sharded_runs_give_identical_numbers(mode, threads, monkeypatch):
    """The team's threads take the shards in a different order from run to run; the numbers
    must not change (numba_team has the LSTM's version of this test)."""
    pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(cpu_threads, "MIN_FLOPS", 1)
    threads(2)
    problem = make_problem(mode, 12, 40, 6, 16, seed=9)
    lengths = np.arange(40) % 13
    kernel = kernels.get(mode, "cpu")
    runs = []
    for _ in range(6):
        out, h_n, _, saved = call_kernel(kernel, problem, lengths)
        assert len(saved.bounds) == 3   # two shards
        rng = np.random.default_rng(2)
        runs.append(dict(kernel.backward(saved, rng.standard_normal(out.shape), rng.standard_normal(h_n.shape)),
                         out=out, h_n=h_n))
    for again in runs[1:]:
        for name in runs[0]:
            np.testing.assert_array_equal(again[name], runs[0][name], err_msg=name)
