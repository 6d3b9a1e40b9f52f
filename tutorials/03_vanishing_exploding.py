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
# # 3. Vanishing and exploding gradients
#
# **What you will learn**
#
# - that the gradient reaching an early hidden state is a *product of Jacobians*, one per step;
# - how the spectral radius and the largest singular value of $W_{hh}$ decide whether that
#   product shrinks to nothing or blows up, measured over 100 steps;
# - how gradient clipping (`tg.nn.utils.clip_grad_norm_`) rescues a training run that diverges
#   without it.
#
# Prerequisite: [tutorial 2](02_bptt_by_hand.py), where $\partial L/\partial h_1$ already held
# $W_{hh}^\top$ twice. Notation: [the notation table](NOTATION.md).

# %%

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.apps.plotting import save_and_show
from tinygrad_rnn import functional as F, nn, optim


# %% [markdown]
# ## The product of Jacobians
#
# For $h_t = \tanh(a_t)$, $a_t = W_{xh} x_t + W_{hh} h_{t-1} + b_h$, one step back in time
# multiplies by the Jacobian
#
# $$J_k = \frac{\partial h_k}{\partial h_{k-1}} = \operatorname{diag}(1 - h_k^2)\, W_{hh},$$
#
# so a loss that reads only the last state $h_T$ reaches $h_t$ through $T - t$ of them:
#
# $$\frac{\partial L}{\partial h_t} = \left(\frac{\partial h_T}{\partial h_t}\right)^{\!\top}
#   \frac{\partial L}{\partial h_T}
#   = \left(J_T J_{T-1} \cdots J_{t+1}\right)^{\!\top} \frac{\partial L}{\partial h_T}
#   = J_{t+1}^\top J_{t+2}^\top \cdots J_T^\top \, \frac{\partial L}{\partial h_T}.$$
#
# Since $|1 - h^2| \le 1$, each factor has norm at most $\sigma_{\max}(W_{hh})$ (the largest
# singular value), which gives Pascanu, Mikolov and Bengio's (2013) bound
#
# $$\left\|\frac{\partial L}{\partial h_t}\right\| \le \sigma_{\max}(W_{hh})^{\,T-t}
#   \left\|\frac{\partial L}{\partial h_T}\right\| :$$
#
# with $\sigma_{\max} < 1$ the gradient *must* vanish exponentially. Over many steps the
# product behaves like a power of $W_{hh}$, whose growth rate is the spectral radius
# $\rho(W_{hh}) = \max_i |\lambda_i|$: with $\rho$ well above 1 (and the tanh not saturated) the
# gradient explodes.
#
# We take one random matrix $W_0$, rescale it to spectral radius 1, and run a tanh RNN cell for
# $T = 100$ steps with $W_{hh} = s\,W_0$ for several scales $s$ (so $\rho(W_{hh}) = s$). The loss
# is $L = \sum_i h_T[i]$, so $\partial L/\partial h_T$ is a vector of ones, and `tg.grad` returns
# $\partial L/\partial h_t$ for every step at once.

# %%
H, T = 32, 100
rng = np.random.default_rng(0)
W0 = rng.standard_normal((H, H)) / np.sqrt(H)
W0 /= np.abs(np.linalg.eigvals(W0)).max()
inputs = 0.5 * rng.standard_normal((T, 1, H))
scales = [0.5, 1.0, 1.5, 3.0]


def gradient_norms(scale):
    """‖∂L/∂h_t‖ for t = 1..T, the states h_t and W_hh, for W_hh = scale·W0."""
    tg.manual_seed(0)
    cell = nn.RNNCell(H, H, dtype="float64")
    with tg.no_grad():
        cell.weight_hh.data[...] = scale * W0
    h, states = tg.zeros(1, H, dtype="float64"), []
    for t in range(T):
        h = cell(tg.tensor(inputs[t]), h)
        states.append(h)
    loss = h.sum()
    grads = tg.grad(loss, states)
    return np.array([np.linalg.norm(g.numpy()) for g in grads]), [s.numpy()[0] for s in states], \
        [g.numpy()[0] for g in grads], cell.weight_hh.numpy()


results = {s: gradient_norms(s) for s in scales}
for s in scales:
    norms, _, _, W_hh = results[s]
    rho, sigma = np.abs(np.linalg.eigvals(W_hh)).max(), np.linalg.svd(W_hh, compute_uv=False)[0]
    print(f"scale {s}: ρ(W_hh) = {rho:.2f}, σ_max(W_hh) = {sigma:.2f}, "
          f"‖∂L/∂h_100‖ = {norms[-1]:.2f}, ‖∂L/∂h_50‖ = {norms[49]:.1e}, "
          f"‖∂L/∂h_1‖ = {norms[0]:.1e}")

# %% [markdown]
# The tape did the multiplication for us. Here it is written out in NumPy for $s = 1$, starting
# from $\partial L/\partial h_T = \mathbf 1$ and multiplying by one $J_k^\top$ per step back:

# %%
norms, states, tape_grads, W_hh = results[1.0]
by_hand = [None] * T
by_hand[T - 1] = np.ones(H)
for k in range(T - 1, 0, -1):                       # 0-based: J for the step producing states[k]
    J = np.diag(1 - states[k] ** 2) @ W_hh
    by_hand[k - 1] = J.T @ by_hand[k]
worst = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(by_hand, tape_grads))
print(f"product of Jacobians vs the tape: largest relative difference {worst:.1e}")

# %%
fig, (ax_eig, ax) = plt.subplots(1, 2, figsize=(11.5, 4.6), gridspec_kw=dict(width_ratios=[1, 1.6]))
circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
ax_eig.plot(circle.real, circle.imag, color="0.5", lw=0.8, ls="--")
for k, s in enumerate(scales):
    eigenvalues = np.linalg.eigvals(results[s][3])
    ax_eig.scatter(eigenvalues.real, eigenvalues.imag, s=10, color=f"C{k}", label=f"$s$ = {s}")
ax_eig.set_aspect("equal")
ax_eig.set_xlabel(r"Re $\lambda$")
ax_eig.set_ylabel(r"Im $\lambda$")
ax_eig.set_title("eigenvalues of $W_{hh} = s\\,W_0$ (dashed: $|\\lambda| = 1$)")
ax_eig.legend(fontsize=8, loc="upper right")
for s in scales:
    ax.semilogy(np.arange(1, T + 1), results[s][0], label=f"$\\rho(W_{{hh}})$ = {s}")
ax.set_xlabel("time step t (the loss reads $h_{100}$)")
ax.set_ylabel(r"$\|\partial L / \partial h_t\|$")
ax.set_title("gradient reaching each step of a tanh RNN, 100 steps")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
save_and_show(fig, "03_gradient_norms.png")

# %% [markdown]
# Reading the picture from right to left (backwards in time): with $\rho = 0.5$ the gradient
# loses a constant factor per step, a straight line on the log scale; with $\rho = 1$ it still
# vanishes, because the tanh's derivative $1 - h^2 < 1$ shrinks every step a little; with
# $\rho = 1.5$ the growth of $W_{hh}$ and the shrinking of the tanh roughly cancel here; with
# $\rho = 3$ it grows by orders of magnitude. A model trained in the first regime cannot learn
# that step 1 mattered for step 100; in the last regime a single gradient step can throw the
# weights anywhere.
#
# ## Gradient clipping
#
# Clipping by norm rescales the whole gradient (all parameters together) when its norm $\|g\|$
# exceeds a threshold $c$, keeping its direction:
#
# $$g \leftarrow g \cdot \min\left(1, \frac{c}{\|g\|}\right).$$
#
# The task: a tanh RNN reads $T = 20$ numbers $x_t \sim \mathcal N(0, 1)$ and must output
# $x_{T-2}$ (the number read three steps before the end). Predicting 0 scores a mean squared
# error of $\operatorname{Var}(x) = 1$. The recurrent weights start in the exploding regime
# ($\rho(W_{hh}) = 2$) and plain SGD takes steps of size 0.1. We train the same model from the same
# start twice, without clipping and with $c = 1$; a run whose loss becomes NaN or infinite is
# stopped there.

# %%
T_TASK, BATCH, STEPS, LR = 20, 32, 150, 0.1


def train(max_norm):
    tg.manual_seed(1)
    data = np.random.default_rng(1)
    rnn, head = nn.RNN(1, H, dtype="float64"), nn.Linear(H, 1, dtype="float64")
    with tg.no_grad():
        rnn.weight_hh_l0.data[...] = 2.0 * W0
    parameters = list(rnn.parameters()) + list(head.parameters())
    optimizer = optim.SGD(parameters, lr=LR)
    losses, norms = [], []
    with np.errstate(over="ignore", invalid="ignore"):     # the unclipped run overflows, on purpose
        for _ in range(STEPS):
            x = data.standard_normal((T_TASK, BATCH, 1))
            _, h_n = rnn(tg.tensor(x))
            loss = F.mse_loss(head(h_n[-1]), tg.tensor(x[-3]))
            optimizer.zero_grad()
            loss.backward()
            total = nn.utils.clip_grad_norm_(parameters, max_norm if max_norm else float("inf"))
            optimizer.step()
            losses.append(loss.item())
            norms.append(total.item())
            if not np.isfinite(losses[-1]):
                break                                        # NaN or inf: nothing left to learn
    return np.array(losses), np.array(norms)


losses_plain, norms_plain = train(None)
losses_clipped, norms_clipped = train(1.0)
final_plain, final_clipped = np.mean(losses_plain[-20:]), np.mean(losses_clipped[-20:])
print(f"first gradient norm: {norms_plain[0]:.1f} (so the first unclipped step moves the weights by "
      f"{LR * norms_plain[0]:.1f} in norm; clipped: by at most {LR * 1.0})")
print(f"final loss (mean of the last 20 steps): without clipping {final_plain:.3g}, "
      f"with clipping {final_clipped:.3f}")

# %%
fig, (ax_log, ax_zoom) = plt.subplots(1, 2, figsize=(11, 4.2))
steps = np.arange(1, STEPS + 1)
for ax in (ax_log, ax_zoom):
    ax.plot(steps[:len(losses_plain)], np.where(np.isfinite(losses_plain), losses_plain, np.nan),
            label="SGD, no clipping")
    ax.plot(steps, losses_clipped, label="SGD, gradient norm clipped at 1")
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--", label="predicting 0 (MSE 1)")
    ax.set_xlabel("training step")
    ax.set_ylabel("training MSE")
if not np.all(np.isfinite(losses_plain)):
    first_bad = int(np.argmax(~np.isfinite(losses_plain)))
    ax_log.axvline(first_bad + 1, color="C0", ls=":", label=f"NaN or inf from step {first_bad + 1}")
ax_log.set_yscale("log")
ax_log.set_title(f"log scale: the unclipped run ends at MSE {final_plain:.3g}")
ax_zoom.set_ylim(0, 2)
ax_zoom.set_title(f"linear scale, MSE up to 2: the clipped run ends at {final_clipped:.3f}")
ax_log.legend()
fig.suptitle(r"tanh RNN, $\rho(W_{hh}) = 2$ at the start, SGD lr 0.1, same start and data")
fig.tight_layout()
save_and_show(fig, "03_clipping.png")

# %% [markdown]
# Clipping does not cure vanishing gradients (a small gradient is left as it is); for that,
# the next tutorial changes the architecture.
#
# ## Check yourself

# %%
# the tape computes the product of Jacobians (float64: agreement to rounding)
assert worst < 1e-12
for s in scales:
    norms, _, _, W_hh = results[s]
    sigma = np.linalg.svd(W_hh, compute_uv=False)[0]
    distance = T - np.arange(1, T + 1)
    assert abs(np.abs(np.linalg.eigvals(W_hh)).max() - s) < 1e-12   # ρ(s·W0) = s
    # Pascanu's bound holds at every step (with room for rounding)
    assert np.all(norms <= norms[-1] * sigma ** distance * (1 + 1e-9))
# ρ = 0.5: more than 10 orders of magnitude lost over 99 steps; ρ = 3: more than 6 gained
assert results[0.5][0][0] / results[0.5][0][-1] < 1e-10
assert results[3.0][0][0] / results[3.0][0][-1] > 1e6
# the norms at step 1 are ordered like the scales
assert all(results[a][0][0] < results[b][0][0] for a, b in zip(scales, scales[1:]))
# clipping: the unclipped run ends worse than predicting 0 (here it diverges; with other seeds it
# may only wander above MSE 1), the clipped one learns: below 0.3 and far below the unclipped run
assert np.isfinite(final_clipped) and final_clipped < 0.3
assert not np.isfinite(final_plain) or (final_plain > 1.0 and final_plain > 3 * final_clipped)
print("all checks passed")
