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
# # 4. Long short-term memory
#
# **What you will learn**
#
# - the LSTM's four gates, computed one at a time by hand from an `nn.LSTMCell`'s weights, and
#   checked against the cell;
# - peephole connections (`nn.LSTM(..., peephole=True)`), checked the same way;
# - why the cell state $c_t$ is a "highway" for gradients: $\|\partial L/\partial c_t\|$ over
#   100 steps against $\|\partial L/\partial h_t\|$ and against a vanilla RNN;
# - the adding problem, where the LSTM learns a dependency across the sequence that the vanilla
#   RNN does not (the measured errors).
#
# Prerequisite: [tutorial 3](03_vanishing_exploding.py). The gate weights' names in this
# framework, PyTorch and Keras, with each library's gate order, are in
# [the notation table](NOTATION.md).

# %%

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.apps.plotting import save_and_show
from tinygrad_rnn import functional as F, nn, optim

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## The gates, one at a time
#
# At step $t$ the cell reads $x_t$, the previous output $h_{t-1}$ and the previous cell state
# $c_{t-1}$:
#
# $$\begin{aligned}
# i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) &&\text{input gate: how much to write}\\
# f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) &&\text{forget gate: how much to keep}\\
# g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) &&\text{candidate: what to write}\\
# o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) &&\text{output gate: how much to show}\\
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t).
# \end{aligned}$$
#
# The framework (like PyTorch) stores the four input matrices stacked in one parameter,
# `weight_ih` of shape $(4H, I)$, in the order $i, f, g, o$; likewise `weight_hh` $(4H, H)$,
# `bias_ih` and `bias_hh` $(4H,)$. Slicing them apart gives the lecture's matrices.

# %%
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_by_hand(x, h, c, W_ih, W_hh, b_ih, b_hh, peephole=None):
    """One LSTM step in NumPy, gate by gate; peephole = (w_ci, w_cf, w_co) or None."""
    H = h.shape[-1]
    pre = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh             # (…, 4H): the four gates' inputs
    pre_i, pre_f, pre_g, pre_o = (pre[..., k * H:(k + 1) * H] for k in range(4))
    if peephole is not None:                                  # the gates also look at the cell
        w_ci, w_cf, w_co = peephole
        pre_i, pre_f = pre_i + w_ci * c, pre_f + w_cf * c
    i, f, g = sigmoid(pre_i), sigmoid(pre_f), np.tanh(pre_g)
    c_new = f * c + i * g
    if peephole is not None:
        pre_o = pre_o + w_co * c_new                          # the output gate sees the new cell
    o = sigmoid(pre_o)
    h_new = o * np.tanh(c_new)
    return h_new, c_new, dict(i=i, f=f, g=g, o=o)


I, H = 3, 4
tg.manual_seed(0)
cell = nn.LSTMCell(I, H, dtype="float64")
rng = np.random.default_rng(0)
x, h, c = rng.standard_normal((1, I)), rng.standard_normal((1, H)), rng.standard_normal((1, H))
weights = [p.numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
h_hand, c_hand, gates = lstm_step_by_hand(x, h, c, *weights)
for name, meaning in [("i", "input gate"), ("f", "forget gate"), ("g", "candidate"), ("o", "output gate")]:
    print(f"{name} ({meaning:11}) = {gates[name][0]}")
print(f"c_t = f⊙c_(t-1) + i⊙g = {c_hand[0]}\nh_t = o⊙tanh(c_t)      = {h_hand[0]}")

h_cell, c_cell = cell(tg.tensor(x), (tg.tensor(h), tg.tensor(c)))
print("the cell's h_t:", h_cell.numpy()[0], " c_t:", c_cell.numpy()[0])

# %% [markdown]
# ### The same cell in Keras's layout
#
# Keras multiplies row vectors by the *transposed* matrices, `kernel` $(I, 4H)$ and
# `recurrent_kernel` $(H, 4H)$, keeps one bias, and names its gates i, f, c, o: the same order,
# with the candidate called c (see [the notation table](NOTATION.md)). Rebuilding the step from
# those arrays gives the same numbers, and `tg.interop.keras_lstm_to_torch` converts them back to
# our names.

# %%
kernel, recurrent_kernel = weights[0].T, weights[1].T                 # what Keras would store
keras_bias = weights[2] + weights[3]
z = x @ kernel + h @ recurrent_kernel + keras_bias                  # (1, 4H), columns i | f | c | o
k_i, k_f, k_c, k_o = (z[:, k * H:(k + 1) * H] for k in range(4))
c_keras = sigmoid(k_f) * c + sigmoid(k_i) * np.tanh(k_c)
h_keras = sigmoid(k_o) * np.tanh(c_keras)
from_keras = nn.LSTMCell(I, H, dtype="float64")
from_keras.load_state_dict(tg.interop.keras_lstm_to_torch(kernel, recurrent_kernel, keras_bias))
h_converted, _ = from_keras(tg.tensor(x), (tg.tensor(h), tg.tensor(c)))
print("Keras-layout step h_t:", h_keras[0], " converted cell h_t:", h_converted.numpy()[0])

# %% [markdown]
# ## Peepholes
#
# Gers and Schmidhuber (2000) let the gates look at the cell state itself through diagonal
# ("peephole") weights, so that, for example, the forget gate can react to what the cell holds:
#
# $$i_t = \sigma(\ldots + w_{ci} \odot c_{t-1}), \quad f_t = \sigma(\ldots + w_{cf} \odot c_{t-1}),
#   \quad o_t = \sigma(\ldots + w_{co} \odot c_t).$$
#
# `nn.LSTM(..., peephole=True)` adds the vectors `weight_ci_l0`, `weight_cf_l0` and
# `weight_co_l0` of shape $(H,)$ (PyTorch's `nn.LSTM` has no peepholes). We run a peephole
# LSTM over a 5-step sequence and redo it by hand, step by step.

# %%
tg.manual_seed(1)
peephole_lstm = nn.LSTM(I, H, peephole=True, dtype="float64")
sequence = rng.standard_normal((5, 1, I))
out, (h_n, c_n) = peephole_lstm(tg.tensor(sequence))
params = dict(peephole_lstm.named_parameters())
print("parameters:", {name: p.shape for name, p in params.items()})
layer_weights = [params[name].numpy() for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
peepholes = tuple(params[name].numpy() for name in ("weight_ci_l0", "weight_cf_l0", "weight_co_l0"))
h_t, c_t, outputs_by_hand = np.zeros((1, H)), np.zeros((1, H)), []
for x_t in sequence:
    h_t, c_t, _ = lstm_step_by_hand(x_t, h_t, c_t, *layer_weights, peephole=peepholes)
    outputs_by_hand.append(h_t)
outputs_by_hand = np.stack(outputs_by_hand)
print("largest difference, outputs by hand vs nn.LSTM(peephole=True):", np.abs(outputs_by_hand - out.numpy()).max())

# %% [markdown]
# ## The cell state is a gradient highway
#
# Follow the gradient from $c_t$ back to $c_{t-1}$. The direct path is the elementwise product
# $c_t = f_t \odot c_{t-1} + \ldots$, so
#
# $$\frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t) + (\text{paths through } h_{t-1}
#   \text{ and the gates}).$$
#
# No weight matrix and no squashing derivative stands on the direct path: if the forget gates
# stay near 1, the gradient crosses many steps almost unchanged, where a vanilla RNN multiplies by
# $\operatorname{diag}(1 - h_k^2) W_{hh}$ at every step (tutorial 3). The gates are learned, so
# the network itself decides how long to remember. With a forget bias near 0 (PyTorch draws
# all biases close to 0) a forget gate starts near $\sigma(0) = 0.5$, which roughly halves the
# gradient on the direct path at every step; Keras's `unit_forget_bias=True` starts the forget
# bias at 1. We set it to 0, 1 and 3 (the input and recurrent weights unchanged).
#
# The experiment: 100 steps of random input, $H = 32$, loss $L = \sum_i h_{100}[i]$ as in
# tutorial 3, and `tg.grad` for $\partial L/\partial h_t$ and $\partial L/\partial c_t$ at every
# step.

# %%
H_LONG, T_LONG, I_LONG = 32, 100, 8
long_inputs = np.random.default_rng(0).standard_normal((T_LONG, 1, I_LONG))


def lstm_gradient_norms(forget_bias):
    tg.manual_seed(0)
    long_cell = nn.LSTMCell(I_LONG, H_LONG, dtype="float64")
    with tg.no_grad():
        long_cell.bias_ih.data[H_LONG:2 * H_LONG] = forget_bias    # the f block of (i, f, g, o)
        long_cell.bias_hh.data[H_LONG:2 * H_LONG] = 0.0
    h, c, hs, cs = tg.zeros(1, H_LONG, dtype="float64"), tg.zeros(1, H_LONG, dtype="float64"), [], []
    for x_t in long_inputs:
        h, c = long_cell(tg.tensor(x_t), (h, c))
        hs.append(h)
        cs.append(c)
    grads = tg.grad(h.sum(), hs + cs)
    norms = np.array([np.linalg.norm(g.numpy()) for g in grads])
    return norms[:T_LONG], norms[T_LONG:], long_cell, hs, cs, grads[-1].numpy()


def rnn_gradient_norms():
    tg.manual_seed(0)
    rnn_cell = nn.RNNCell(I_LONG, H_LONG, dtype="float64")
    h, hs = tg.zeros(1, H_LONG, dtype="float64"), []
    for x_t in long_inputs:
        h = rnn_cell(tg.tensor(x_t), h)
        hs.append(h)
    return np.array([np.linalg.norm(g.numpy()) for g in tg.grad(h.sum(), hs)])


forget_biases = [0.0, 1.0, 3.0]
highway = {b: lstm_gradient_norms(b) for b in forget_biases}
rnn_norms = rnn_gradient_norms()
for b in forget_biases:
    h_norms, c_norms = highway[b][:2]
    print(f"forget bias {b}: ‖∂L/∂c_1‖ = {c_norms[0]:.1e}, ‖∂L/∂h_1‖ = {h_norms[0]:.1e}")
print(f"vanilla RNN:    ‖∂L/∂h_1‖ = {rnn_norms[0]:.1e}")

# %% [markdown]
# At the last step the only way from $c_T$ to $L$ is $h_T = o_T \odot \tanh(c_T)$, so
# $\partial L/\partial c_T = \partial L/\partial h_T \odot o_T \odot (1 - \tanh^2 c_T)$ with
# $\partial L/\partial h_T = \mathbf 1$. We recompute $o_T$ by hand to check the tape's value:

# %%
_, _, long_cell, hs, cs, dL_dc_T = highway[3.0]
long_weights = [p.numpy() for p in (long_cell.weight_ih, long_cell.weight_hh, long_cell.bias_ih, long_cell.bias_hh)]
_, c_T, last_gates = lstm_step_by_hand(long_inputs[-1], hs[-2].numpy(), cs[-2].numpy(), *long_weights)
dL_dc_T_hand = last_gates["o"] * (1 - np.tanh(c_T) ** 2)
print("largest difference, ∂L/∂c_T by hand vs tape:", np.abs(dL_dc_T_hand - dL_dc_T).max())

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.5))
steps = np.arange(1, T_LONG + 1)
for k, b in enumerate(forget_biases):
    h_norms, c_norms = highway[b][:2]
    ax.semilogy(steps, c_norms, color=f"C{k}", label=f"LSTM $\\|\\partial L/\\partial c_t\\|$, forget bias {b:g}")
    ax.semilogy(steps, h_norms, color=f"C{k}", ls="--", lw=1,
                label=f"LSTM $\\|\\partial L/\\partial h_t\\|$, forget bias {b:g}")
ax.semilogy(steps, rnn_norms, color="k", label=r"vanilla RNN $\|\partial L/\partial h_t\|$")
ax.set_xlabel("time step t (the loss reads $h_{100}$)")
ax.set_ylabel("gradient norm")
ax.set_title("The cell state carries the gradient back when the forget gates are open")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
save_and_show(fig, "04_cell_state_gradients.png")

# %% [markdown]
# ## The adding problem
#
# Hochreiter and Schmidhuber's (1997) test of long memory. Each sequence has $T = 20$ steps of
# two features: a value $u_t \sim U(0, 1)$ and a marker that is 1 at exactly two steps, one in
# each half of the sequence. The target is the sum of the two marked values. Predicting the mean,
# 1, scores a mean squared error of $\operatorname{Var}(u_1 + u_2) = 2/12 \approx 0.167$; to do
# better, a model must carry the first marked value across at least $T/2 = 10$ steps.
#
# Both models have $H = 32$, read out their last hidden state with a linear layer, and train
# for 500 steps of Adam (learning rate $10^{-2}$, batches of 64, gradient norm clipped at 1)
# from PyTorch's default initialisation, in float32 on the fused kernels. The test set is 1000
# fresh sequences.

# %%
T_ADD, H_ADD, BATCH, STEPS = 20, 32, 64, 500
MEAN_PREDICTOR_MSE = 2 / 12


def adding_batch(rng, batch):
    values = rng.random((T_ADD, batch))
    markers = np.zeros((T_ADD, batch))
    markers[rng.integers(0, T_ADD // 2, batch), np.arange(batch)] = 1
    markers[rng.integers(T_ADD // 2, T_ADD, batch), np.arange(batch)] = 1
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    return x, (values * markers).sum(axis=0)[:, None].astype(np.float32)


def last_hidden(recurrent, x):
    _, state = recurrent(tg.tensor(x))
    return (state[0] if isinstance(state, tuple) else state)[-1]


def train_adding(layer_class):
    tg.manual_seed(0)
    data = np.random.default_rng(0)
    recurrent, readout = layer_class(2, H_ADD), nn.Linear(H_ADD, 1)
    parameters = list(recurrent.parameters()) + list(readout.parameters())
    optimizer = optim.Adam(parameters, lr=1e-2)
    losses = []
    for _ in range(STEPS):
        x, target = adding_batch(data, BATCH)
        loss = F.mse_loss(readout(last_hidden(recurrent, x)), tg.tensor(target))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        losses.append(loss.item())
    x, target = adding_batch(np.random.default_rng(123), 1000)
    with tg.no_grad():
        test_mse = F.mse_loss(readout(last_hidden(recurrent, x)), tg.tensor(target)).item()
    return np.array(losses), test_mse, recurrent


lstm_losses, lstm_test, trained_lstm = train_adding(nn.LSTM)
rnn_losses, rnn_test, _ = train_adding(nn.RNN)
print(f"test MSE after {STEPS} steps: LSTM {lstm_test:.4f}, vanilla RNN {rnn_test:.4f}, "
      f"predicting the mean {MEAN_PREDICTOR_MSE:.4f}")

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
window = 20
smooth = np.ones(window) / window
for losses, label in [(lstm_losses, f"LSTM (test MSE {lstm_test:.4f})"),
                      (rnn_losses, f"vanilla RNN (test MSE {rnn_test:.3f})")]:
    ax.semilogy(np.arange(window, STEPS + 1), np.convolve(losses, smooth, mode="valid"), label=label)
ax.axhline(MEAN_PREDICTOR_MSE, color="0.5", ls="--", lw=0.8, label="predicting the mean (2/12)")
ax.set_xlabel("training step")
ax.set_ylabel(f"training MSE (mean of {window} steps)")
ax.set_title(f"The adding problem, T = {T_ADD}")
ax.legend()
fig.tight_layout()
save_and_show(fig, "04_adding_problem.png")

# %% [markdown]
# What did the LSTM learn? Running the trained weights through `lstm_step_by_hand` on one test
# sequence shows its gates at every step, aligned with the input: the picture shows the input
# gate and the forget gate of every unit, and the cell state. Look for the steps where the
# input gates open: the model has learned to write into its cells when a marker arrives.

# %%
x_one, target_one = adding_batch(np.random.default_rng(7), 1)
trained = dict(trained_lstm.named_parameters())
trained_weights = [trained[name].numpy().astype(np.float64)
                   for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
h_t, c_t, trace = np.zeros((1, H_ADD)), np.zeros((1, H_ADD)), {"i": [], "f": [], "c": []}
for x_t in x_one.astype(np.float64):
    h_t, c_t, step_gates = lstm_step_by_hand(x_t, h_t, c_t, *trained_weights)
    trace["i"].append(step_gates["i"][0]), trace["f"].append(step_gates["f"][0]), trace["c"].append(c_t[0])
marked = np.flatnonzero(x_one[:, 0, 1])
input_gate = np.array(trace["i"])                                  # (T, H)
opening = input_gate[marked].mean(axis=0) - np.delete(input_gate, marked, axis=0).mean(axis=0)  # per unit
print(f"input gate at the marked steps minus elsewhere: {opening.mean():.3f} on average over the units, "
      f"{opening.max():.3f} for the unit that opens most; {np.sum(opening > 0.2)} units open by more than 0.2")
fig, axes = plt.subplots(4, 1, figsize=(8, 8), sharex=True, gridspec_kw=dict(height_ratios=[1, 3, 3, 3]))
axes[0].bar(range(T_ADD), x_one[:, 0, 0], color=["C3" if t in marked else "0.7" for t in range(T_ADD)])
axes[0].set_ylabel("$u_t$")
axes[0].set_title(f"One test sequence: marked values in red, target {target_one[0, 0]:.3f}")
for ax, key, cmap, label in [(axes[1], "i", "viridis", "input gate $i_t$"),
                             (axes[2], "f", "viridis", "forget gate $f_t$"),
                             (axes[3], "c", "RdBu_r", "cell state $c_t$")]:
    values = np.array(trace[key]).T
    limits = dict(vmin=0, vmax=1) if key != "c" else dict(vmin=-np.abs(values).max(), vmax=np.abs(values).max())
    image = ax.imshow(values, aspect="auto", cmap=cmap, interpolation="nearest", **limits)
    ax.set_ylabel(f"{label}\nunit")
    fig.colorbar(image, ax=ax, pad=0.01)
    for t in marked:
        ax.axvline(t, color="r", lw=0.8)
fig.colorbar(image, ax=axes[0], pad=0.01).ax.set_visible(False)  # keeps the bars aligned with the maps
axes[-1].set_xticks(range(T_ADD))
axes[-1].set_xlabel("time step")
fig.tight_layout()
save_and_show(fig, "04_gates.png")

# %% [markdown]
# ## Check yourself

# %%
# the gates by hand are the cell (float64: to rounding)
assert np.abs(h_hand - h_cell.numpy()).max() < 1e-12 and np.abs(c_hand - c_cell.numpy()).max() < 1e-12
assert all(0 < gates[k].min() and gates[k].max() < 1 for k in "ifo")     # σ gates lie in (0, 1)
# Keras's layout (transposed, one bias, gates i, f, c, o) is the same cell, and converts back
assert np.abs(h_keras - h_hand).max() < 1e-12 and np.abs(c_keras - c_hand).max() < 1e-12
assert np.abs(h_converted.numpy() - h_hand).max() < 1e-12
# peepholes by hand are nn.LSTM(peephole=True), and removing them changes the result
assert np.abs(outputs_by_hand - out.numpy()).max() < 1e-12
h_no_peep, c_no_peep = np.zeros((1, H)), np.zeros((1, H))
for x_t in sequence:
    h_no_peep, c_no_peep, _ = lstm_step_by_hand(x_t, h_no_peep, c_no_peep, *layer_weights)
assert np.abs(h_no_peep - outputs_by_hand[-1]).max() > 1e-3
# the highway: ∂L/∂c_T by hand; with forget bias 3 the gradient at c_1 keeps more than 10% of its
# size at c_100, while with forget bias 0, and in the vanilla RNN, it falls below 1e-10 of it
assert np.abs(dL_dc_T_hand - dL_dc_T).max() < 1e-12
assert highway[3.0][1][0] > 0.1 * highway[3.0][1][-1]
assert highway[0.0][1][0] < 1e-10 * highway[0.0][1][-1]
assert rnn_norms[0] < 1e-10 * rnn_norms[-1]
assert highway[0.0][1][0] < highway[1.0][1][0] < highway[3.0][1][0]
# the adding problem: the LSTM beats the mean predictor by more than 10x, the vanilla RNN does not
# beat it by even 30%: the measured gap is more than 8x
assert lstm_test < MEAN_PREDICTOR_MSE / 10
assert rnn_test > 0.7 * MEAN_PREDICTOR_MSE
assert rnn_test > 8 * lstm_test
# the trained LSTM's input gates open wider at the marked steps than elsewhere
assert opening.mean() > 0.05 and opening.max() > 0.3
print("all checks passed")
