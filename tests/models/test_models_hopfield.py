"""Hopfield networks: energy descent, fixed points, capacity, the modern update as attention."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
from tinygrad_rnn.models import (HopfieldNetwork, flip_bits, modern_hopfield_retrieve, modern_hopfield_update,
                                 recall_statistics)
from tinygrad_rnn.nn.attention import LuongAttention
from tinygrad_rnn.testing import gradcheck


def random_patterns(count, size, seed=0):
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(count, size))


@st.composite
def symmetric_network_and_state(draw):
    """Random symmetric zero-diagonal weights (not Hebbian: any such W) and a ±1 state."""
    size = draw(st.integers(2, 12))
    upper = draw(hnp.arrays(np.float64, (size, size), elements=st.floats(-2, 2)))
    weights = np.triu(upper, 1)
    weights = weights + weights.T
    state = draw(hnp.arrays(np.float64, size, elements=st.sampled_from([-1.0, 1.0])))
    order = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=3 * size))
    return weights, state, order


@settings(max_examples=60, deadline=None)
@given(symmetric_network_and_state())
def test_energy_never_increases_under_asynchronous_updates(case):
    weights, state, order = case
    network = HopfieldNetwork.from_weights(tg.Tensor(weights))
    energy = network.energy(state).item()
    for neuron in order:
        updated = network.step_asynchronous(state, order=[neuron]).numpy()
        new_energy = network.energy(updated).item()
        assert new_energy <= energy + 1e-12
        if not np.array_equal(updated, state):  # a flip strictly lowers E by 2|hᵢ|
            field = network.local_field(state).numpy()[neuron]
            assert new_energy == pytest.approx(energy - 2 * abs(field), abs=1e-9)
        state, energy = updated, new_energy


def test_energy_matches_the_formula(device):
    patterns = random_patterns(3, 20)
    network = HopfieldNetwork(20, device=device, dtype=np.float64).store(patterns)
    weights = patterns.T @ patterns / 20
    np.fill_diagonal(weights, 0)
    np.testing.assert_allclose(network.weights.numpy(), weights)
    states = random_patterns(4, 20, seed=1)
    expected = -0.5 * np.einsum("bi,ij,bj->b", states, weights, states)
    np.testing.assert_allclose(network.energy(tg.Tensor(states, device=device)).numpy(), expected)


def test_stored_patterns_are_fixed_points_when_few_are_stored(device):
    patterns = random_patterns(3, 100)
    network = HopfieldNetwork(100, device=device).store(tg.Tensor(patterns, device=device))
    assert np.array_equal(network.step_synchronous(tg.Tensor(patterns, device=device)).numpy(), patterns)
    result = network.recall(tg.Tensor(patterns, device=device))
    assert result.status == ("converged",) * 3 and result.steps == (1, 1, 1)


def test_recall_from_ten_percent_flipped_bits_succeeds_for_5_patterns_in_100_neurons():
    # 100 seeded trials, each recalling all 5 stored patterns: 500 probes
    assert recall_statistics(100, 5, trials=100, flip_fraction=0.1, seed=0).exact >= 0.95


def test_recall_degrades_past_the_capacity_of_about_0_14_n():
    light, near, heavy = (recall_statistics(100, count, trials=200 // count, seed=1) for count in (5, 14, 25))
    assert light.exact >= 0.95 and heavy.exact <= 0.3 and light.exact > near.exact > heavy.exact
    # past capacity the states drift far from the patterns, not just a bit or two off
    assert light.overlap > 0.99 and heavy.overlap < 0.8


def test_recall_one_probe_from_a_corrupted_pattern(device):
    patterns = random_patterns(5, 100)
    network = HopfieldNetwork(100, device=device).store(patterns)
    probe = flip_bits(patterns[2:3], 0.1, np.random.default_rng(3))[0]
    result = network.recall(tg.Tensor(probe, device=device), rng=0)
    assert result.status == "converged" and result.steps >= 2
    assert np.array_equal(result.state.numpy(), patterns[2])


def test_synchronous_updates_can_oscillate_where_asynchronous_converge():
    network = HopfieldNetwork.from_weights(tg.Tensor([[0.0, -1.0], [-1.0, 0.0]]))
    synchronous = network.recall([1.0, 1.0], mode="synchronous")
    assert synchronous.status == "oscillated" and synchronous.steps == 2
    asynchronous = network.recall([1.0, 1.0], mode="asynchronous", rng=0)
    assert asynchronous.status == "converged"
    assert asynchronous.state.numpy().tolist() in ([1.0, -1.0], [-1.0, 1.0])


def test_recall_reports_the_step_limit_and_each_status_of_a_batch():
    network = HopfieldNetwork(100).store(random_patterns(5, 100))
    probes = flip_bits(random_patterns(5, 100), 0.1, np.random.default_rng(0))
    assert set(network.recall(probes, max_steps=1).status) == {"step_limit"}
    assert network.recall(probes, max_steps=1).steps == (1,) * 5
    two_cycle = HopfieldNetwork.from_weights([[0.0, -1.0], [-1.0, 0.0]])
    result = two_cycle.recall([[1.0, 1.0], [1.0, -1.0]], mode="synchronous")
    assert result.status == ("oscillated", "converged")


def test_bad_patterns_and_sizes_are_clear_errors():
    network = HopfieldNetwork(4)
    with pytest.raises(ValueError, match="only -1 and \\+1, found 0.0"):
        network.store([[1, -1, 0, 1]])
    with pytest.raises(ValueError, match="only -1 and \\+1"):
        network.recall([0.5, 1, 1, 1])
    with pytest.raises(ValueError, match=r"shape \(4,\) or \(batch, 4\).*got \(5,\)"):
        network.store([1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="got \\(2, 2, 4\\)"):
        network.energy(np.ones((2, 2, 4)))
    with pytest.raises(ValueError, match=r"symmetric.*got max \|W - Wᵀ\| = 1.0"):
        HopfieldNetwork.from_weights([[0.0, 1.0], [2.0, 0.0]])
    with pytest.raises(ValueError, match=r"zero diagonal, got max \|Wᵢᵢ\| = 1.0"):
        HopfieldNetwork.from_weights([[1.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="square"):
        HopfieldNetwork.from_weights(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="mode"):
        network.recall([1, 1, 1, 1], mode="parallel")
    with pytest.raises(IndexError, match="outside range\\(4\\)"):
        network.step_asynchronous([1, 1, 1, 1], order=[4])
    with pytest.raises(ValueError, match="num_neurons"):
        HopfieldNetwork(0)


# ----- modern (continuous) Hopfield ----------------------------------------------------------

def test_one_modern_update_equals_dot_product_attention_over_the_stored_patterns(device):
    # nn.LuongAttention(score="dot"): context = softmax(q·kᵀ) v with keys = values = patterns,
    # and the query scaled by β
    rng = np.random.default_rng(0)
    patterns = tg.Tensor(rng.standard_normal((6, 8)), device=device)
    queries = tg.Tensor(rng.standard_normal((3, 8)), device=device)
    beta = 0.7
    updated = modern_hopfield_update(patterns, queries, beta)
    attention = LuongAttention(8, score="dot", device=device, dtype=np.float64)
    keys = patterns.unsqueeze(0).expand(3, 6, 8)
    context = attention(queries * beta, keys).context
    np.testing.assert_allclose(updated.numpy(), context.numpy(), rtol=1e-12, atol=1e-12)


def test_modern_hopfield_retrieves_a_stored_pattern_in_one_step():
    patterns = random_patterns(20, 64, seed=2)
    noisy = flip_bits(patterns[7:8], 0.2, np.random.default_rng(0))[0]
    state, steps = modern_hopfield_retrieve(tg.Tensor(patterns), tg.Tensor(noisy), beta=1.0)
    np.testing.assert_allclose(state.numpy(), patterns[7], atol=1e-6)
    assert steps <= 2  # one step retrieves, the next confirms the fixed point


def test_modern_hopfield_update_gradcheck():
    rng = np.random.default_rng(1)
    patterns = tg.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    query = tg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(lambda p, q: modern_hopfield_update(p, q, beta=1.5), [patterns, query])


def test_modern_hopfield_shape_errors():
    with pytest.raises(ValueError, match="pattern dimension 3"):
        modern_hopfield_update(tg.Tensor(np.zeros((4, 3))), tg.Tensor(np.zeros(5)))
    with pytest.raises(ValueError, match="num_patterns, dim"):
        modern_hopfield_update(tg.Tensor(np.zeros(3)), tg.Tensor(np.zeros(3)))
