# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10. Hopfield networks
#
# **What you will learn**
#
# - how a Hopfield network stores patterns in its weights with the Hebbian rule
#   $W = \frac1N \sum_\mu \xi^\mu \xi^{\mu\top}$ (`tinygrad_rnn.models.HopfieldNetwork`);
# - why the energy $E(s) = -\tfrac12 s^\top W s$ never rises when the units update one at a time,
#   watched update by update;
# - recall: a stored letter with a fifth of its pixels flipped comes back exactly;
# - capacity: how recall breaks down as the number of stored patterns $P$ approaches
#   $0.14\,N$ (a small sweep);
# - the modern (continuous) Hopfield network of Ramsauer et al. (2020), whose update is one
#   step of softmax attention (`tinygrad_rnn.models.modern_hopfield_update`, checked against
#   `nn.LuongAttention` with dot scores and against NumPy).
#
# Prerequisite: [tutorial 8](08_attention.py) for attention. The symbols used across the
# tutorials are in [the notation table](NOTATION.md); a Hopfield network has only one
# parameter, the symmetric weight matrix $W$ (`network.weights`, $N \times N$).

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.apps.plotting import save_and_show
from tinygrad_rnn import nn
from tinygrad_rnn.models import HopfieldNetwork, flip_bits, modern_hopfield_update, recall_statistics

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Storing patterns: the Hebbian rule
#
# A classical Hopfield network has $N$ binary units $s_i \in \{-1, +1\}$, every pair connected
# by a symmetric weight $W_{ij} = W_{ji}$, no unit connected to itself ($W_{ii} = 0$). To store
# $P$ patterns $\xi^1, \ldots, \xi^P$ the weights are set once, without any training loop, by
# Hebb's rule ("units that fire together wire together"):
#
# $$W = \frac1N \sum_{\mu=1}^{P} \xi^\mu \xi^{\mu\top}, \qquad W_{ii} = 0.$$
#
# Our patterns are four letters drawn on a $10 \times 10$ grid, so $N = 100$; `#` is $+1$
# (ink), `.` is $-1$.

# %%
LETTERS = {
    "T": ["##########", "##########", "....##....", "....##....", "....##....",
          "....##....", "....##....", "....##....", "....##....", "....##...."],
    "L": ["##........", "##........", "##........", "##........", "##........",
          "##........", "##........", "##........", "##########", "##########"],
    "X": ["##......##", ".##....##.", "..##..##..", "...####...", "....##....",
          "...####...", "..##..##..", ".##....##.", "##......##", "#........#"],
    "O": ["..######..", ".########.", "##......##", "##......##", "##......##",
          "##......##", "##......##", "##......##", ".########.", "..######.."],
}
patterns = np.array([[1.0 if ch == "#" else -1.0 for row in rows for ch in row] for rows in LETTERS.values()])
P, N = patterns.shape
network = HopfieldNetwork(N, dtype="float64").store(patterns)
W = network.weights.numpy()
W_by_hand = patterns.T @ patterns / N
np.fill_diagonal(W_by_hand, 0)
print(f"{P} patterns of {N} units; W is {W.shape}, symmetric: {np.array_equal(W, W.T)}, "
      f"largest |W - Hebb by hand| = {np.abs(W - W_by_hand).max():.1e}")
overlaps = patterns @ patterns.T / N
print("overlaps ξ^μ·ξ^ν / N between the letters (1 on the diagonal):\n", overlaps)

# %% [markdown]
# Why does this store anything? The field on unit $i$ in state $s = \xi^\nu$ is
#
# $$h_i = \sum_j W_{ij} \xi^\nu_j = \xi^\nu_i \;+\; \underbrace{\frac1N \sum_{\mu \ne \nu} \xi^\mu_i \,(\xi^\mu \cdot \xi^\nu)}_{\text{crosstalk}} \;-\; \frac{P}{N}\xi^\nu_i .$$
#
# While the crosstalk from the other patterns is smaller than 1, $\operatorname{sign}(h_i) =
# \xi^\nu_i$ and every stored pattern is a fixed point. The letters overlap (the table above), so
# their crosstalk is not zero, but it is small enough:

# %%
fixed_points = [np.array_equal(network.step_synchronous(p).numpy(), p) for p in patterns]
print("each letter is a fixed point of s ← sign(W s):", dict(zip(LETTERS, fixed_points)))

# %% [markdown]
# ## Energy falls as units update
#
# Recall runs the dynamics $s_i \leftarrow \operatorname{sign}(h_i)$, $h_i = \sum_j W_{ij} s_j$,
# one unit at a time (asynchronously; a unit with $h_i = 0$ keeps its state). The energy
#
# $$E(s) = -\tfrac12 s^\top W s$$
#
# changes by $\Delta E = -\Delta s_i \, h_i$ when unit $i$ changes by $\Delta s_i$ (this uses
# $W = W^\top$ and $W_{ii} = 0$). The update makes $\Delta s_i$ have the sign of $h_i$, so
# $\Delta E \le 0$: the energy can only fall or stay, and since there are finitely many states,
# recall must stop at a fixed point, a local minimum of $E$.
#
# We flip 20 of the 100 pixels of the "T" and update one unit at a time, in a random order per
# sweep, until a whole sweep changes nothing, recording the energy after every update.

# %%
rng = np.random.default_rng(0)
target = patterns[0]
probe = flip_bits(target[None], 0.2, rng)[0]
state, energies, snapshots, changes = probe.copy(), [network.energy(probe).item()], [probe.copy()], []
while True:
    changed = 0
    for i in rng.permutation(N):
        field = W[i] @ state                                   # h_i
        new = network.step_asynchronous(state, order=[i]).numpy()
        if new[i] != state[i]:
            changes.append((new[i] - state[i]) * field)        # Δs_i h_i, for the check below
        changed += int(new[i] != state[i])
        state = new
        energies.append(network.energy(state).item())
    snapshots.append(state.copy())
    if not changed:
        break
energies = np.array(energies)
print(f"probe: {int((probe != target).sum())} of {N} pixels wrong; after {len(snapshots) - 1} sweeps "
      f"({len(energies) - 1} single-unit updates) {int((state != target).sum())} wrong")
print(f"energy {energies[0]:.2f} → {energies[-1]:.2f} (the stored T has E = {network.energy(target).item():.2f}); "
      f"largest single-update rise: {np.diff(energies).max():.2e}")
result = network.recall(probe, rng=1)
print(f"network.recall does the same: status {result.status!r} after {result.steps} sweeps, "
      f"equal to the T: {np.array_equal(result.state.numpy(), target)}")

# %%
fig = plt.figure(figsize=(10, 5.6))
grid = fig.add_gridspec(2, len(snapshots) + 2, height_ratios=[1, 1.15])
shown = [("stored T", target), ("probe (20 flipped)", probe)] + [(f"after sweep {k}", s) for k, s in enumerate(snapshots[1:], 1)]
for k, (title, image) in enumerate(shown):
    ax = fig.add_subplot(grid[0, k])
    ax.imshow(image.reshape(10, 10), cmap="gray_r", vmin=-1, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
ax = fig.add_subplot(grid[1, :])
ax.plot(energies, color="C0", lw=1.5, label="energy after each single-unit update")
ax.axhline(network.energy(target).item(), color="C3", ls="--", lw=1, label="energy of the stored T")
for sweep in range(1, len(snapshots)):
    ax.axvline(sweep * N, color="0.7", lw=0.8)
ax.set_xlabel(f"single-unit updates (grey lines: end of each sweep of {N})")
ax.set_ylabel(r"$E(s) = -\frac{1}{2} s^\top W s$")
ax.legend(loc="upper right")
ax.set_title("Asynchronous recall of a corrupted letter: the energy never rises")
fig.tight_layout()
save_and_show(fig, "10_recall_energy.png")

# %% [markdown]
# Every letter, from probes with 20 pixels flipped (a new random corruption each):

# %%
probes = flip_bits(patterns, 0.2, np.random.default_rng(1))
recalled = network.recall(probes, rng=2)
letters_recalled = (recalled.state.numpy() == patterns).all(axis=1)
print("recalled exactly:", dict(zip(LETTERS, letters_recalled.tolist())), "statuses:", recalled.status)

# %% [markdown]
# ## Capacity
#
# With random patterns the crosstalk term is a sum of $(P-1)$ random $\pm 1/N$ products of size
# about $\sqrt{P/N}$: as the load $\alpha = P/N$ grows, more bits see a crosstalk larger than 1,
# the stored patterns stop being fixed points, and recall ends in a mixture of patterns. Amit,
# Gutfreund and Sompolinsky (1985) put the breakdown at $\alpha_c \approx 0.138$ for large $N$.
# `recall_statistics` stores $P$ random patterns in a fresh network of $N = 100$ units, recalls
# each from a copy with 10% of its bits flipped, and reports the fraction recalled exactly and
# the mean overlap $m = \xi \cdot s / N$ with the stored pattern (1 is perfect).

# %%
N_CAPACITY, TRIALS = 100, 6
loads = np.array([0.03, 0.06, 0.10, 0.14, 0.20, 0.30])
capacity = [recall_statistics(N_CAPACITY, int(round(a * N_CAPACITY)), TRIALS, flip_fraction=0.1, seed=0)
            for a in loads]
exact = np.array([c.exact for c in capacity])
overlap = np.array([c.overlap for c in capacity])
for a, e, m in zip(loads, exact, overlap):
    print(f"P/N = {a:.2f} (P = {int(round(a * N_CAPACITY)):2d}): exact recall {e:.2f}, mean overlap {m:.3f}")

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
ax.plot(loads, exact, "o-", label="fraction recalled exactly")
ax.plot(loads, overlap, "s--", label=r"mean overlap $m = \xi \cdot s / N$")
ax.axvline(0.138, color="0.5", ls=":", label=r"$\alpha_c \approx 0.138$ (large $N$)")
ax.set_xlabel(r"load $\alpha = P / N$")
ax.set_ylabel("recall quality")
ax.set_ylim(-0.05, 1.05)
ax.set_title(f"Capacity: N = {N_CAPACITY}, {TRIALS} networks per load, 10% of bits flipped")
ax.legend(loc="lower left")
ax.grid(alpha=0.3)
fig.tight_layout()
save_and_show(fig, "10_capacity.png")

# %% [markdown]
# ## The modern Hopfield network is attention
#
# Ramsauer et al. (2020), "Hopfield Networks is All You Need", replace the binary units by a
# continuous state $\xi \in \mathbb R^d$ and the quadratic energy by one with a log-sum-exp.
# With the stored patterns as the columns of $X = (x^1, \ldots, x^P)$ and an inverse temperature
# $\beta$, its update is
#
# $$\xi^{\text{new}} = X \operatorname{softmax}(\beta X^\top \xi).$$
#
# Read it as attention: the state $\xi$ is the **query**, the stored patterns are both the
# **keys** (the scores $x^{\mu\top}\xi$ are dot products) and the **values** (the output is their
# softmax-weighted average). That is Luong's "dot" attention of [tutorial 8](08_attention.py)
# with the query scaled by $\beta$, and with learned projections $W_Q, W_K, W_V$ it is the
# Transformer's attention with $\beta = 1/\sqrt{d_k}$.
#
# We store 6 random patterns of dimension 16 and query with a noisy copy of pattern 2, comparing
# `modern_hopfield_update` with `nn.LuongAttention(score="dot")` and with the formula in NumPy.

# %%
d, P_MODERN, BETA = 16, 6, 0.1
modern_rng = np.random.default_rng(3)
stored = modern_rng.standard_normal((P_MODERN, d))
query = stored[2] + 0.8 * modern_rng.standard_normal(d)
update = modern_hopfield_update(tg.tensor(stored), tg.tensor(query), beta=BETA).numpy()

scores = BETA * stored @ query                        # β Xᵀξ
softmax = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
update_numpy = stored.T @ softmax                     # X softmax(β Xᵀ ξ)
attention = nn.LuongAttention(d, score="dot", dtype="float64")
attended = attention(tg.tensor(BETA * query[None]), tg.tensor(stored[None]))
print("attention weights over the stored patterns:", attended.weights.numpy()[0])
print(f"largest difference: update vs NumPy {np.abs(update - update_numpy).max():.1e}, "
      f"update vs LuongAttention's context {np.abs(update - attended.context.numpy()[0]).max():.1e}")

# %% [markdown]
# The larger $\beta$, the sharper the softmax, and the closer one update lands on the nearest
# stored pattern: with large $\beta$ the network retrieves in **one** step, with small $\beta$ it
# returns an average of patterns (a "metastable state"). We measure the distance of the update
# from pattern 2 and the weight the softmax gives it:

# %%
betas = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
weights_on_target, distances = [], []
for beta in betas:
    s = beta * stored @ query
    weights_on_target.append((np.exp(s - s.max()) / np.exp(s - s.max()).sum())[2])
    distances.append(np.linalg.norm(modern_hopfield_update(tg.tensor(stored), tg.tensor(query), beta=beta).numpy() - stored[2]))
weights_on_target, distances = np.array(weights_on_target), np.array(distances)
print(f"query's distance from pattern 2: {np.linalg.norm(query - stored[2]):.3f}")
for beta, w, dist in zip(betas, weights_on_target, distances):
    print(f"β = {beta:4.2f}: softmax weight on pattern 2 = {w:.4f}, ‖ξ_new − x²‖ = {dist:.4f}")

# %%
fig, ax = plt.subplots(figsize=(7, 4.8))
ax.semilogx(betas, weights_on_target, "o-", label="softmax weight on the nearest pattern")
ax.set_xlabel(r"inverse temperature $\beta$")
ax.set_ylabel("weight on the nearest pattern", color="C0")
ax2 = ax.twinx()
ax2.semilogx(betas, distances, "s--", color="C1", label=r"$\|\xi^{new} - x^2\|$ after one update")
ax2.axhline(np.linalg.norm(query - stored[2]), color="C1", ls=":", lw=1)
ax2.text(betas[0], np.linalg.norm(query - stored[2]), " the query's distance", color="C1", va="bottom", fontsize=9)
ax2.set_ylabel("distance from the nearest pattern", color="C1")
ax.set_title("Modern Hopfield update: one step retrieves when β is large")
fig.tight_layout(rect=(0, 0.1, 1, 1))
fig.legend(loc="lower center", ncol=2, fontsize=9)
save_and_show(fig, "10_modern_hopfield.png")

# %% [markdown]
# ## Check yourself

# %%
# the Hebbian weights are symmetric with a zero diagonal, and every letter is a fixed point
assert np.abs(W - W_by_hand).max() < 1e-12 and np.array_equal(W, W.T) and not np.diagonal(W).any()
assert all(fixed_points)
# energy: never rises over single-unit updates, each change lowers it by Δs_i h_i > 0, and it ends
# at the stored T, from a probe with 20 pixels wrong
assert np.diff(energies).max() <= 1e-12
assert all(c > 0 for c in changes) and np.isclose(energies[0] - energies[-1], sum(changes))
assert int((probe != target).sum()) == 20 and np.array_equal(state, target)
assert energies[-1] < energies[0] and np.isclose(energies[-1], network.energy(target).item())
assert result.status == "converged" and np.array_equal(result.state.numpy(), target)
assert letters_recalled.all()
# capacity: exact recall at a low load, breakdown past 0.14
assert exact[0] >= 0.95 and exact[-1] <= 0.2 and overlap[0] > overlap[-1]
assert exact[loads <= 0.06].min() > exact[loads >= 0.2].max()
# modern Hopfield: one update is softmax attention (float64, to rounding), and a larger β puts
# more weight on the nearest pattern and lands closer to it
assert np.abs(update - update_numpy).max() < 1e-12
assert np.abs(update - attended.context.numpy()[0]).max() < 1e-12
assert np.all(np.diff(weights_on_target) >= 0) and weights_on_target[-1] > 0.999 > 0.5 > weights_on_target[0]
assert distances[-1] < 0.01 and distances[0] > 1 and np.all(np.diff(distances) <= 0)
print("all checks passed")
