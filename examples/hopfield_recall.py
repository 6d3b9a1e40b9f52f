"""A Hopfield network recalling 8x8 digits, step by step, and the energy it descends.

Three binarised 8x8 digits from scikit-learn's digits data (a pixel is +1 where the ink is above
the image's mean, else -1) are stored with the Hebbian rule W = (1/N) Σ ξξᵀ, Wᵢᵢ = 0, N = 64.
A stored digit with 15% of its pixels flipped is then recalled by asynchronous updates (one
neuron at a time, s_i ← sign(Σ_j W_ij s_j)); the picture shows the state after every 8 updates
and the energy E(s) = -½ sᵀ W s after every single update, which can only fall or stay (each
update takes the sign of the neuron's own field). Finally the same network is run with
synchronous updates (all neurons at once) from a probe orthogonal to every stored pattern:
its field is then -(P/N) s, so every neuron flips at once, s → -s → s, a 2-cycle that
asynchronous updates never show (they lower the energy instead).

Run:  python examples/hopfield_recall.py [--plot hopfield_recall.png] [--seed 0] [--quick]

Measured (seed 0): the corrupted "4" (10 of 64 pixels flipped) is recalled exactly after 128
single-neuron updates (two sweeps, the second changing nothing), the energy falling from -15.8
to -35.6; from the orthogonal probe all 64 pixels flip at every synchronous step, the energy
staying at 1.5.
"""
import argparse

import numpy as np

from tinygrad_rnn.models import HopfieldNetwork

DIGITS = (3, 4, 7)   # the digits images overlap a lot; these three are stored well


def binary_digits(digits=DIGITS):
    """One ±1 8x8 image (flattened, 64) per digit: the first example of each in scikit-learn's
    digits data, +1 where the pixel is above the image's mean."""
    from sklearn.datasets import load_digits
    data = load_digits()
    images = [data.images[np.flatnonzero(data.target == d)[0]] for d in digits]
    return np.array([np.where(image > image.mean(), 1.0, -1.0).ravel() for image in images])


def recall_steps(net, probe, every, rng):
    """Asynchronous recall one neuron at a time, sweeping in random orders until a whole sweep
    changes nothing: the states after every ``every`` updates and the energy after each update."""
    state, states, energies = probe.copy(), [probe.copy()], [net.energy(probe).item()]
    updates = 0
    while True:
        changed = False
        for i in rng.permutation(net.num_neurons):
            new = net.step_asynchronous(state, order=[i]).numpy()
            changed |= bool((new != state).any())
            state = new
            updates += 1
            energies.append(net.energy(state).item())
            if updates % every == 0:
                states.append(state.copy())
        if not changed:
            return states, np.array(energies), updates


def orthogonal_probe(patterns, rng, max_flips=10_000):
    """A ±1 state with zero overlap ξ·s with every stored pattern, found by flipping, one at a
    time, the pixel that most reduces Σ|ξ·s| (random ties)."""
    state = rng.choice([-1.0, 1.0], patterns.shape[1])
    for _ in range(max_flips):
        overlaps = patterns @ state
        if not overlaps.any():
            return state
        # flipping pixel j changes each overlap by -2 ξ_kj s_j
        after = np.abs(overlaps[:, None] - 2 * patterns * state).sum(axis=0)
        candidates = np.flatnonzero(after == after.min())
        state[rng.choice(candidates)] *= -1
    raise RuntimeError("no state orthogonal to the stored patterns was found")


def two_cycle(net, patterns, rng):
    """(probe, state, next state) of a synchronous 2-cycle from an orthogonal probe."""
    probe = orthogonal_probe(patterns, rng)
    result = net.recall(probe, mode="synchronous")
    assert result.status == "oscillated", result.status
    first = result.state.numpy()
    return probe, first, net.step_synchronous(first).numpy()


def plot(patterns, corrupted, states, energies, cycle, net, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = states[:: max(1, len(states) // 9)][:9] + [states[-1]]
    figure = plt.figure(figsize=(12, 7))
    grid = figure.add_gridspec(3, max(len(patterns), len(shown)))
    for k, pattern in enumerate(patterns):
        ax = figure.add_subplot(grid[0, k])
        ax.imshow(pattern.reshape(8, 8), cmap="gray_r")
        ax.set_title(f"stored {DIGITS[k]}", fontsize=9)
        ax.axis("off")
    for k, state in enumerate(shown):
        ax = figure.add_subplot(grid[1, k])
        ax.imshow(state.reshape(8, 8), cmap="gray_r")
        ax.set_title("probe" if k == 0 else f"E={net.energy(state).item():.1f}", fontsize=9)
        ax.axis("off")
    energy = figure.add_subplot(grid[2, :len(shown) // 2 + 1])
    energy.plot(energies)
    energy.set(xlabel="single-neuron updates", ylabel="energy E(s)", title="asynchronous: energy never rises")
    _, first, second = cycle
    for k, state in enumerate((first, second, first)):
        ax = figure.add_subplot(grid[2, len(shown) // 2 + 2 + k])
        ax.imshow(state.reshape(8, 8), cmap="gray_r")
        ax.set_title(f"sync step {k}\nE={net.energy(state).item():.1f}", fontsize=8)
        ax.axis("off")
    figure.suptitle("Hopfield recall of a corrupted digit (row 2) and a synchronous 2-cycle (bottom right)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default="hopfield_recall.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flip", type=float, default=0.15, help="fraction of the probe's pixels flipped")
    parser.add_argument("--quick", action="store_true", help="the same run (it takes seconds)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    patterns = binary_digits()
    net = HopfieldNetwork(64, dtype=np.float64).store(patterns)
    target = patterns[1]
    flipped = rng.choice(64, int(round(args.flip * 64)), replace=False)
    corrupted = target.copy()
    corrupted[flipped] *= -1
    states, energies, updates = recall_steps(net, corrupted, 8, rng)
    assert np.all(np.diff(energies) <= 1e-12), "an asynchronous update raised the energy"
    exact = bool((states[-1] == target).all())
    print(f"corrupted {DIGITS[1]}: {len(flipped)} of 64 pixels flipped; recalled "
          f"{'exactly' if exact else 'a different state'} after {updates} single-neuron updates; "
          f"energy {energies[0]:.1f} -> {energies[-1]:.1f}")
    cycle = two_cycle(net, patterns, rng)
    _, first, second = cycle
    print(f"synchronous updates from a probe orthogonal to the stored digits: a 2-cycle in which "
          f"{int((first != second).sum())} of 64 "
          f"pixels flip at every step, energy {net.energy(first).item():.1f} and {net.energy(second).item():.1f}")
    plot(patterns, corrupted, states, energies, cycle, net, args.plot)
    print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
