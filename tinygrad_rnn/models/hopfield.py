"""Hopfield networks: the classical binary associative memory and its modern continuous form.

Classical (Hopfield 1982). N neurons with states sᵢ ∈ {-1, +1} and symmetric weights with a
zero diagonal. Hebbian storage of P patterns ξ¹…ξᴾ:

    W = (1/N) Σ_μ ξ^μ ξ^μᵀ,   Wᵢᵢ = 0

A neuron takes the sign of its local field hᵢ = Σⱼ Wᵢⱼ sⱼ (keeping its state when hᵢ = 0).
The energy

    E(s) = -½ sᵀ W s

never increases when neurons update one at a time (asynchronously): flipping sᵢ changes E by
-Δsᵢ hᵢ ≤ 0. So asynchronous recall always ends at a fixed point, a local minimum of E.
Updating all neurons at once (synchronously) can instead fall into a 2-cycle. A stored
pattern is recalled from a corrupted probe while the load P/N stays below about 0.14.

Modern (Ramsauer et al. 2020, "Hopfield Networks is All You Need"). Continuous states,
patterns as the columns of X, inverse temperature β:

    ξ ← X softmax(β Xᵀ ξ)

which is one step of dot-product attention with the query ξ and the stored patterns as both
keys and values (query scaled by β). It retrieves a pattern in one step when patterns are
well separated; it is written with engine ops, so it is differentiable.
"""
from collections import namedtuple

import numpy as np

from ..dtypes import get_default_dtype
from ..tensor import Tensor

RecallResult = namedtuple("RecallResult", "state status steps")
RecallResult.__doc__ = """What ``HopfieldNetwork.recall`` found, per probe.

``state``: the final states (a Tensor shaped like the probe). ``status``: "converged" (a fixed
point), "oscillated" (synchronous 2-cycle) or "step_limit"; a string for one probe, a tuple
of strings for a batch. ``steps``: sweeps run, including the one that revealed the status (int or tuple)."""

STATUSES = ("step_limit", "converged", "oscillated")


def _as_tensor(values, like=None, device=None):
    if isinstance(values, Tensor):
        return values
    if like is not None:
        return Tensor(values, dtype=like.dtype, device=like.device)
    return Tensor(values, device=device)


class HopfieldNetwork:
    """A classical binary Hopfield network of ``num_neurons`` ±1 neurons.

    ``store(patterns)`` adds patterns (P, N) with the Hebbian rule; ``from_weights(W)`` uses
    given symmetric zero-diagonal weights instead. States are (N,) or a batch (B, N) of ±1.
    """

    def __init__(self, num_neurons, device=None, dtype=None):
        if not isinstance(num_neurons, (int, np.integer)) or num_neurons < 1:
            raise ValueError(f"HopfieldNetwork: num_neurons must be a positive integer, got {num_neurons!r}")
        self.num_neurons = int(num_neurons)
        self.num_patterns = 0
        self.weights = Tensor(np.zeros((self.num_neurons, self.num_neurons)),
                              dtype=dtype or get_default_dtype(), device=device)

    @classmethod
    def from_weights(cls, weights):
        """A network with the given weights (N, N), which must be symmetric (up to rounding)
        with a zero diagonal: the conditions under which asynchronous updates never increase
        the energy."""
        weights = _as_tensor(weights)
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(f"HopfieldNetwork.from_weights: weights must be square (N, N), got shape {weights.shape}")
        xp, w = weights.xp, weights.data
        if not bool(xp.allclose(w, w.T)):
            raise ValueError(f"HopfieldNetwork.from_weights: weights {weights.shape} must be symmetric "
                             f"(W == Wᵀ), got max |W - Wᵀ| = {float(xp.abs(w - w.T).max())}")
        diagonal = xp.diagonal(w)
        if bool(xp.any(diagonal != 0)):
            raise ValueError(f"HopfieldNetwork.from_weights: weights {weights.shape} must have a zero "
                             f"diagonal, got max |Wᵢᵢ| = {float(xp.abs(diagonal).max())}")
        network = cls(weights.shape[0], device=weights.device, dtype=weights.dtype)
        # (W + Wᵀ)/2 is exactly symmetric, which the energy argument needs, even when W was
        # symmetric only up to rounding
        network.weights = Tensor((w + w.T) / 2)
        return network

    # ----- checks -----------------------------------------------------------------------
    def _states(self, values, what):
        """``values`` as a ±1 Tensor of shape (N,) or (B, N) on this network's device."""
        states = _as_tensor(values, like=self.weights)
        if states.ndim not in (1, 2) or states.shape[-1] != self.num_neurons:
            raise ValueError(f"HopfieldNetwork: {what} must have shape ({self.num_neurons},) or "
                             f"(batch, {self.num_neurons}) for {self.num_neurons} neurons, got {states.shape}")
        if states.device is not self.weights.device:
            raise RuntimeError(f"HopfieldNetwork: {what} is on device {states.device.name}, the network on "
                               f"{self.weights.device.name}")
        data = states.data
        bad = ~((data == 1) | (data == -1))
        if bool(bad.any()):
            raise ValueError(f"HopfieldNetwork: {what} must hold only -1 and +1, found "
                             f"{float(data[bad].reshape(-1)[0])!r}")
        return states.astype(self.weights.dtype)

    # ----- storage and energy -------------------------------------------------------------
    def store(self, patterns):
        """Add ±1 patterns (N,) or (P, N) with the Hebbian rule W += (1/N) Σ ξξᵀ, Wᵢᵢ = 0."""
        patterns = self._states(patterns, "patterns").data
        patterns = patterns.reshape(-1, self.num_neurons)
        xp = self.weights.xp
        update = patterns.T @ patterns / self.num_neurons
        update = update * (1 - xp.eye(self.num_neurons, dtype=update.dtype))
        self.weights = Tensor(self.weights.data + update)
        self.num_patterns += patterns.shape[0]
        return self

    def local_field(self, states):
        """h = W s for each state (W is symmetric, so a batch is s @ W)."""
        states = self._states(states, "states")
        return Tensor(states.data @ self.weights.data)

    def energy(self, states):
        """E(s) = -½ sᵀ W s: a scalar Tensor for (N,), a (B,) Tensor for a batch."""
        states = self._states(states, "states")
        field = states.data @ self.weights.data
        return Tensor(-0.5 * (field * states.data).sum(axis=-1))

    # ----- dynamics -----------------------------------------------------------------------
    @staticmethod
    def _sign_keep(field, current, xp):
        """sign(h), keeping the current state where h == 0 (so ties never raise the energy)."""
        return xp.where(field > 0, 1, xp.where(field < 0, -1, current)).astype(current.dtype)

    def step_synchronous(self, states):
        """All neurons at once: s ← sign(W s)."""
        states = self._states(states, "states")
        xp = states.xp
        return Tensor(self._sign_keep(states.data @ self.weights.data, states.data, xp))

    def step_asynchronous(self, states, order=None, rng=None):
        """Neurons update one at a time, each seeing the already-updated states of those before
        it. ``order`` lists the neurons to update (default: one sweep, a random permutation of
        range(N) from ``rng``, a NumPy Generator or seed). A batch updates the same neuron of
        every state together."""
        states = self._states(states, "states")
        order = self._order(order, rng)
        xp, w = states.xp, self.weights.data
        s = states.data.reshape(-1, self.num_neurons).copy()
        for i in order:
            s[:, i] = self._sign_keep(s @ w[:, i], s[:, i], xp)
        return Tensor(s.reshape(states.shape))

    def _order(self, order, rng):
        if order is None:
            rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
            return rng.permutation(self.num_neurons).tolist()
        order = [int(i) for i in order]
        if any(not 0 <= i < self.num_neurons for i in order):
            raise IndexError(f"HopfieldNetwork: order holds neurons outside range({self.num_neurons}): {order}")
        return order

    def recall(self, probe, max_steps=100, mode="asynchronous", rng=None):
        """Iterate from ``probe`` until every state is a fixed point, a synchronous 2-cycle,
        or ``max_steps`` sweeps have run; see ``RecallResult``.

        ``mode`` is "asynchronous" (random order per sweep from ``rng``; always reaches a fixed
        point, given enough steps) or "synchronous" (may oscillate between two states)."""
        if mode not in ("asynchronous", "synchronous"):
            raise ValueError(f"HopfieldNetwork.recall: mode must be 'asynchronous' or 'synchronous', got {mode!r}")
        if not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"HopfieldNetwork.recall: max_steps must be a positive integer, got {max_steps!r}")
        probe = self._states(probe, "probe")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        xp = probe.xp
        device = self.weights.device
        current, previous = probe.data.reshape(-1, self.num_neurons), None
        status = np.zeros(current.shape[0], dtype=np.int64)  # index into STATUSES; 0 = running
        steps = np.full(current.shape[0], max_steps, dtype=np.int64)
        for step in range(1, max_steps + 1):
            finished = status != 0
            running = Tensor(current)
            updated = (self.step_synchronous(running) if mode == "synchronous"
                       else self.step_asynchronous(running, rng=rng)).data
            fixed = device.to_numpy(xp.all(updated == current, axis=1))
            cycled = ~fixed & (False if previous is None else device.to_numpy(xp.all(updated == previous, axis=1)))
            status[~finished & fixed] = STATUSES.index("converged")
            status[~finished & cycled] = STATUSES.index("oscillated")
            steps[~finished & (fixed | cycled)] = step
            # a state keeps the value it had when its status became known
            previous, current = current, xp.where(device.asarray(finished[:, None]), current, updated)
            if (status != 0).all():
                break
        final = Tensor(current.reshape(probe.shape))
        names = tuple(STATUSES[s] for s in status)
        if probe.ndim == 1:
            return RecallResult(final, names[0], int(steps[0]))
        return RecallResult(final, names, tuple(int(s) for s in steps))


def modern_hopfield_update(patterns, query, beta=1.0):
    """One retrieval step of the modern Hopfield network: ξ ← X softmax(β Xᵀ ξ).

    ``patterns`` (P, d) holds the stored patterns as rows (X = patternsᵀ), ``query`` is (d,)
    or (..., d). Returns the new state, shaped like ``query``. Differentiable in all inputs.
    """
    patterns, query = _as_tensor(patterns), _as_tensor(query, like=patterns)
    if patterns.ndim != 2:
        raise ValueError(f"modern_hopfield_update: patterns must be (num_patterns, dim), got shape {patterns.shape}")
    if query.ndim < 1 or query.shape[-1] != patterns.shape[1]:
        raise ValueError(f"modern_hopfield_update: query of shape {query.shape} does not end in the "
                         f"pattern dimension {patterns.shape[1]} (patterns {patterns.shape})")
    similarities = (query * beta) @ patterns.T          # (..., P) = β ξᵀX
    return similarities.softmax(axis=-1) @ patterns     # (..., d) = X softmax(·)


def modern_hopfield_retrieve(patterns, query, beta=1.0, max_steps=10, tol=1e-6):
    """Iterate ``modern_hopfield_update`` until the state moves by less than ``tol``
    (max-norm) or ``max_steps`` updates have run; returns (state, steps)."""
    state = _as_tensor(query, like=_as_tensor(patterns))
    for step in range(1, max_steps + 1):
        updated = modern_hopfield_update(patterns, state, beta)
        moved = float((updated - state).abs().max().item())
        state = updated
        if moved < tol:
            break
    return state, step


def flip_bits(patterns, fraction, rng):
    """Copies of ±1 ``patterns`` (P, N) (NumPy) with round(fraction·N) distinct bits of each
    flipped, chosen by ``rng``."""
    probes = np.array(patterns, copy=True)
    count = int(round(fraction * probes.shape[1]))
    for probe in probes:
        probe[rng.choice(probes.shape[1], count, replace=False)] *= -1
    return probes


RecallStatistics = namedtuple("RecallStatistics", "exact overlap")
RecallStatistics.__doc__ = """``exact``: the fraction of probes that settled exactly on their pattern;
``overlap``: the mean overlap m = ξ·s/N of the final states with their patterns (1 = perfect)."""


def recall_statistics(num_neurons, num_patterns, trials, flip_fraction=0.1, seed=0, max_steps=100, device=None):
    """How well stored patterns are recalled (``RecallStatistics``): in each trial,
    ``num_patterns`` random ±1 patterns are stored in a fresh network and every one is
    recalled (asynchronously) from a copy with ``flip_fraction`` of its bits flipped. The
    capacity experiment of Hopfield (1982) and Amit, Gutfreund & Sompolinsky (1985)."""
    rng = np.random.default_rng(seed)
    exact, overlap = 0, 0.0
    for _ in range(trials):
        patterns = rng.choice([-1.0, 1.0], size=(num_patterns, num_neurons))
        network = HopfieldNetwork(num_neurons, device=device).store(patterns)
        final = network.recall(flip_bits(patterns, flip_fraction, rng), max_steps=max_steps, rng=rng).state.numpy()
        exact += int((final == patterns).all(axis=1).sum())
        overlap += float((final * patterns).sum()) / num_neurons
    return RecallStatistics(exact / (trials * num_patterns), overlap / (trials * num_patterns))
