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
# # 5. The gated recurrent unit
#
# **What you will learn**
#
# - the GRU's two gates, reset $r$ and update $z$, and its candidate state, computed by hand from
#   an `nn.GRUCell`'s weights and checked against the cell;
# - the two forms in use: the lectures' (Cho et al. 2014, Olah, d2l), where the reset gate
#   scales $h_{t-1}$ *before* the recurrent matrix product (`reset_after=False`), and PyTorch's,
#   where it scales the product *after* (`reset_after=True`, the default); both by hand, and
#   how far apart they are with the same weights;
# - which way round $z$ is: Olah's $z$ is our $1 - z$, shown by building Olah's cell from our
#   weights and getting the same numbers;
# - that backpropagation through a GRU sequence gives the gradient central differences give
#   (float64), in both forms;
# - a small memory task that a GRU learns once its update gate starts open to the old state
#   (like the LSTM's forget bias), and what the trained gates and states do.
#
# Prerequisite: [tutorial 4](04_lstm.py). The gate order (r, z, n) and the names in this
# framework, PyTorch and Keras are in [the notation table](NOTATION.md).

# %%
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is fastest

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn.apps.plotting import save_and_show  # noqa: E402
from tinygrad_rnn import functional as F, nn, optim  # noqa: E402

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## The gates, one at a time
#
# At step $t$ the GRU reads $x_t$ and its previous state $h_{t-1}$ (it has no separate cell
# state). In this framework's (and PyTorch's) notation:
#
# $$\begin{aligned}
# r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) &&\text{reset gate: how much of } h_{t-1} \text{ the candidate sees}\\
# z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) &&\text{update gate: how much of } h_{t-1} \text{ to keep}\\
# n_t &= \tanh\big(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big) &&\text{candidate (reset after the product)}\\
# h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}.
# \end{aligned}$$
#
# The lectures' form (Cho et al. 2014; Olah; d2l; Keras with `reset_after=False`) applies the
# reset gate to $h_{t-1}$ *before* the matrix product:
#
# $$n_t = \tanh\big(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn}\big).$$
#
# The two are different models (the same weights give different outputs). PyTorch and cuDNN
# use the first because all three recurrent products $W_{hr} h, W_{hz} h, W_{hn} h$ then read
# the same $h_{t-1}$ and can be done as one matrix product, `h @ weight_hh.T`, before any gate
# is known; in the lectures' form the third product has to wait for $r_t$.
#
# The parameters stack the three gates' matrices row-wise in the order $r, z, n$:
# `weight_ih` is $(3H, I)$, `weight_hh` $(3H, H)$, `bias_ih` and `bias_hh` $(3H,)$.

# %%
def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def gru_step_by_hand(x, h, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    """One GRU step in NumPy, gate by gate, in either form."""
    H = h.shape[-1]
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]          # row blocks r, z, n
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    if reset_after:
        n = np.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))      # PyTorch
    else:
        n = np.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)      # Cho et al., Olah, d2l
    return (1 - z) * n + z * h, dict(r=r, z=z, n=n)


I, H = 3, 4
rng = np.random.default_rng(0)
x, h = rng.standard_normal((1, I)), rng.standard_normal((1, H))
hand, cells = {}, {}
for reset_after in (True, False):
    tg.manual_seed(0)                                   # the same weights for both forms
    cells[reset_after] = nn.GRUCell(I, H, reset_after=reset_after, dtype="float64")
    weights = [p.numpy() for p in (cells[reset_after].weight_ih, cells[reset_after].weight_hh,
                                   cells[reset_after].bias_ih, cells[reset_after].bias_hh)]
    hand[reset_after] = gru_step_by_hand(x, h, *weights, reset_after=reset_after)
    cell_h = cells[reset_after](tg.tensor(x), tg.tensor(h)).numpy()
    form = "reset after (PyTorch)" if reset_after else "reset before (lectures)"
    print(f"{form}:")
    for name, meaning in [("r", "reset gate"), ("z", "update gate"), ("n", "candidate")]:
        print(f"  {name} ({meaning:11}) = {hand[reset_after][1][name][0]}")
    print(f"  h_t by hand = {hand[reset_after][0][0]}\n  h_t cell    = {cell_h[0]}"
          f"   (largest difference {np.abs(hand[reset_after][0] - cell_h).max():.1e})")
same_weights = all(np.array_equal(a.numpy(), b.numpy()) for a, b in
                   zip(cells[True].parameters(), cells[False].parameters()))
form_gap = np.abs(hand[True][0] - hand[False][0]).max()
print(f"same weights in both cells: {same_weights}; the two forms' h_t differ by up to {form_gap:.3f}")

# %% [markdown]
# The reset and update gates are the same function in both forms (they do not depend on where
# $r$ is applied); only the candidate $n_t$, and so $h_t$, differ.
#
# ## Which way round is $z$?
#
# Here (and in PyTorch, Keras, Cho et al. and d2l) $z_t$ is the fraction of the **old** state
# kept. Olah's "Understanding LSTM Networks" writes the same cell with one matrix per gate
# acting on the concatenation $[h_{t-1}, x_t]$ and the update gate the other way round:
#
# $$z^{O}_t = \sigma(W_z \cdot [h_{t-1}, x_t]), \quad r_t = \sigma(W_r \cdot [h_{t-1}, x_t]), \quad
#   \tilde h_t = \tanh(W \cdot [r_t \odot h_{t-1}, x_t]), \quad
#   h_t = (1 - z^{O}_t) \odot h_{t-1} + z^{O}_t \odot \tilde h_t .$$
#
# His $z^O$ is the fraction of the **new** candidate taken in, so $z^O = 1 - z$. Because
# $1 - \sigma(a) = \sigma(-a)$, his $W_z$ is our $-[\,W_{hz} \mid W_{iz}\,]$ (and his bias, which he
# leaves out, our $-(b_{iz} + b_{hz})$); his $W_r = [\,W_{hr} \mid W_{ir}\,]$ and
# $W = [\,W_{hn} \mid W_{in}\,]$ are ours as they are. His candidate is the reset-**before**
# form. We build his cell from the weights of our `reset_after=False` cell and compare.

# %%
def olah_gru_step(x, h, W_z, b_z, W_r, b_r, W, b):
    """Olah's GRU: one matrix per gate on [h, x]; z_O is the share of the new candidate."""
    hx = np.concatenate([h, x], axis=-1)
    z_olah = sigmoid(hx @ W_z.T + b_z)
    r = sigmoid(hx @ W_r.T + b_r)
    h_tilde = np.tanh(np.concatenate([r * h, x], axis=-1) @ W.T + b)
    return (1 - z_olah) * h + z_olah * h_tilde, z_olah


W_ih, W_hh, b_ih, b_hh = (p.numpy() for p in (cells[False].weight_ih, cells[False].weight_hh,
                                               cells[False].bias_ih, cells[False].bias_hh))
blocks = {gate: (np.concatenate([W_hh[k * H:(k + 1) * H], W_ih[k * H:(k + 1) * H]], axis=1),  # [W_h | W_i]
                 b_ih[k * H:(k + 1) * H] + b_hh[k * H:(k + 1) * H])
          for k, gate in enumerate("rzn")}
W_z_olah, b_z_olah = -blocks["z"][0], -blocks["z"][1]      # the sign flip: σ(-a) = 1 - σ(a)
h_olah, z_olah = olah_gru_step(x, h, W_z_olah, b_z_olah, *blocks["r"], *blocks["n"])
print("Olah's z_O     =", z_olah[0])
print("1 - our z      =", 1 - hand[False][1]["z"][0])
print("Olah's h_t     =", h_olah[0])
print("our h_t (reset_after=False) =", hand[False][0][0])

# %% [markdown]
# ## Backpropagation through a GRU sequence
#
# `nn.GRU` runs a whole sequence (on a fused kernel by default). Its gradient with respect to
# every entry of `weight_hh_l0` should equal the central difference
# $\big(L(W + \varepsilon E_{ij}) - L(W - \varepsilon E_{ij})\big) / 2\varepsilon$, in float64
# (tutorial 1 explains why float64). The loss is a fixed random projection of every output, over
# 6 steps and a batch of 2, in both forms.

# %%
T_CHECK = 6
sequence = rng.standard_normal((T_CHECK, 2, I))
projection = rng.standard_normal((T_CHECK, 2, H))


def sequence_loss(gru):
    out, _ = gru(tg.tensor(sequence))
    return (out * tg.tensor(projection)).sum()


gradient_errors = {}
for reset_after in (True, False):
    tg.manual_seed(2)
    gru = nn.GRU(I, H, reset_after=reset_after, dtype="float64")
    weight = gru.weight_hh_l0
    loss = sequence_loss(gru)
    gru.zero_grad()
    loss.backward()
    analytic = weight.grad.numpy().copy()
    numeric, eps = np.zeros_like(analytic), 1e-6
    for index in np.ndindex(*analytic.shape):
        original = weight.data[index]
        with tg.no_grad():
            weight.data[index] = original + eps
            above = sequence_loss(gru).item()
            weight.data[index] = original - eps
            below = sequence_loss(gru).item()
            weight.data[index] = original
        numeric[index] = (above - below) / (2 * eps)
    gradient_errors[reset_after] = np.abs(analytic - numeric).max() / np.abs(numeric).max()
    print(f"reset_after={reset_after}: ∂L/∂weight_hh_l0 ({analytic.size} entries), largest relative "
          f"difference from central differences {gradient_errors[reset_after]:.1e}")

# %% [markdown]
# ## A task the GRU learns: remember the first value
#
# Each sequence has $T = 30$ steps of two features. The first is the **signal** at step 1,
# $+1$ or $-1$, and noise drawn from $N(0, 1)$, as large as the signal, at every later step; the
# second is a marker, 1 at step 1 and 0 after. The target is the sign of the signal, read from
# the last hidden state by a linear layer (logistic loss). To solve it, the network must write
# the signal into its state at step 1 and then ignore 29 steps of noise. The obvious way for a
# GRU: take in the candidate at step 1 ($z_t$ small) and keep the old state afterwards ($z_t$
# near 1). Guessing scores 50%.
#
# With PyTorch's initialisation the update gate starts near $\sigma(0) = 0.5$: the direct path
# $h_t = z_t \odot h_{t-1} + \ldots$ halves the state at every step, and the gradient that
# reaches step 1 from step 30 is tiny (tutorial 3): the signal is almost invisible to learning.
# The GRU's remedy is the LSTM's (tutorial 4, forget bias): start the update gate's bias
# $b_{iz}$ at 2, so that $z \approx \sigma(2) = 0.88$ and the state remembers by default. We
# measure $\|\partial L/\partial h_1\| / \|\partial L/\partial h_{30}\|$ at initialisation for
# both ($L = \sum_i h_{30}[i]$ over a batch of inputs, as in tutorials 3 and 4), then train three models with
# $H = 16$, each for 400 steps of Adam (learning rate $10^{-2}$, batches of 64): a GRU with
# PyTorch's initialisation, the same GRU with $b_{iz} = 2$, and a vanilla RNN. The test set is
# 1000 fresh sequences.

# %%
T_TASK, H_TASK, STEPS, BATCH = 30, 16, 400, 64


def signal_batch(rng, batch):
    x = np.zeros((T_TASK, batch, 2))
    x[:, :, 0] = rng.standard_normal((T_TASK, batch))
    signs = rng.integers(0, 2, batch)
    x[0, :, 0] = 2.0 * signs - 1.0
    x[0, :, 1] = 1.0
    return x.astype(np.float32), signs.astype(np.float32)


def gradient_ratio_at_init(update_bias):
    """‖∂L/∂h_1‖ / ‖∂L/∂h_30‖ for a freshly initialised GRU cell on 64 task sequences."""
    tg.manual_seed(0)
    cell = nn.GRUCell(2, H_TASK, dtype="float64")
    if update_bias is not None:
        with tg.no_grad():
            cell.bias_ih.data[H_TASK:2 * H_TASK] = update_bias
    x, _ = signal_batch(np.random.default_rng(0), 64)
    h, states = tg.zeros(64, H_TASK, dtype="float64"), []
    for x_t in x.astype(np.float64):
        h = cell(tg.tensor(x_t), h)
        states.append(h)
    grads = tg.grad(h.sum(), [states[0], states[-1]])
    return np.linalg.norm(grads[0].numpy()) / np.linalg.norm(grads[1].numpy())


ratio_default, ratio_biased = gradient_ratio_at_init(None), gradient_ratio_at_init(2.0)
print(f"at initialisation, ‖∂L/∂h_1‖ / ‖∂L/∂h_30‖: PyTorch's {ratio_default:.1e}, update-gate bias 2 {ratio_biased:.1e}")


def train_signal(layer_class, update_bias=None):
    tg.manual_seed(0)
    data = np.random.default_rng(0)
    recurrent, readout = layer_class(2, H_TASK), nn.Linear(H_TASK, 1)
    if update_bias is not None:
        with tg.no_grad():
            recurrent.bias_ih_l0.data[H_TASK:2 * H_TASK] = update_bias   # the z block of (r, z, n)
    parameters = list(recurrent.parameters()) + list(readout.parameters())
    optimizer = optim.Adam(parameters, lr=1e-2)
    losses = []
    for _ in range(STEPS):
        x, signs = signal_batch(data, BATCH)
        _, h_n = recurrent(tg.tensor(x))
        loss = F.binary_cross_entropy_with_logits(readout(h_n[-1]).reshape(-1), tg.tensor(signs))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        losses.append(loss.item())
    x, signs = signal_batch(np.random.default_rng(123), 1000)
    with tg.no_grad():
        _, h_n = recurrent(tg.tensor(x))
        accuracy = float(((readout(h_n[-1]).numpy().reshape(-1) > 0) == (signs > 0.5)).mean())
    return np.array(losses), accuracy, recurrent


runs = {"GRU, PyTorch's initialisation": train_signal(nn.GRU),
        "GRU, update-gate bias 2": train_signal(nn.GRU, update_bias=2.0),
        "vanilla RNN": train_signal(nn.RNN)}
for name, (_, accuracy, _) in runs.items():
    print(f"{name:30s} test accuracy after {STEPS} steps: {accuracy:.3f}   (guessing 0.5)")
gru_accuracy, trained_gru = runs["GRU, update-gate bias 2"][1:]
rnn_accuracy = runs["vanilla RNN"][1]

# %% [markdown]
# How does the trained GRU (update-gate bias 2) do it? We replay 500 test sequences through
# `gru_step_by_hand` with the trained weights (in float64), keeping every gate and state, and
# ask three questions: does every unit's state carry the sign (its correlation with the sign
# across the sequences, at step 30 and at every step from 11 on); how much does the state
# still move during the noise, $\|h_t - h_{t-1}\|$ against $\|h_t\|$; and what does the
# update gate do.

# %%
x_replay, signs_replay = signal_batch(np.random.default_rng(7), 500)
trained = dict(trained_gru.named_parameters())
trained_weights = [trained[name].numpy().astype(np.float64)
                   for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
h_t, z_trace, h_trace = np.zeros((500, H_TASK)), [], []
for x_t in x_replay.astype(np.float64):
    h_t, step_gates = gru_step_by_hand(x_t, h_t, *trained_weights)
    z_trace.append(step_gates["z"])
    h_trace.append(h_t)
z_trace, h_trace = np.array(z_trace), np.array(h_trace)   # (T, 500, H)
with tg.no_grad():
    _, h_layer = trained_gru(tg.tensor(x_replay))
replay_error = np.abs(h_trace[-1] - h_layer.numpy()[0]).max()
sign_correlation = np.array([abs(np.corrcoef(h_trace[-1][:, j], signs_replay)[0, 1]) for j in range(H_TASK)])
relative_move = (np.linalg.norm(h_trace[1:] - h_trace[:-1], axis=-1) / np.linalg.norm(h_trace[1:], axis=-1))[1:].mean()
held_correlation = min(abs(np.corrcoef(h_trace[t][:, j], signs_replay)[0, 1])
                       for t in range(10, T_TASK) for j in range(H_TASK))   # steps 11-30
z_first, z_later = z_trace[0].mean(), z_trace[1:].mean()
print(f"replay vs nn.GRU (float32): largest difference {replay_error:.1e}")
print(f"|correlation| of each unit's h_30 with the sign: smallest {sign_correlation.min():.3f}")
print(f"during the noise (steps 3-30): ‖h_t - h_(t-1)‖/‖h_t‖ = {relative_move:.3f} on average; yet every "
      f"unit's |correlation| with the sign stays above {held_correlation:.3f} at every step 11-30")
print(f"mean update gate z: step 1 {z_first:.3f}, steps 2-{T_TASK} {z_later:.3f}")

# %% [markdown]
# Within about ten steps every unit holds the sign, and keeps holding it through the noise. The update gate
# is not pinned at 1: $z_t$ averages about 0.8, so each step mixes in about a fifth of the
# candidate $n_t$ and the state moves a little with the noise. But the candidate is computed
# from the old state too (through $r_t$ and $W_{hn}$), and training has made it amplify the
# state: the picture shows $h_t$ small just after the signal and pushed towards $\pm 1$ over the
# next ten steps, into one of two stable regions, one per sign, that the noise moves the state
# around in but never out of. Keeping $z$ high at the start is what let the gradient reach step 1 long enough
# for this to be learned. The picture shows one test sequence of each sign.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), gridspec_kw=dict(width_ratios=[1.1, 1, 1]))
window = 10
smooth = np.ones(window) / window
for (name, (losses, accuracy, _)), style in zip(runs.items(), ["-", "-", ":"]):
    label = f"{name} (test accuracy {accuracy:.3f})"
    axes[0].plot(np.arange(window, STEPS + 1), np.convolve(losses, smooth, mode="valid"), ls=style, lw=2, label=label)
axes[0].axhline(np.log(2), color="0.5", ls="--", lw=0.8, label="guessing (log 2)")
axes[0].set_xlabel("training step")
axes[0].set_ylabel(f"training loss (mean of {window} steps)")
axes[0].set_title(f"Remember the sign of step 1 across {T_TASK - 1} noisy steps", fontsize=10)
axes[0].legend(fontsize=8)
positive, negative = int(np.argmax(signs_replay > 0.5)), int(np.argmax(signs_replay < 0.5))
for ax, trace, title, cmap, limits in [
        (axes[1], z_trace, "update gate $z_t$ (1 = keep $h_{t-1}$)", "viridis", (0, 1)),
        (axes[2], h_trace, "hidden state $h_t$", "RdBu_r", (-1, 1))]:
    both = np.concatenate([trace[:, positive].T, np.full((1, T_TASK), np.nan), trace[:, negative].T])
    image = ax.imshow(both, aspect="auto", cmap=cmap, vmin=limits[0], vmax=limits[1], interpolation="nearest")
    ax.set_yticks([H_TASK // 2, H_TASK + 1 + H_TASK // 2])
    ax.set_yticklabels(["sign +1\n(units)", "sign −1\n(units)"])
    ax.set_xticks(range(0, T_TASK, 5))
    ax.set_xticklabels(range(1, T_TASK + 1, 5))
    ax.set_xlabel("time step (step 1 holds the signal)")
    ax.set_title(f"Trained GRU: {title}", fontsize=10)
    fig.colorbar(image, ax=ax, pad=0.02)
fig.tight_layout()
save_and_show(fig, "05_gru_memory.png")

# %% [markdown]
# ## Check yourself

# %%
# both forms by hand are the cells (float64: to rounding); the same weights, yet different outputs
for reset_after in (True, False):
    cell_h = cells[reset_after](tg.tensor(x), tg.tensor(h)).numpy()
    assert np.abs(hand[reset_after][0] - cell_h).max() < 1e-12
assert same_weights and form_gap > 1e-3
# the gates do not depend on the form; only the candidate does
assert np.allclose(hand[True][1]["r"], hand[False][1]["r"]) and np.allclose(hand[True][1]["z"], hand[False][1]["z"])
# Olah's z is 1 - ours, and his cell built from our weights is our reset-before cell
assert np.abs(z_olah - (1 - hand[False][1]["z"])).max() < 1e-12
assert np.abs(h_olah - hand[False][0]).max() < 1e-12
# BPTT through nn.GRU equals central differences in float64, in both forms
assert gradient_errors[True] < 1e-7 and gradient_errors[False] < 1e-7
# the update-gate bias lets far more gradient reach step 1 at initialisation
assert ratio_biased > 100 * ratio_default
# the GRU with the update-gate bias learns the task; the vanilla RNN, trained the same way, stays
# near guessing (the GRU with PyTorch's initialisation is printed, not asserted: it may break
# through on another seed)
assert gru_accuracy > 0.95
assert rnn_accuracy < 0.75
# the replay by hand is the layer, and the update gate keeps the state after the signal
assert replay_error < 1e-4
# every unit's state carries the sign at every step after the signal, though the state moves
assert sign_correlation.min() > 0.95 and held_correlation > 0.95
assert relative_move > 0.01
print("all checks passed")
