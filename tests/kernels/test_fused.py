"""The fused path as an autograd node: equal to the reference path (engine ops) and to PyTorch."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import kernels, nn
from tinygrad_rnn.nn.fused import fused_direction
from tinygrad_rnn.nn.recurrent import reference_direction

from kernel_support import ARGUMENTS, GATES, assert_all_close, assert_close, make_problem, summed_terms

PEEPHOLES = ("weight_ci", "weight_cf", "weight_co")


@st.composite
def directions(draw):
    """A random single-direction problem: mode, sizes, lengths, reverse, bias, peephole."""
    mode = draw(st.sampled_from(sorted(GATES)))
    steps, batch = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    sizes = dict(steps=steps, batch=batch, inputs=draw(st.integers(1, 5)), hidden=draw(st.integers(1, 6)))
    lengths = draw(st.none() | st.lists(st.integers(1, steps), min_size=batch, max_size=batch))
    return dict(mode=mode, sizes=sizes, lengths=None if lengths is None else np.array(lengths),
                reverse=draw(st.booleans()), bias=draw(st.booleans()),
                peephole=mode == "lstm" and draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def run(direction, case, dtype, requires_grad=True):
    """Outputs and gradients of L = sum(u*out) + sum(v*h_n) + sum(w*c_n), as NumPy arrays."""
    problem = make_problem(case["mode"], *case["sizes"].values(), dtype, case["bias"], case["peephole"],
                           case["seed"])
    tensors = {k: tg.Tensor(v, requires_grad=requires_grad) for k, v in problem.items()
               if v is not None and k != "peephole"}
    if problem["peephole"] is not None:
        tensors.update({k: tg.Tensor(row, requires_grad=requires_grad)
                        for k, row in zip(PEEPHOLES, problem["peephole"])})
    peephole = tuple(tensors[k] for k in PEEPHOLES) if problem["peephole"] is not None else None
    out, h_n, c_n = direction(case["mode"], *(tensors.get(k) for k in ARGUMENTS[:-1]), peephole=peephole,
                              lengths=case["lengths"], reverse=case["reverse"])
    rng = np.random.default_rng(case["seed"] + 1)
    results = {"out": out, "h_n": h_n} | ({"c_n": c_n} if c_n is not None else {})
    loss = sum((t * tg.Tensor(rng.standard_normal(t.shape).astype(dtype))).sum() for t in results.values())
    results = {k: t.numpy() for k, t in results.items()}
    if requires_grad:
        loss.backward()
        results.update({f"grad_{k}": t.grad.numpy() for k, t in tensors.items()})
    return results


def assert_same(got, want, rtol, case=None):
    """assert_all_close, by group in float32 and, given the ``case``, with the outputs' scale at
    least that of the terms summed into them (see there why)."""
    float32 = any(a.dtype == np.float32 for a in want.values())
    if not float32 or case is None:
        assert_all_close(got, want, rtol, by_group=float32)
        return
    problem = make_problem(case["mode"], *case["sizes"].values(), np.float64, case["bias"],
                           case["peephole"], case["seed"])
    states = max([1.0] + [np.abs(a).max(initial=0.0) for k, a in want.items() if not k.startswith("grad_")]
                 + [np.abs(problem[k]).max() for k in ("h0", "c0") if problem[k] is not None])
    assert_all_close(got, want, rtol, by_group=True, output_terms=summed_terms(problem, states))


@settings(max_examples=60, deadline=None)
@given(case=directions())
def test_fused_equals_reference_in_float64(case):
    # float64 with library tanh/exp on both paths: only the summation order differs (measured
    # worst over 400 cases: 1.2e-14 of the largest magnitude)
    assert_same(run(fused_direction, case, np.float64), run(reference_direction, case, np.float64), 1e-12)


@settings(max_examples=20, deadline=None)
@given(case=directions())
@example(case={"mode": "rnn_relu", "sizes": {"steps": 1, "batch": 4, "inputs": 1, "hidden": 2},
               "lengths": None, "reverse": False, "bias": True, "peephole": False, "seed": 4962})
def test_fused_equals_reference_in_float32(case):   # the example: outputs 0.00155 of terms near 1
    assert_same(run(fused_direction, case, np.float32), run(reference_direction, case, np.float32), 1e-5, case)


@st.composite
def layers(draw):
    """A random stacked layer: class, sizes, layers, directions, batch_first, lengths, peephole."""
    mode = draw(st.sampled_from(sorted(GATES)))
    steps, batch = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    kwargs = dict(num_layers=draw(st.integers(1, 3)), bidirectional=draw(st.booleans()),
                  batch_first=draw(st.booleans()), bias=draw(st.booleans()))
    if mode.startswith("rnn_"):
        kwargs["nonlinearity"] = mode[4:]
    if mode == "lstm":
        kwargs["peephole"] = draw(st.booleans())
    if mode.startswith("gru"):
        kwargs["reset_after"] = mode == "gru"
    lengths = draw(st.none() | st.lists(st.integers(1, steps), min_size=batch, max_size=batch))
    return dict(mode=mode, steps=steps, batch=batch, inputs=draw(st.integers(1, 4)),
                hidden=draw(st.integers(1, 4)), kwargs=kwargs, lengths=lengths,
                seed=draw(st.integers(0, 2**16)))


def run_layer(case, impl):
    """Outputs and gradients (inputs, states, every parameter) of a stacked layer, float64."""
    name = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU", "gru_reset_before": "GRU"}[case["mode"]]
    tg.manual_seed(case["seed"])
    layer = getattr(nn, name)(case["inputs"], case["hidden"], impl=impl, dtype=np.float64, **case["kwargs"])
    rng = np.random.default_rng(case["seed"])
    shape = (case["batch"], case["steps"]) if case["kwargs"]["batch_first"] else (case["steps"], case["batch"])
    x = tg.Tensor(rng.standard_normal(shape + (case["inputs"],)), requires_grad=True)
    states = (layer.num_layers * (2 if layer.bidirectional else 1), case["batch"], case["hidden"])
    h0 = tg.Tensor(rng.standard_normal(states), requires_grad=True)
    hx = (h0, tg.Tensor(rng.standard_normal(states), requires_grad=True)) if name == "LSTM" else h0
    out, state = layer(x, hx, lengths=case["lengths"])
    results = {"out": out} | ({"h_n": state[0], "c_n": state[1]} if name == "LSTM" else {"h_n": state})
    loss = sum((t * tg.Tensor(rng.standard_normal(t.shape))).sum() for t in results.values())
    loss.backward()
    results = {k: t.numpy() for k, t in results.items()}
    results.update({"grad_x": x.grad.numpy(), "grad_h0": h0.grad.numpy()})
    if name == "LSTM":
        results["grad_c0"] = hx[1].grad.numpy()
    results.update({f"grad_{k}": p.grad.numpy() for k, p in layer.named_parameters()})
    return results


@settings(max_examples=25, deadline=None)
@given(case=layers())
def test_stacked_bidirectional_layers_fused_equal_reference(case):
    assert_same(run_layer(case, "fused"), run_layer(case, "reference"), 1e-12)  # measured: <= 4e-14


def test_under_no_grad_nothing_is_saved_and_outputs_are_equal(monkeypatch):
    case = dict(mode="lstm", sizes=dict(steps=5, batch=3, inputs=4, hidden=6), lengths=np.array([5, 2, 4]),
                reverse=True, bias=True, peephole=True, seed=0)
    kernel = kernels.get("lstm", "cpu")
    calls = []
    forward = kernel.forward
    monkeypatch.setattr(kernel, "forward", lambda *a: calls.append(a[-2]) or forward(*a))
    with tg.no_grad():
        quiet = run(fused_direction, case, np.float64, requires_grad=False)
    loud = run(fused_direction, case, np.float64)
    assert calls == [False, True]  # the argument before the last (into) is save
    assert all(np.array_equal(quiet[k], loud[k]) for k in quiet)


def test_gradients_only_for_inputs_that_require_them():
    problem = make_problem("gru", 4, 2, 3, 5, seed=1)
    x = tg.Tensor(problem["x"])  # data: no gradient wanted
    h0 = tg.Tensor(problem["h0"])
    weights = [tg.Tensor(problem[k], requires_grad=True) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    out, h_n, _ = fused_direction("gru", x, h0, None, *weights)
    (out.sum() + h_n.sum()).backward()
    assert x.grad is None and h0.grad is None
    ref = [tg.Tensor(w.data, requires_grad=True) for w in weights]
    out, h_n, _ = reference_direction("gru", x, h0, None, *ref)
    (out.sum() + h_n.sum()).backward()
    for w, r in zip(weights, ref):
        assert_close(w.grad.numpy(), r.grad.numpy(), 1e-12)


def test_double_backward_through_a_fused_layer_raises():
    problem = make_problem("rnn_tanh", 3, 2, 2, 3)
    x = tg.Tensor(problem["x"], requires_grad=True)
    out, _, _ = fused_direction("rnn_tanh", x, tg.Tensor(problem["h0"]), None,
                                tg.Tensor(problem["weight_ih"]), tg.Tensor(problem["weight_hh"]), None, None)
    with pytest.raises(RuntimeError, match="fused rnn_tanh: create_graph=True .* impl='reference'"):
        tg.grad((out * out).sum(), x, create_graph=True)


# ----- PyTorch, one layer, one direction, same weights (PyTorch has no reset-before GRU) ---------------
TORCH_LAYERS = {"rnn_tanh": ("RNN", {"nonlinearity": "tanh"}), "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
                "lstm": ("LSTM", {}), "gru": ("GRU", {})}


@pytest.mark.parametrize("mode", sorted(TORCH_LAYERS))
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_fused_equals_torch_single_layer(mode, dtype, rtol):
    torch = pytest.importorskip("torch")
    problem = make_problem(mode, 7, 3, 4, 5, dtype, seed=5)
    case = dict(mode=mode, sizes=dict(steps=7, batch=3, inputs=4, hidden=5), lengths=None, reverse=False,
                bias=True, peephole=False, seed=5)
    ours = run(fused_direction, case, dtype)
    name, kwargs = TORCH_LAYERS[mode]
    layer = getattr(torch.nn, name)(4, 5, dtype=torch.float64 if dtype == np.float64 else torch.float32, **kwargs)
    with torch.no_grad():
        for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(layer, f"{key}_l0").copy_(torch.from_numpy(problem[key]))
    x, h0 = (torch.tensor(problem[k], requires_grad=True) for k in ("x", "h0"))
    c0 = torch.tensor(problem["c0"], requires_grad=True) if mode == "lstm" else None
    out, state = layer(x, (h0[None], c0[None]) if mode == "lstm" else h0[None])
    results = {"out": out, "h_n": (state[0] if mode == "lstm" else state)[0]}
    if mode == "lstm":
        results["c_n"] = state[1][0]
    rng = np.random.default_rng(6)
    loss = sum((t * torch.from_numpy(rng.standard_normal(t.shape).astype(dtype))).sum() for t in results.values())
    loss.backward()
    theirs = {k: t.detach().numpy() for k, t in results.items()}
    theirs.update({"grad_x": x.grad.numpy(), "grad_h0": h0.grad.numpy()})
    if mode == "lstm":
        theirs["grad_c0"] = c0.grad.numpy()
    theirs.update({f"grad_{k}": getattr(layer, f"{k}_l0").grad.numpy()
                   for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    assert_same(ours, theirs, rtol)


@pytest.mark.slow
@pytest.mark.parametrize("mode, peephole", [("rnn_tanh", False), ("rnn_relu", False), ("lstm", False),
                                            ("lstm", True), ("gru", False), ("gru_reset_before", False)])
def test_fused_equals_reference_on_larger_sharded_problems(mode, peephole):
    """Sizes where the batch is cut into shards on threads and hidden sizes are not multiples of
    the vector width; float64, 1e-10: over 40 steps the tanh problem's gradients grow to ~4e5,
    amplifying rounding differences as much (measured worst: 6.2e-11 of the largest magnitude)."""
    lengths = np.random.default_rng(7).integers(1, 41, 37)
    case = dict(mode=mode, sizes=dict(steps=40, batch=37, inputs=19, hidden=45), lengths=lengths,
                reverse=True, bias=True, peephole=peephole, seed=11)
    assert_same(run(fused_direction, case, np.float64), run(reference_direction, case, np.float64), 1e-10)


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN"])
def test_a_bidirectional_layer_joins_its_directions_without_a_copy(layer):
    """The directions' kernels fill one output array (the join node returns it as it is), and the
    layer's output and gradients equal the reference path's, padded rows included."""
    tg.manual_seed(0)
    make = getattr(nn, layer)
    fused = make(4, 32, num_layers=2, bidirectional=True, dtype=np.float64)
    reference = make(4, 32, num_layers=2, bidirectional=True, impl="reference", dtype=np.float64)
    reference.load_state_dict(fused.state_dict())
    x = tg.Tensor(np.random.default_rng(0).standard_normal((6, 19, 4)))
    lengths = np.random.default_rng(1).integers(1, 7, 19)
    got, want = (module(x, lengths=lengths)[0] for module in (fused, reference))
    assert type(got._node).__name__ == "JoinedDirections"
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    (got * got).sum().backward()
    (want * want).sum().backward()
    for (name, a), b in zip(fused.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-11, atol=1e-11, err_msg=name)

