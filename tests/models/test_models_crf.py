"""The linear-chain CRF against brute-force enumeration of every tag sequence."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.models import LinearChainCRF, crf_log_partition, crf_path_score
from tinygrad_rnn.testing import gradcheck


def brute_force(emissions, length, transitions, start, end):
    """Every tag sequence of ``length`` with its score, by enumeration (NumPy)."""
    scores = {}
    for tags in itertools.product(range(transitions.shape[0]), repeat=length):
        scores[tags] = (start[tags[0]] + end[tags[-1]] + sum(emissions[t, tags[t]] for t in range(length))
                        + sum(transitions[tags[t - 1], tags[t]] for t in range(1, length)))
    return scores


@st.composite
def crf_problems(draw):
    num_tags, length, batch = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31))
    lengths = draw(st.lists(st.integers(1, length), min_size=batch, max_size=batch))
    scale = draw(st.sampled_from([0.1, 1.0, 30.0]))  # 30: log-space must not overflow
    return num_tags, length, lengths, seed, scale


def make_crf(num_tags, seed, scale, batch_first=True, device="cpu"):
    rng = np.random.default_rng(seed)
    crf = LinearChainCRF(num_tags, batch_first=batch_first, dtype=np.float64, device=device)
    for parameter in crf.parameters():
        parameter.data = crf.transitions.device.asarray(rng.standard_normal(parameter.shape) * scale)
    return crf, rng


@settings(max_examples=80, deadline=None)
@given(crf_problems())
def test_log_partition_score_and_viterbi_equal_brute_force(problem):
    num_tags, length, lengths, seed, scale = problem
    crf, rng = make_crf(num_tags, seed, scale)
    emissions = rng.standard_normal((len(lengths), length, num_tags)) * scale
    parameters = [p.numpy() for p in (crf.transitions, crf.start_transitions, crf.end_transitions)]
    tags = rng.integers(num_tags, size=(len(lengths), length))
    log_z = crf.log_partition(tg.Tensor(emissions), lengths).numpy()
    gold = crf.score(tg.Tensor(emissions), tags, lengths).numpy()
    paths, best = crf.decode(tg.Tensor(emissions), lengths)
    # float64 sums of up to ~10 terms of size <= ~100 (scale 30): rounding ~1e-13 absolute,
    # which matters for sums near 0 (measured worst over 400 cases: 2.8e-14)
    for b, n in enumerate(lengths):
        scores = brute_force(emissions[b], n, *parameters)
        values = np.array(list(scores.values()))
        top = values.max()
        assert log_z[b] == pytest.approx(top + np.log(np.exp(values - top).sum()), rel=1e-12, abs=1e-12)
        assert gold[b] == pytest.approx(scores[tuple(tags[b, :n])], rel=1e-12, abs=1e-12)
        assert len(paths[b]) == n
        assert scores[tuple(paths[b])] == pytest.approx(top, rel=1e-12, abs=1e-12)
        assert best.numpy()[b] == pytest.approx(top, rel=1e-12, abs=1e-12)


def test_nll_gradcheck_in_all_inputs():
    rng = np.random.default_rng(0)
    emissions = tg.Tensor(rng.standard_normal((3, 4, 3)), requires_grad=True)
    transitions, start, end = (tg.Tensor(rng.standard_normal(shape), requires_grad=True) for shape in [(3, 3), 3, 3])
    mask = np.arange(4)[None, :] < np.array([4, 2, 1])[:, None]
    tags = np.where(mask, rng.integers(3, size=(3, 4)), 0)

    def nll(e, a, s, f):
        return crf_log_partition(e, mask, a, s, f) - crf_path_score(e, tags, mask, a, s, f)

    assert gradcheck(nll, [emissions, transitions, start, end])


def test_module_nll_is_the_mean_negative_log_probability_and_trains(device):
    crf, rng = make_crf(3, 1, 1.0, batch_first=False, device=device)
    emissions = tg.Tensor(rng.standard_normal((5, 2, 3)), requires_grad=True, device=device)  # (L, B, T)
    tags, lengths = np.array([[0, 1], [1, 2], [2, 0], [0, 0], [1, 0]]), [5, 3]
    loss = crf(emissions, tags, lengths)
    expected = (crf.log_partition(emissions, lengths) - crf.score(emissions, tags, lengths)).numpy().mean()
    assert loss.item() == pytest.approx(expected, rel=1e-12) and loss.item() > 0
    loss.backward()
    assert emissions.grad.numpy()[3:, 1].tolist() == [[0.0] * 3] * 2  # padding gets no gradient
    # d NLL / d emissions = marginals - one-hot(gold) / batch: each real position's row sums to 0
    np.testing.assert_allclose(emissions.grad.numpy().sum(axis=2), 0, atol=1e-12)


def test_batch_first_and_time_first_agree():
    crf_bf, rng = make_crf(4, 2, 1.0, batch_first=True)
    crf_tf = LinearChainCRF(4, dtype=np.float64)
    crf_tf.load_state_dict(crf_bf.state_dict())
    emissions = rng.standard_normal((2, 6, 4))
    tags = rng.integers(4, size=(2, 6))
    lengths = [6, 4]
    nll_bf = crf_bf(tg.Tensor(emissions), tags, lengths, reduction="none").numpy()
    nll_tf = crf_tf(tg.Tensor(emissions.transpose(1, 0, 2)), tags.T, lengths, reduction="none").numpy()
    np.testing.assert_allclose(nll_bf, nll_tf, rtol=1e-13)
    assert crf_bf.decode(tg.Tensor(emissions), lengths)[0] == crf_tf.decode(
        tg.Tensor(emissions.transpose(1, 0, 2)), lengths)[0]


def test_tags_and_lengths_may_be_tensors_or_device_arrays():
    crf, rng = make_crf(3, 4, 1.0, device="strict")
    device = crf.transitions.device
    emissions = tg.Tensor(rng.standard_normal((2, 4, 3)), device="strict")
    tags, lengths = np.array([[0, 1, 2, 0], [2, 2, 0, 0]]), np.array([4, 2])
    expected = crf(emissions, tags.tolist(), lengths.tolist(), reduction="none").numpy()
    for as_input in (lambda a: tg.Tensor(a, device="strict"), device.asarray):
        got = crf(emissions, as_input(tags), as_input(lengths), reduction="none").numpy()
        np.testing.assert_array_equal(got, expected)


def test_padded_tags_may_hold_anything():
    crf, rng = make_crf(3, 3, 1.0)
    emissions = tg.Tensor(rng.standard_normal((2, 4, 3)))
    clean = crf(emissions, [[0, 1, 2, 0], [2, 2, 0, 0]], [4, 2], reduction="none")
    padded = crf(emissions, [[0, 1, 2, 0], [2, 2, -100, 99]], [4, 2], reduction="none")
    np.testing.assert_array_equal(clean.numpy(), padded.numpy())


@pytest.mark.parametrize("call,error,message", [
    (lambda crf, e: crf(e, [[0, 3, 1]], [3]), IndexError, r"tag id 3 is out of range \[0, 3\)"),
    (lambda crf, e: crf(e, [[0, -1, 1]], [3]), IndexError, "tag id -1 is out of range"),
    (lambda crf, e: crf(e, [[0, 1]], [3]), ValueError, r"tags must have shape \(1, 3\).*got \(1, 2\)"),
    (lambda crf, e: crf(e, [[0.0, 1.0, 2.0]]), TypeError, "tags must be integers"),
    (lambda crf, e: crf.log_partition(e, [3, 3]), ValueError, r"lengths must have shape \(1,\).*got \(2,\)"),
    (lambda crf, e: crf.log_partition(e, [4]), ValueError, r"lengths must be in \[1, 3\]"),
    (lambda crf, e: crf.decode(e, [0]), ValueError, r"lengths must be in \[1, 3\]"),
    (lambda crf, e: crf.log_partition(e, [2.5]), TypeError, "lengths must be integers"),
    (lambda crf, e: crf.log_partition(e.reshape(1, 3, 3, 1)), ValueError, "num_tags=3, got shape"),
    (lambda crf, e: LinearChainCRF(4, batch_first=True, dtype=np.float64).decode(e), ValueError, "num_tags=4"),
    (lambda crf, e: crf(e, [[0, 1, 2]], reduction="max"), ValueError, "reduction"),
    (lambda crf, e: crf.log_partition(e.astype(np.float32)), TypeError, "dtype float32"),
])
def test_bad_inputs_are_clear_errors(call, error, message):
    crf, rng = make_crf(3, 0, 1.0)
    emissions = tg.Tensor(rng.standard_normal((1, 3, 3)))
    with pytest.raises(error, match=message):
        call(crf, emissions)
