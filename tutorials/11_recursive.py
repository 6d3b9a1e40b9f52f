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
# # 11. Recursive networks: backpropagation through structure
#
# **What you will learn**
#
# - how a recursive network composes a sentence bottom-up along its parse tree, one shared
#   weight matrix at every node (`tinygrad_rnn.models.TreeRNN`), redone by hand in NumPy;
# - backpropagation through structure (BPTS): BPTT's backward pass run over a tree instead of a
#   chain, by hand, node by node; $\partial L/\partial W$ as one term per node; equal to the
#   engine's gradient, and a leaf's gradient equal to central differences, for `TreeRNN` and
#   `TreeLSTM`;
# - how a tree and a chain differ: the same 16 words through a balanced tree, a chain-shaped
#   tree and an `nn.RNN`, and how far the gradient has to travel to reach each word.
#
# Prerequisite: [tutorial 2](02_bptt_by_hand.py) (BPTT by hand). The chain's weights
# $W_{xh}, W_{hh}$ are named in [the notation table](NOTATION.md); a tree network has one fused
# matrix `weight` acting on $[x_j; h_l; h_r]$, which is $[W_x \mid W_l \mid W_r]$ side by side.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.apps.plotting import save_and_show
from tinygrad_rnn import nn
from tinygrad_rnn.models import Tree, TreeLSTM, TreeRNN

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Composing a tree bottom-up
#
# A recursive network (Pollack 1990; Socher et al. 2011) computes a vector for every node of a
# binary tree from the vectors of its two children, with the **same** weights at every node:
#
# $$h_j = \tanh\!\big(W [x_j; h_l; h_r] + b\big) = \tanh(W_x x_j + W_l h_l + W_r h_r + b).$$
#
# A leaf reads its word's embedding $x_j$ and zero children; an unlabelled internal node reads
# $x_j = 0$ and its children's states. The root's vector represents the whole sentence. Here is
# "the cat sat on the mat" with its parse, ((the cat) (sat (on (the mat)))), in the nested-tuple
# form the models read.

# %%
words = "the cat sat on the mat".split()
nested = (("the", "cat"), ("sat", ("on", ("the", "mat"))))
vocab = sorted(set(words))
E_DIM, H = 4, 3
tg.manual_seed(0)
tree_rnn = TreeRNN(vocab, E_DIM, H, dtype="float64")
print(tree_rnn)
print({name: p.shape for name, p in tree_rnn.named_parameters()})
root_h = tree_rnn([nested])
print("the engine's root vector:", root_h.numpy()[0])

# %% [markdown]
# By hand: visit the nodes children-first (post-order, `Tree.nodes()`), so that both children
# are done when a parent is computed.

# %%
tree = Tree.from_nested(nested)
E, W, b = (p.numpy() for p in (tree_rnn.embedding, tree_rnn.weight, tree_rnn.bias))
index = {word: i for i, word in enumerate(vocab)}
zero = np.zeros(H)
z, h, names = {}, {}, {}
for node in tree.nodes():
    if node.is_leaf:
        x, left, right = E[index[node.label]], zero, zero
        names[id(node)] = node.label
    else:
        x, left, right = np.zeros(E_DIM), h[id(node.children[0])], h[id(node.children[1])]
        names[id(node)] = f"({names[id(node.children[0])]} {names[id(node.children[1])]})"
    z[id(node)] = np.concatenate([x, left, right])
    h[id(node)] = np.tanh(W @ z[id(node)] + b)
    print(f"h[{names[id(node)]}]".ljust(36), "=", h[id(node)])
print("largest difference, root by hand vs TreeRNN:", np.abs(h[id(tree)] - root_h.numpy()[0]).max())

# %% [markdown]
# ## Backpropagation through structure
#
# Take the loss $L = u^\top h_{\text{root}}$ for a fixed vector $u$ (standing in for a
# classifier on the root). The backward pass visits the nodes parents-first, the reverse of the
# forward order. At node $j$, with $a_j = W z_j + b$ its pre-activation and
# $\bar h_j = \partial L / \partial h_j$ what its parent sent down:
#
# $$\delta_j = \bar h_j \odot (1 - h_j^2), \qquad
#   \frac{\partial L}{\partial W} \mathrel{+}= \delta_j z_j^\top, \qquad
#   [\bar x_j; \bar h_l; \bar h_r] = W^\top \delta_j .$$
#
# The parent's $W^\top\delta_j$ is split in three: $\bar x_j$ goes to the word's embedding (a
# leaf), $\bar h_l$ and $\bar h_r$ to the two children. It is BPTT with two children where the
# chain has one predecessor: **the same weights are used at every node, so $\partial L/\partial W$
# is a sum of one term per node**, as it was one term per time step in tutorial 2. A word used
# twice ("the") collects the sum of its two leaves' gradients in its embedding row.

# %%
u = np.array([1.0, -2.0, 0.5])
h_bar = {id(tree): u}
dW, db, dE = np.zeros_like(W), np.zeros_like(b), np.zeros_like(E)
per_node = []
for node in reversed(tree.nodes()):
    delta = h_bar[id(node)] * (1 - h[id(node)] ** 2)
    dW += np.outer(delta, z[id(node)])
    db += delta
    per_node.append((names[id(node)], np.linalg.norm(np.outer(delta, z[id(node)])), np.linalg.norm(h_bar[id(node)])))
    back = W.T @ delta
    if node.is_leaf:
        dE[index[node.label]] += back[:E_DIM]
    else:
        h_bar[id(node.children[0])] = back[E_DIM:E_DIM + H]
        h_bar[id(node.children[1])] = back[E_DIM + H:]
for name, term, norm in per_node:
    print(f"node {name:32}: ‖∂L/∂h_j‖ = {norm:.4f}, its term of ∂L/∂W has norm {term:.4f}")

loss = (tree_rnn([nested])[0] * tg.tensor(u)).sum()
loss.backward()
print("largest differences, by hand vs the engine: "
      f"∂L/∂W {np.abs(dW - tree_rnn.weight.grad.numpy()).max():.1e}, "
      f"∂L/∂b {np.abs(db - tree_rnn.bias.grad.numpy()).max():.1e}, "
      f"∂L/∂embedding {np.abs(dE - tree_rnn.embedding.grad.numpy()).max():.1e}")

# %% [markdown]
# ### A leaf's gradient by central differences
#
# Nudge each of the 4 numbers of the embedding of "cat" (one leaf) by $\pm\varepsilon$ and
# measure $L$ again: $(L(e + \varepsilon) - L(e - \varepsilon)) / 2\varepsilon$, in float64 with
# $\varepsilon = 10^{-6}$ (tutorial 1 explains the choice). We do the same for a `TreeLSTM`,
# whose nodes have an input gate, a forget gate **per child**, a candidate and an output gate:
#
# $$c_j = \sigma(i) \odot \tanh(g) + \sigma(f_l) \odot c_l + \sigma(f_r) \odot c_r, \qquad
#   h_j = \sigma(o) \odot \tanh(c_j).$$


# %%
def leaf_gradient_check(model, word, read_root, eps=1e-6):
    """(engine's ∂L/∂embedding[word], central differences) with L = u · (root h)."""
    def loss_value():
        with tg.no_grad():
            return float((read_root(model([nested])) * tg.tensor(u)).sum().item())
    model.zero_grad()
    (read_root(model([nested])) * tg.tensor(u)).sum().backward()
    analytic = model.embedding.grad.numpy()[model.leaf_ids[word]].copy()
    numeric = np.zeros(E_DIM)
    row = model.embedding.data[model.leaf_ids[word]]
    for k in range(E_DIM):
        original = row[k]
        row[k] = original + eps
        plus = loss_value()
        row[k] = original - eps
        minus = loss_value()
        row[k] = original
        numeric[k] = (plus - minus) / (2 * eps)
    return analytic, numeric


rnn_analytic, rnn_numeric = leaf_gradient_check(tree_rnn, "cat", lambda out: out[0])
tg.manual_seed(0)
tree_lstm = TreeLSTM(vocab, E_DIM, H, dtype="float64")
print("TreeLSTM parameters:", {name: p.shape for name, p in tree_lstm.named_parameters()}, "(5 gate blocks of H rows)")
lstm_analytic, lstm_numeric = leaf_gradient_check(tree_lstm, "cat", lambda out: out[0][0])
for model_name, analytic, numeric in [("TreeRNN", rnn_analytic, rnn_numeric), ("TreeLSTM", lstm_analytic, lstm_numeric)]:
    print(f"{model_name}: ∂L/∂e_cat by the tape {analytic}, by central differences {numeric}, "
          f"largest difference {np.abs(analytic - numeric).max():.1e}")

# %%
# the tree drawn: each node's vector h and the gradient norm ‖∂L/∂h_j‖ it received
nodes = tree.nodes()
leaf_x = {id(n): k for k, n in enumerate(tree.leaves())}
position, height = {}, {}
for node in nodes:
    if node.is_leaf:
        position[id(node)], height[id(node)] = leaf_x[id(node)], 0
    else:
        left, right = node.children
        position[id(node)] = (position[id(left)] + position[id(right)]) / 2
        height[id(node)] = 1 + max(height[id(left)], height[id(right)])
grad_norms = {key: np.linalg.norm(value) for key, value in h_bar.items()}
cmap, top = plt.get_cmap("viridis"), max(grad_norms.values())
fig, ax = plt.subplots(figsize=(13, 5.6))
for node in nodes:
    for child in node.children:
        ax.plot([position[id(node)], position[id(child)]], [height[id(node)], height[id(child)]], color="0.6", zorder=1)
for node in nodes:
    label = node.label if node.is_leaf else ""
    text = f"{label}\nh = [{', '.join(f'{v:+.2f}' for v in h[id(node)])}]\n‖∂L/∂h‖ = {grad_norms[id(node)]:.3f}"
    colour = cmap(grad_norms[id(node)] / top)
    ax.text(position[id(node)], height[id(node)], text, ha="center", va="center", fontsize=8, zorder=2,
            bbox=dict(boxstyle="round", fc=colour, ec="0.3"),
            color="white" if grad_norms[id(node)] / top < 0.6 else "black")
ax.set_xlim(-0.7, len(tree.leaves()) - 0.3)
ax.set_ylim(-0.6, tree.depth() + 0.6)
ax.set_yticks(range(tree.depth() + 1))
ax.set_ylabel("height (leaves 0)")
ax.set_xticks([])
for spine in ("top", "right", "bottom"):
    ax.spines[spine].set_visible(False)
ax.set_title("TreeRNN on ((the cat) (sat (on (the mat)))): forward h and backward ‖∂L/∂h‖ at each node,\n"
             "one shared W; colour = gradient norm (brighter = larger)", fontsize=10)
fig.tight_layout()
save_and_show(fig, "11_tree_bpts.png")

# %% [markdown]
# ## A tree against a chain
#
# An RNN is the special case of a tree that leans all the way to one side: it reads word $t$
# after it has composed words $1..t-1$, so the first word is $T - 1$ compositions away from the
# last state. A balanced tree over $T$ words puts every word only $\lceil \log_2 T \rceil$
# compositions below the root. Each composition multiplies the gradient by a Jacobian
# $\operatorname{diag}(1 - h^2) W_\cdot$ (tutorial 3), so the path length decides how much of
# the gradient arrives.
#
# The experiment: 16 words, $H = E = 8$, the same loss $L = u^\top h_{\text{root}}$ (for the
# RNN, $u^\top h_T$), and the gradient norm reaching each word's input, for
#
# - a `TreeRNN` over the balanced tree (depth 4),
# - a `TreeRNN` over the chain-shaped tree $(((w_1\,w_2)\,w_3) \ldots w_{16})$ (depth 15),
# - an `nn.RNN` reading the same 16 embeddings as a sequence.
#
# Every position gets its own leaf label (`"the@0"`, `"the@4"`, ...), so its embedding row holds
# exactly that position's gradient. The numbers are averaged (as $\log_{10}$) over 20 random
# initialisations, PyTorch's default.

# %%
sentence = "the old man saw the young cat sit on the red mat by the open door".split()
T, SIZE, SEEDS = len(sentence), 8, 20
labels = [f"{word}@{k}" for k, word in enumerate(sentence)]


def balanced(items):
    if len(items) == 1:
        return items[0]
    middle = len(items) // 2
    return (balanced(items[:middle]), balanced(items[middle:]))


def left_chain(items):
    built = items[0]
    for item in items[1:]:
        built = (built, item)
    return built


shapes = {"balanced tree": balanced(labels), "chain-shaped tree": left_chain(labels)}
depths = {name: Tree.from_nested(shape).depth() for name, shape in shapes.items()}
log_norms = {name: [] for name in [*shapes, "nn.RNN (chain)"]}
for seed in range(SEEDS):
    u_big = np.random.default_rng(seed).standard_normal(SIZE)
    for name, shape in shapes.items():
        tg.manual_seed(seed)
        model = TreeRNN(labels, SIZE, SIZE, dtype="float64")
        (model([shape])[0] * tg.tensor(u_big)).sum().backward()
        rows = [model.leaf_ids[label] for label in labels]
        log_norms[name].append(np.log10(np.linalg.norm(model.embedding.grad.numpy()[rows], axis=1)))
        words_as_vectors = model.embedding.numpy()[rows]     # the same seed: the same embeddings in both trees
    tg.manual_seed(seed)
    chain = nn.RNN(SIZE, SIZE, dtype="float64")
    x = tg.tensor(words_as_vectors[:, None, :], requires_grad=True)      # (T, batch 1, E): the words in order
    out, _ = chain(x)
    (out[-1, 0] * tg.tensor(u_big)).sum().backward()
    log_norms["nn.RNN (chain)"].append(np.log10(np.linalg.norm(x.grad.numpy()[:, 0], axis=1)))
mean_log = {name: np.mean(values, axis=0) for name, values in log_norms.items()}
print("depth:", depths)
for name, values in mean_log.items():
    print(f"{name:18}: log10 ‖∂L/∂x‖ first word {values[0]:+.2f}, last word {values[-1]:+.2f}, "
          f"spread max - min {values.max() - values.min():.2f} decades")

# %%
fig, ax = plt.subplots(figsize=(8, 4.6))
for name, marker in zip(mean_log, "os^"):
    ax.plot(range(T), mean_log[name], marker=marker, label=name + (f" (depth {depths[name]})" if name in depths else ""))
ax.set_xticks(range(T))
ax.set_xticklabels(sentence, rotation=45, ha="right")
ax.set_ylabel(r"$\log_{10} \|\partial L / \partial x_{word}\|$" + f"\n(mean of {SEEDS} initialisations)")
ax.set_title("Gradient reaching each word: a balanced tree keeps every word close to the loss", fontsize=10)
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
save_and_show(fig, "11_tree_vs_chain.png")

# %% [markdown]
# In the chain, the gradient reaching the first word has crossed 15 compositions and is orders
# of magnitude smaller than the last word's; in the balanced tree every word is 4 compositions
# away and the gradients stay within a narrow band. That short path is one reason tree models
# were used for sentences before attention gave every word a direct path (tutorial 8); the
# price is that a tree needs a parse, and a batch of trees is computed level by level
# (`TreeSchedule`: all nodes of one height of all trees in one matmul).
#
# ## Check yourself

# %%
# the forward pass by hand is the TreeRNN; BPTS by hand is the engine's gradient (float64)
assert np.abs(h[id(tree)] - root_h.numpy()[0]).max() < 1e-12
assert np.abs(dW - tree_rnn.weight.grad.numpy()).max() < 1e-12
assert np.abs(db - tree_rnn.bias.grad.numpy()).max() < 1e-12
assert np.abs(dE - tree_rnn.embedding.grad.numpy()).max() < 1e-12
# ∂L/∂W is a sum of one term per node: 11 nodes (6 leaves, 5 compositions), all contributing
assert len(per_node) == 11 and all(term > 0 for _, term, _ in per_node)
# a leaf's gradient equals central differences, for the TreeRNN and the TreeLSTM
assert np.abs(rnn_analytic - rnn_numeric).max() < 1e-8 and np.abs(rnn_analytic).max() > 1e-3
assert np.abs(lstm_analytic - lstm_numeric).max() < 1e-8 and np.abs(lstm_analytic).max() > 1e-3
# tree against chain: depth 4 against 15; the chain's first word gets far less gradient than its
# last (over 3 decades less, for the RNN and the chain-shaped tree), the balanced tree's words
# stay within 1.5 decades of each other
assert depths == {"balanced tree": 4, "chain-shaped tree": 15}
for name in ("chain-shaped tree", "nn.RNN (chain)"):
    assert mean_log[name][-1] - mean_log[name][0] > 3
spread = {name: values.max() - values.min() for name, values in mean_log.items()}
assert spread["balanced tree"] < 1.5 and spread["balanced tree"] < min(spread["chain-shaped tree"], spread["nn.RNN (chain)"]) / 2
print("all checks passed")
