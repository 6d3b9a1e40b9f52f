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
# # 2. Backpropagation through time, by hand
#
# **What you will learn**
#
# - the forward pass of a vanilla (Elman) RNN, every number of it, on a three-word sentence;
# - the backward pass, step by step from the last word to the first: where each gradient comes
#   from and why the hidden state's gradient has two sources;
# - why $\partial L/\partial W_{hh}$ is a *sum over time steps* (the same weights are used at
#   every step), shown term by term;
# - that the framework's tape (and its fused kernel) computes exactly these numbers;
# - what the tape recorded: the unrolled graph, in which each shared weight is one node.
#
# Prerequisite: [tutorial 1](01_autodiff_from_scratch.py). The symbols and how they map onto the
# framework's parameter names (`weight_ih_l0`, ...) are in [the notation table](NOTATION.md).

# %%
import re

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.apps.plotting import save_and_show
from tinygrad_rnn import functional as F, nn

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## The network and the sentence
#
# The vocabulary has four entries, `the`, `cat`, `sat` and the full stop. The RNN reads
# "the cat sat" one word at a time, each word a one-hot vector $x_t \in \{0, 1\}^4$, and at each
# step predicts the next word (`cat`, `sat`, `.`). With a hidden state of size $H = 3$ and
# $h_0 = 0$, the lecture's equations are, for $t = 1, 2, 3$:
#
# $$a_t = W_{xh} x_t + W_{hh} h_{t-1} + b_h, \qquad h_t = \tanh(a_t),$$
# $$o_t = W_{hy} h_t + b_y, \qquad \hat y_t = \operatorname{softmax}(o_t), \qquad
#   L = \sum_{t=1}^{3} L_t = -\sum_{t=1}^{3} \log \hat y_{t}[y_t].$$
#
# We build it with the framework's `nn.RNN` (one layer, tanh) and `nn.Linear`, in float64, and
# read the lecture's matrices off their parameters. PyTorch's RNN (and ours) keeps two bias
# vectors, `bias_ih_l0` and `bias_hh_l0`; they are always added together, so $b_h$ is their sum.

# %%
vocabulary = ["the", "cat", "sat", "."]
words, next_words = ["the", "cat", "sat"], ["cat", "sat", "."]
V, H, T = len(vocabulary), 3, len(words)
one_hot = np.eye(V)
xs = np.stack([one_hot[vocabulary.index(w)] for w in words])          # (T, V)
ys = np.array([vocabulary.index(w) for w in next_words])              # (T,)

tg.manual_seed(0)
rnn = nn.RNN(V, H, dtype="float64", impl="reference")   # the tape: one node per op and step
head = nn.Linear(H, V, dtype="float64")

W_xh = rnn.weight_ih_l0.numpy().copy()                   # (H, V)
W_hh = rnn.weight_hh_l0.numpy().copy()                   # (H, H)
b_h = rnn.bias_ih_l0.numpy() + rnn.bias_hh_l0.numpy()    # (H,)
W_hy = head.weight.numpy().copy()                        # (V, H)
b_y = head.bias.numpy().copy()                           # (V,)
print("W_xh =\n", W_xh, "\nW_hh =\n", W_hh, "\nb_h =", b_h, "\nW_hy =\n", W_hy, "\nb_y =", b_y)

# %% [markdown]
# ## Forward, every number
#
# Because $x_t$ is one-hot, $W_{xh} x_t$ just picks the column of $W_{xh}$ for the word read.

# %%
hs = [np.zeros(H)]                       # hs[t] = h_t, with h_0 = 0
y_hats, losses = [None], [None]          # 1-based, like the equations
for t in range(1, T + 1):
    a = W_xh @ xs[t - 1] + W_hh @ hs[t - 1] + b_h
    h = np.tanh(a)
    o = W_hy @ h + b_y
    y_hat = np.exp(o - o.max()) / np.exp(o - o.max()).sum()
    loss_t = -np.log(y_hat[ys[t - 1]])
    hs.append(h), y_hats.append(y_hat), losses.append(loss_t)
    print(f"t={t} reads {words[t - 1]!r:6} a_{t} = {a}  h_{t} = {h}")
    print(f"      o_{t} = {o}  ŷ_{t} = {y_hat}  "
          f"L_{t} = -log ŷ_{t}[{next_words[t - 1]!r}] = {loss_t:.4f}")
loss_hand = sum(losses[1:])
print(f"L = L_1 + L_2 + L_3 = {loss_hand:.6f}")

# %% [markdown]
# ## Backward, every number
#
# Start from the loss and walk back in time. At each step:
#
# 1. the softmax cross-entropy gives $\delta^o_t = \partial L/\partial o_t = \hat y_t - \mathbb 1_{y_t}$;
# 2. the hidden state $h_t$ is used twice, by the output $o_t$ and by the next step's $a_{t+1}$,
#    so its gradient has two terms (the second is zero at the last step):
#    $$\frac{\partial L}{\partial h_t} = W_{hy}^\top \delta^o_t + W_{hh}^\top \delta^a_{t+1};$$
# 3. through the tanh: $\delta^a_t = \partial L/\partial a_t = \partial L/\partial h_t \odot (1 - h_t^2)$;
# 4. every weight used at step $t$ receives its share:
#    $$\frac{\partial L}{\partial W_{hh}} \mathrel{+}= \delta^a_t\, h_{t-1}^\top, \quad
#      \frac{\partial L}{\partial W_{xh}} \mathrel{+}= \delta^a_t\, x_t^\top, \quad
#      \frac{\partial L}{\partial b_h} \mathrel{+}= \delta^a_t, \quad
#      \frac{\partial L}{\partial W_{hy}} \mathrel{+}= \delta^o_t\, h_t^\top, \quad
#      \frac{\partial L}{\partial b_y} \mathrel{+}= \delta^o_t .$$
#
# The "+=" is weight sharing: the same $W_{hh}$ appears at every step, so its gradient is the
# sum of one term per step,
# $$\frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^{T} \delta^a_t\, h_{t-1}^\top .$$

# %%
dW_xh, dW_hh, db_h = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros_like(b_h)
dW_hy, db_y = np.zeros_like(W_hy), np.zeros_like(b_y)
W_hh_terms, dL_dh = {}, {}
delta_a_next = np.zeros(H)               # δ^a_{T+1} = 0: nothing comes from after the last step
for t in range(T, 0, -1):
    delta_o = y_hats[t] - one_hot[ys[t - 1]]
    from_output, from_future = W_hy.T @ delta_o, W_hh.T @ delta_a_next
    dh = dL_dh[t] = from_output + from_future
    delta_a = dh * (1 - hs[t] ** 2)
    W_hh_terms[t] = np.outer(delta_a, hs[t - 1]) + 0.0  # + 0.0 prints -0 as 0
    dW_hh += W_hh_terms[t]
    dW_xh += np.outer(delta_a, xs[t - 1])
    db_h += delta_a
    dW_hy += np.outer(delta_o, hs[t])
    db_y += delta_o
    print(f"t={t}: δo_{t} = ŷ_{t} - 1[{next_words[t - 1]!r}] = {delta_o}")
    print(f"     ∂L/∂h_{t} = W_hyᵀδo_{t} {from_output} + W_hhᵀδa_{t + 1} {from_future} = {dh}")
    print(f"     δa_{t} = ∂L/∂h_{t} ⊙ (1 - h_{t}²) = {delta_a}")
    print(f"     term of ∂L/∂W_hh at step {t}: δa_{t} h_{t - 1}ᵀ =\n{W_hh_terms[t]}")
    delta_a_next = delta_a
print("∂L/∂W_hh = sum of the three terms =\n", dW_hh)

# %% [markdown]
# The first term is exactly zero: $h_0 = 0$, so at step 1 nothing flows through $W_{hh}$ and
# there is nothing to blame it for. Note also that $\partial L/\partial h_1$ receives
# $W_{hh}^\top \delta^a_2$, which itself holds $W_{hh}^\top \delta^a_3$: the error made at step 3
# reaches step 1 after being multiplied by $W_{hh}^\top$ and by $\operatorname{diag}(1 - h_t^2)$
# once per step. Over three steps that is harmless; [tutorial 3](03_vanishing_exploding.py)
# follows it over a hundred.
#
# ## The picture: one term per time step

# %%
panels = [(f"step {t}: $\\delta^a_{t} h_{t - 1}^\\top$", W_hh_terms[t]) for t in (1, 2, 3)]
panels.append((r"sum $= \partial L / \partial W_{hh}$", dW_hh))
limit = max(abs(m).max() for _, m in panels)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), gridspec_kw=dict(wspace=0.35))
for ax, (title, matrix) in zip(axes, panels):
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xticks(range(H), [f"$h_{{t-1}}[{j}]$" for j in range(H)], fontsize=7)
    ax.set_yticks(range(H), [f"$a_t[{i}]$" for i in range(H)] if ax is axes[0] else [], fontsize=7)
for ax, symbol in zip(axes[:3], ["+", "+", "="]):
    ax.text(1.18, 0.5, symbol, transform=ax.transAxes, fontsize=20, ha="center", va="center")
fig.suptitle("Weight sharing: the gradient of $W_{hh}$ is a sum over the time steps (\"the cat sat\")")
fig.colorbar(image, ax=axes, shrink=0.8)
save_and_show(fig, "02_bptt_terms.png")

# %% [markdown]
# ## The framework computes the same numbers
#
# The same sentence through `nn.RNN` and `nn.Linear`, with `F.cross_entropy(..., reduction="sum")`
# for $L = \sum_t L_t$. Inputs are (time, batch, features), so the batch has size 1.
# `backward()` walks the tape in reverse, which is BPTT: nobody wrote the loop above for it.

# %%
def engine_gradients(layer):
    out, h_n = layer(tg.tensor(xs[:, None, :]))                       # out (T, 1, H)
    loss = F.cross_entropy(head(out.reshape(T, H)), tg.tensor(ys), reduction="sum")
    for p in list(layer.parameters()) + list(head.parameters()):
        p.grad = None
    loss.backward()
    return loss.item(), {name: p.grad.numpy().copy() for name, p in layer.named_parameters()}, \
        head.weight.grad.numpy().copy(), head.bias.grad.numpy().copy()


loss_engine, grads, dW_hy_engine, db_y_engine = engine_gradients(rnn)
print(f"L: by hand {loss_hand:.15f}, engine {loss_engine:.15f}")
print("∂L/∂W_hh, engine:\n", grads["weight_hh_l0"])
print("largest difference from the hand computation:", np.abs(grads["weight_hh_l0"] - dW_hh).max())

# %% [markdown]
# The default `impl="auto"` runs the same layer as one fused kernel (Numba on the CPU), whose
# backward is BPTT written as one loop, much like the cell above. It gives the same numbers:

# %%
fused = nn.RNN(V, H, dtype="float64", impl="fused")
fused.load_state_dict(rnn.state_dict())
_, grads_fused, _, _ = engine_gradients(fused)

# %% [markdown]
# ## The unrolled graph, with each weight once
#
# What did the tape record? `tg.viz.to_dot` lists every tensor and op of the graph behind the
# loss; with `params=` the parameters carry the lecture's names. A tensor is drawn once however
# often it is used, so a shared weight is one node with an edge to each op that reads it. We
# count those edges:

# %%
out, _ = rnn(tg.tensor(xs[:, None, :]))
loss = F.cross_entropy(head(out.reshape(T, H)), tg.tensor(ys), reduction="sum")
lecture_names = {"W_xh": rnn.weight_ih_l0, "W_hh": rnn.weight_hh_l0, "b_ih": rnn.bias_ih_l0,
                 "b_hh": rnn.bias_hh_l0, "W_hy": head.weight, "b_y": head.bias}
dot = tg.viz.to_dot(loss, params=lecture_names)
boxes = re.findall(r'^\s*(\w+) \[shape=box, label="([^"]*)"', dot, re.M)    # (node, label) of tensors
node_of = {label.split("\\n")[0]: node for node, label in boxes}
edges = re.findall(r"^\s*(\w+) -> (\w+);", dot, re.M)
uses = {name: sum(source == node_of[name] for source, _ in edges) for name in lecture_names}
ops = len(re.findall(r"shape=ellipse", dot))
print(f"the graph has {ops} ops; uses of each parameter:", uses)

# %% [markdown]
# $W_{hh}$ and $b_{hh}$ are used once per time step: three edges from one node, which is why
# their gradients are sums of three terms. $W_{xh}$, $b_{ih}$, $W_{hy}$ and $b_y$ are used only
# once: the layer computes the input projection $W_{xh} x_t + b_{ih}$ of all steps in a single
# matrix product before the loop (the inputs are all known in advance), and the readout of all
# steps in another. The sum over time steps is then inside that one product, and the backward
# pass gets it for free. Only the recurrence, which needs $h_{t-1}$ first, must be a loop.
#
# The picture draws the unrolled network at the lecture's level, with the numbers computed
# above: $h_t$ (forward) and $\partial L/\partial h_t$ (backward) in each box, and $W_{hh}$ once,
# with one arrow per use found in the engine's graph.

# %%
def vector(v):
    return "[" + " ".join(f"{value:+.3f}" for value in v) + "]"


fig, ax = plt.subplots(figsize=(12, 5.6))
box = dict(boxstyle="round,pad=0.4", fc="white", ec="0.3")
column = {t: 3.2 * t for t in range(T + 1)}
ax.text(column[0], 2, "$h_0$\n" + vector(hs[0]), ha="center", va="center", fontsize=8, bbox=box)
for t in range(1, T + 1):
    x_pos = column[t]
    ax.text(x_pos, 0, f"$x_{t}$ = one-hot({words[t - 1]!r})", ha="center", va="center", fontsize=8,
            bbox=dict(box, fc="#eeeeee"))
    ax.text(x_pos, 2, f"$h_{t}$ = {vector(hs[t])}\n$\\partial L/\\partial h_{t}$ = {vector(dL_dh[t])}",
            ha="center", va="center", fontsize=8, bbox=dict(box, fc="#ffe9a8"))
    ax.text(x_pos, 4, f"$\\hat y_{t}$ → $L_{t}$ = {losses[t]:.3f}\n(target {next_words[t - 1]!r})",
            ha="center", va="center", fontsize=8, bbox=dict(box, fc="#d9f2d9"))
    for (x0, y0), (x1, y1), label in [((x_pos, 0.3), (x_pos, 1.55), "$W_{xh}$"),
                                      ((x_pos, 2.45), (x_pos, 3.6), "$W_{hy}$")]:
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="0.3"))
        ax.text(x0 + 0.1, (y0 + y1) / 2, label, fontsize=8, color="0.3")
    recurrence = ((column[t - 1] + (0.8 if t == 1 else 1.2), 2), (x_pos - 1.2, 2))   # box edge to box edge
    ax.annotate("", xy=recurrence[1], xytext=recurrence[0], arrowprops=dict(arrowstyle="->", color="0.3", lw=1.5))
    ax.text((recurrence[0][0] + recurrence[1][0]) / 2, 2.1, "$W_{hh}$", ha="center", fontsize=8, color="0.3")
w_hh_position = (column[T] / 2 + column[0] / 2 + 1.6, -1.3)
ax.text(*w_hh_position, "$W_{hh}$ (one tensor in the graph)", ha="center", va="center", fontsize=9,
        bbox=dict(box, fc="#a8d4ff"))
for t in range(1, uses["W_hh"] + 1):                    # one arrow per use recorded on the tape
    midpoint = ((column[t - 1] + (0.8 if t == 1 else 1.2) + column[t] - 1.2) / 2, 1.95)
    ax.annotate("", xy=midpoint, xytext=w_hh_position, arrowprops=dict(arrowstyle="->", color="C0", ls="--"))
ax.set_xlim(-1.6, column[T] + 1.8)
ax.set_ylim(-1.9, 4.7)
ax.axis("off")
ax.set_title(f"\"the cat sat\" unrolled over {T} steps: forward values and BPTT gradients; "
             f"the engine's graph uses $W_{{hh}}$ {uses['W_hh']} times")
fig.tight_layout()
save_and_show(fig, "02_unrolled.png")

# %% [markdown]
# ## Check yourself

# %%
def assert_close(engine, hand, what):
    error = np.abs(engine - hand).max()
    assert error <= 1e-12, f"{what}: differs from the hand computation by {error:.2e}"


assert abs(loss_engine - loss_hand) <= 1e-12
for grad_set in (grads, grads_fused):
    assert_close(grad_set["weight_hh_l0"], dW_hh, "∂L/∂W_hh")
    assert_close(grad_set["weight_ih_l0"], dW_xh, "∂L/∂W_xh")
    assert_close(grad_set["bias_ih_l0"], db_h, "∂L/∂b_ih")     # both biases get ∂L/∂b_h
    assert_close(grad_set["bias_hh_l0"], db_h, "∂L/∂b_hh")
assert_close(dW_hy_engine, dW_hy, "∂L/∂W_hy")
assert_close(db_y_engine, db_y, "∂L/∂b_y")
# weight sharing: the gradient is the sum of the per-step terms, the first of which is zero
assert np.array_equal(W_hh_terms[1], np.zeros((H, H)))
assert np.allclose(W_hh_terms[1] + W_hh_terms[2] + W_hh_terms[3], dW_hh, rtol=0, atol=1e-15)
# the tape holds W_hh once, used at each of the T steps; the input projection is one product
assert uses["W_hh"] == T and uses["b_hh"] == T and uses["W_xh"] == 1 and uses["W_hy"] == 1
# a one-hot input touches one column of W_xh per step: the column of a word never read is zero
assert np.array_equal(dW_xh[:, vocabulary.index(".")], np.zeros(H))
# and a third witness: central differences on one entry of W_hh (error ~ ε² + δ/ε ≈ 1e-10)
def loss_with(W):
    h, total = np.zeros(H), 0.0
    for t in range(T):
        h = np.tanh(W_xh @ xs[t] + W @ h + b_h)
        o = W_hy @ h + b_y
        total += np.log(np.exp(o - o.max()).sum()) + o.max() - o[ys[t]]
    return total


eps, bump = 1e-6, np.zeros((H, H))
bump[0, 1] = eps
assert abs((loss_with(W_hh + bump) - loss_with(W_hh - bump)) / (2 * eps) - dW_hh[0, 1]) < 1e-8
print("all checks passed")
