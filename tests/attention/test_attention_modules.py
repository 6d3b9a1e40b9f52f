"""LuongAttention and BahdanauAttention: the paper formulas (a per-position NumPy reference),
masks (exact zeros, empty rows without NaN), float64 gradient checks and bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.nn.attention import BahdanauAttention, LuongAttention, masked_softmax
from tinygrad_rnn.testing import gradcheck, gradgradcheck

SCORES = ["dot", "general", "concat"]


def reference_attention(module, query, keys, values, mask):
    """The papers' formulas one (n, t, s) at a time, in NumPy float64."""
    p = {name: value.numpy().astype(np.float64) for name, value in module.named_parameters()}
    if isinstance(module, LuongAttention):
        def score(h, hbar):
            if module.score == "dot":
                return h @ hbar
            if module.score == "general":
                return h @ p["linear_a.weight"] @ hbar
            return p["v_a"] @ np.tanh(p["linear_a.weight"] @ np.concatenate([h, hbar]))
    else:
        def score(s, hbar):
            return p["v_a"] @ np.tanh(p["linear_query.weight"] @ s + p["linear_key.weight"] @ hbar)
    single = query.ndim == 2
    query = query[:, None] if single else query
    n_batch, n_query, n_source = query.shape[0], query.shape[1], keys.shape[1]
    mask = np.ones((n_batch, n_source), bool) if mask is None else mask
    weights = np.zeros((n_batch, n_query, n_source))
    for n in range(n_batch):
        for t in range(n_query):
            attended = [s for s in range(n_source) if mask[n, s]]
            e = np.array([score(query[n, t], keys[n, s]) for s in attended])
            if attended:
                weights[n, t, attended] = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
    context = weights @ values
    outputs = [context, weights]
    if isinstance(module, LuongAttention):
        outputs.append(np.tanh(np.concatenate([context, query], -1) @ p["linear_c.weight"].T))
    return [o[:, 0] for o in outputs] if single else outputs


def make_module(kind, size, query_size=None):
    if kind == "bahdanau":
        return BahdanauAttention(query_size or size, size, size + 1, dtype=np.float64)
    return LuongAttention(size, kind, dtype=np.float64)


def functional_call(module, parameters, *args, **kwargs):
    """Run ``module`` with ``parameters`` (dotted name -> Tensor) in place of its own (for gradcheck)."""
    own = dict(module.named_parameters())

    def assign(name, value):
        *path, attribute = name.split(".")
        owner = module
        for part in path:
            owner = getattr(owner, part)
        object.__setattr__(owner, attribute, value)  # bypasses registration: restored below
    try:
        for name, value in parameters.items():
            assign(name, value)
        return module(*args, **kwargs)
    finally:
        for name in parameters:
            assign(name, own[name])


@pytest.mark.parametrize("kind", SCORES + ["bahdanau"])
@pytest.mark.parametrize("query_length", [None, 3])
def test_matches_the_paper_formulas_with_a_mask_and_an_empty_row(kind, query_length):
    rng = np.random.default_rng(1)
    size = 4
    module = make_module(kind, size)
    query = rng.standard_normal((3, size) if query_length is None else (3, query_length, size))
    keys, values = rng.standard_normal((3, 5, size)), rng.standard_normal((3, 5, size))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)
    out = module(tg.Tensor(query), tg.Tensor(keys), tg.Tensor(values), mask=mask)
    for got, expected in zip(out, reference_attention(module, query, keys, values, mask)):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    weights = out.weights.numpy()
    assert np.all(weights[..., ~mask[0]][0] == 0) and np.all(weights[2] == 0) and np.all(out.context.numpy()[2] == 0)


@pytest.mark.parametrize("kind", SCORES + ["bahdanau"])
def test_without_mask_equals_all_true_mask(kind, device):
    module = make_module(kind, 3).to(device)
    query, keys = tg.randn(2, 4, 3, dtype=np.float64, device=device), tg.randn(2, 5, 3, dtype=np.float64, device=device)
    full = module(query, keys, mask=np.ones((2, 5), bool))
    plain = module(query, keys)
    for a, b in zip(full, plain):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(plain.weights.numpy().sum(-1), 1, rtol=1e-12)


@pytest.mark.parametrize("kind", SCORES + ["bahdanau"])
def test_functional_call_really_substitutes_the_parameters(kind):
    """Otherwise the parameter gradchecks below would compare zeros with zeros."""
    module = make_module(kind, 3)
    query, keys = tg.randn(2, 3, dtype=np.float64), tg.randn(2, 4, 3, dtype=np.float64)
    for name, parameter in module.named_parameters():
        changed = functional_call(module, {name: tg.Tensor(parameter.numpy() * 2)}, query, keys)
        assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in zip(changed, module(query, keys))), name


@pytest.mark.parametrize("kind", SCORES + ["bahdanau"])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_inputs_and_parameters(kind, masked):
    rng = np.random.default_rng(2)
    module = make_module(kind, 3, query_size=2 if kind == "bahdanau" else None)
    query = tg.Tensor(rng.standard_normal((2, 2, 2 if kind == "bahdanau" else 3)), requires_grad=True)
    keys, values = (tg.Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True) for _ in range(2))
    mask = np.array([[1, 0, 1, 0], [0, 0, 0, 0]], bool) if masked else None
    names = [name for name, _ in module.named_parameters()]
    parameters = [tg.Tensor(p.numpy(), requires_grad=True) for p in module.parameters()]

    def attend(q, k, v, *params):
        return tuple(functional_call(module, dict(zip(names, params)), q, k, v, mask=mask))

    assert gradcheck(attend, [query, keys, values, *parameters])


@pytest.mark.parametrize("kind", SCORES + ["bahdanau"])
def test_empty_rows_and_huge_masked_scores_give_finite_zero_gradients(kind, device):
    module = make_module(kind, 3).to(device)
    keys = np.full((2, 4, 3), 1e6)  # huge where masked: an unmasked softmax would overflow
    keys[0, :2] = np.random.default_rng(3).standard_normal((2, 3))
    keys = tg.Tensor(keys, requires_grad=True, device=device)
    query = tg.randn(2, 3, dtype=np.float64, device=device, requires_grad=True)
    mask = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], bool)
    out = module(query, keys, mask=mask)
    sum(o.sum() for o in out).backward()
    for tensor in (out.weights, out.context, query.grad, keys.grad):
        assert np.all(np.isfinite(tensor.numpy()))
    assert np.all(keys.grad.numpy()[0, 2:] == 0) and np.all(keys.grad.numpy()[1] == 0)
    assert np.all(out.weights.numpy()[0, 2:] == 0) and np.all(out.weights.numpy()[1] == 0)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), kind=st.sampled_from(SCORES + ["bahdanau"]))
def test_hypothesis_shapes_and_masks(data, kind):
    batch, source = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    size = data.draw(st.integers(1, 4))
    query_length = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    mask = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=source, max_size=source),
                                       min_size=batch, max_size=batch)))
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    tg.manual_seed(seed)
    module = make_module(kind, size)
    query = rng.standard_normal((batch, size) if query_length is None else (batch, query_length, size))
    keys, values = rng.standard_normal((batch, source, size)), rng.standard_normal((batch, source, size))
    out = module(tg.Tensor(query), tg.Tensor(keys), tg.Tensor(values), mask=mask)
    expected = reference_attention(module, query, keys, values, mask)
    for got, want in zip(out, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    weights = out.weights.numpy().reshape(batch, -1, source)
    assert np.all(weights[np.broadcast_to(~mask[:, None, :], weights.shape)] == 0)
    np.testing.assert_allclose(weights.sum(-1), np.broadcast_to(mask.any(-1)[:, None], weights.shape[:2]), rtol=1e-12)
    tensors = [tg.Tensor(a, requires_grad=True) for a in (query, keys, values)]
    assert gradcheck(lambda q, k, v: tuple(module(q, k, v, mask=mask)), tensors)


def test_masked_softmax_second_order():
    scores = tg.Tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    assert gradgradcheck(lambda e: masked_softmax(e, mask), [scores])


@pytest.mark.parametrize("kind", SCORES + ["bahdanau"])
def test_bad_input_names_what_is_wrong(kind):
    module = make_module(kind, 3)
    name = "BahdanauAttention" if kind == "bahdanau" else "LuongAttention"
    query, keys = tg.randn(2, 3, dtype=np.float64), tg.randn(2, 4, 3, dtype=np.float64)
    with pytest.raises(ValueError, match=rf"{name}: batch sizes differ.*\(3, 3\).*\(2, 4, 3\)"):
        module(tg.randn(3, 3, dtype=np.float64), keys)
    with pytest.raises(ValueError, match=rf"{name}: mask must be \(N, Ts\) = \(2, 4\).*got shape \(2, 5\)"):
        module(query, keys, mask=np.ones((2, 5), bool))
    with pytest.raises(TypeError, match=rf"{name}: mask must be bool"):
        module(query, keys, mask=np.ones((2, 4)))
    with pytest.raises(ValueError, match=rf"{name}: keys must be \(N, Ts, 3\)"):
        module(query, tg.randn(4, 3, dtype=np.float64))
    with pytest.raises(ValueError, match=rf"{name}: query has 5 features"):
        module(tg.randn(2, 5, dtype=np.float64), keys)
    with pytest.raises(ValueError, match=rf"{name}: values must be"):
        module(query, keys, tg.randn(2, 3, 3, dtype=np.float64))
    with pytest.raises(TypeError, match=rf"{name}: query has dtype float32 but the parameters have float64"):
        module(tg.randn(2, 3), keys)  # no silent promotion to float64
    with pytest.raises(TypeError, match=rf"{name}: values has dtype float32"):
        module(query, keys, tg.randn(2, 4, 3))
    with pytest.raises(RuntimeError, match=rf"{name}: keys is on device 'strict' but the parameters are on 'cpu'"):
        module(query, keys.to("strict"))


def test_unknown_luong_score():
    with pytest.raises(ValueError, match="LuongAttention: score must be one of .*'bilinear'"):
        LuongAttention(3, "bilinear")
