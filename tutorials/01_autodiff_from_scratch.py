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
# # 1. Autodiff from scratch
#
# **What you will learn**
#
# - how the chain rule turns a chain of small operations into a derivative, by hand;
# - how to check any derivative with central differences, and why that check needs float64;
# - what the tape (the recorded graph) is, and how `backward()` walks it in reverse;
# - how to add your own operation as a `Function` (forward and backward side by side, one
#   output or several) and test it the way the library tests its own ops: `gradcheck`,
#   `gradgradcheck` and a hypothesis strategy from `tinygrad_rnn.testing`.
#
# Symbols used in all the tutorials are listed in [the notation table](NOTATION.md).
# Run this file with `python tutorials/01_autodiff_from_scratch.py`; it writes two pictures
# into the current folder.

# %%
import re
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
from hypothesis import given, settings

import tinygrad_rnn as tg
from tinygrad_rnn.apps.plotting import save_and_show
from tinygrad_rnn.autograd import Function
from tinygrad_rnn.testing import GradcheckError, gradcheck, gradgradcheck, strategies


# %% [markdown]
# ## A scalar chain, by hand
#
# One neuron with a squared output, written as a chain of three small steps:
#
# $$u = w x + b, \qquad v = \tanh(u), \qquad L = v^2 .$$
#
# The chain rule multiplies the local derivatives along the chain:
#
# $$\frac{\partial L}{\partial w} = \frac{\partial L}{\partial v}\,\frac{\partial v}{\partial u}\,
#   \frac{\partial u}{\partial w} = 2v \cdot (1 - v^2) \cdot x, \qquad
#   \frac{\partial L}{\partial b} = 2v \cdot (1 - v^2) \cdot 1 .$$
#
# Reverse mode computes the product from the left: first $\partial L/\partial v$, then
# $\partial L/\partial u$, and only then the derivative for each parameter. The numbers
# $\partial L/\partial u$ are shared by $w$ and $b$: that sharing is why reverse mode costs one
# backward pass, whatever the number of parameters.

# %%
x, w, b = 0.5, 1.5, -0.2


def chain(w, b):
    u = w * x + b
    v = np.tanh(u)
    return u, v, v * v


u, v, L = chain(w, b)
dL_dv = 2 * v
dL_du = dL_dv * (1 - v * v)
dL_dw_hand, dL_db_hand = dL_du * x, dL_du * 1.0
print(f"forward:  u = {u:.6f}   v = tanh(u) = {v:.6f}   L = v² = {L:.6f}")
print(f"backward: ∂L/∂v = 2v = {dL_dv:.6f}   ∂L/∂u = ∂L/∂v·(1 - v²) = {dL_du:.6f}")
print(f"          ∂L/∂w = ∂L/∂u·x = {dL_dw_hand:.6f}   ∂L/∂b = ∂L/∂u·1 = {dL_db_hand:.6f}")

# %% [markdown]
# ## The same derivative by central differences
#
# Nudge $w$ by $\pm\varepsilon$ and measure how $L$ moves:
#
# $$\frac{\partial L}{\partial w} \approx \frac{L(w + \varepsilon) - L(w - \varepsilon)}{2\varepsilon}.$$
#
# Taylor's theorem puts the truncation error at $\varepsilon^2 |L'''| / 6$; rounding the two
# values of $L$ (relative precision $\delta \approx 10^{-16}$ in float64) adds about
# $\delta |L| / \varepsilon$. The two balance near $\varepsilon \approx \delta^{1/3} \approx 10^{-5}$,
# where the error is $10^{-10}$ or less (the picture below measures it). In float32
# ($\delta \approx 10^{-7}$) the best one can get is about $10^{-5}$, too coarse to tell a right
# gradient from a slightly wrong one: gradient checks are done in float64.

# %%
def central_difference(eps):
    return (chain(w + eps, b)[2] - chain(w - eps, b)[2]) / (2 * eps)


epsilons = np.logspace(-13, -1, 25)
errors = np.array([abs(central_difference(e) - dL_dw_hand) for e in epsilons])
for eps in (1e-1, 1e-6, 1e-12):
    print(f"ε = {eps:.0e}: central difference {central_difference(eps):.12f}, "
          f"error {abs(central_difference(eps) - dL_dw_hand):.1e}")

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(epsilons, np.maximum(errors, 1e-17), "o-", label="measured error")
third_derivative = x ** 3 * -4 * v * (1 - v * v) * (4 - 6 * v * v)  # d³(tanh²(wx + b))/dw³
ax.loglog(epsilons, epsilons ** 2 / 6 * abs(third_derivative), "--", label=r"truncation $\varepsilon^2|L'''|/6$")
ax.loglog(epsilons, 1.1e-16 * L / epsilons, ":", label=r"rounding $\delta L/\varepsilon$")
ax.set_ylim(1e-18, 1e-1)
ax.set_xlabel(r"step $\varepsilon$")
ax.set_ylabel(r"|central difference $-$ hand derivative|")
ax.set_title(f"Central differences in float64: best ε ≈ {epsilons[np.argmin(errors)]:.0e}")
ax.legend()
fig.tight_layout()
save_and_show(fig, "01_finite_differences.png")

# %% [markdown]
# ## The same derivative by the tape
#
# With the framework, the forward pass is written once, on `Tensor`s. Every operation on a
# tensor that requires a gradient records a *node*: which op ran, on which inputs. The nodes
# form a graph from the parameters to the loss (the *tape*). `L.backward()` visits the nodes in
# reverse topological order and applies each op's backward (its local chain-rule step),
# accumulating $\partial L/\partial(\cdot)$ into `.grad` of the leaves.
#
# Note that $v$ is used twice by $L = v \cdot v$: the multiplication's backward sends
# $\bar L \cdot v$ to each of its two inputs, and the engine *adds* them, giving $2v$. Summing
# over every use of a tensor is the rule that, in tutorial 2, adds up the time steps of
# backpropagation through time.

# %%
wt = tg.tensor(w, dtype="float64", requires_grad=True)
bt = tg.tensor(b, dtype="float64", requires_grad=True)
xt = tg.tensor(x, dtype="float64")
ut = wt * xt + bt
vt = ut.tanh()
Lt = vt * vt
dot = tg.viz.to_dot(Lt, names={wt: "w", bt: "b", xt: "x", ut: "u", vt: "v", Lt: "L"})  # before backward frees it
Lt.backward()
print(f"tape:  L = {Lt.item():.6f}   ∂L/∂w = {wt.grad.item():.6f}   ∂L/∂b = {bt.grad.item():.6f}")

# %% [markdown]
# ## The graph
#
# `tg.viz.to_dot(L)` writes the recorded graph as Graphviz DOT text: tensors are boxes
# (the parameters blue, the output yellow), ops are ellipses. If Graphviz is installed,
# `tg.viz.render(L, "graph.png")` draws it; here a few lines of matplotlib draw the same DOT
# text, so that the tutorial runs without Graphviz.

#
# The DOT text was taken before `backward()`: by default the backward pass frees what the nodes
# saved for it (as PyTorch does), and the graph then shows its ops as "(freed)".

# %%
print(dot)


def draw_dot(dot_text, path):
    """Draw DOT text from ``tg.viz.to_dot`` with matplotlib: columns by distance from the inputs."""
    nodes = {name: (shape, label.replace("\\n", "\n"), fill) for name, shape, label, fill in re.findall(
        r'^\s*(\w+) \[shape=(\w+), label="((?:[^"\\]|\\.)*)"(?:, style=filled, fillcolor="([^"]+)")?\];',
        dot_text, re.M)}
    edges = re.findall(r"^\s*(\w+) -> (\w+);", dot_text, re.M)
    column = {name: 0 for name in nodes}
    for _ in nodes:  # longest path from a leaf; the graph is acyclic, so |nodes| rounds suffice
        for source, target in edges:
            column[target] = max(column[target], column[source] + 1)
    rows = {}
    for name in nodes:
        rows.setdefault(column[name], []).append(name)
    position = {name: (c, r - (len(names) - 1) / 2) for c, names in rows.items() for r, name in enumerate(names)}
    fig, ax = plt.subplots(figsize=(1.6 * (max(rows) + 1), 3))
    for (source, target), count in Counter(edges).items():
        ax.annotate("", xy=position[target], xytext=position[source],
                    arrowprops=dict(arrowstyle="->", shrinkA=22, shrinkB=22, color="0.4"))
        if count > 1:  # a tensor used several times by one op (v * v): one arrow per use in DOT
            middle = [(a + b) / 2 for a, b in zip(position[source], position[target])]
            ax.text(middle[0], middle[1] + 0.08, f"×{count}", ha="center", fontsize=9, color="C3")
    for name, (shape, label, fill) in nodes.items():
        box = "round,pad=0.4" if shape == "ellipse" else "square,pad=0.4"
        ax.text(*position[name], label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle=box, fc=fill or ("#eeeeee" if shape == "ellipse" else "white"), ec="0.3"))
    ax.set_xlim(-0.6, max(rows) + 0.6)
    ax.set_ylim(-1.2, 1.2)
    ax.axis("off")
    fig.tight_layout()
    save_and_show(fig, path)
    return nodes, edges


graph_nodes, graph_edges = draw_dot(dot, "01_graph.png")

# %% [markdown]
# ## Extending the framework: a new op as a `Function`
#
# Suppose we want $\operatorname{logcosh}(x) = \log\cosh x$ (a smooth absolute value used as a
# robust loss), whose derivative is $\tanh x$. An op is a subclass of `Function`:
#
# - `forward` works on the device's raw arrays (take the array module from `self.xp`, so it
#   also runs on CuPy) and returns an array;
# - `backward` receives the gradient $\bar y = \partial L/\partial y$ of its output and returns
#   $\bar x = \bar y \cdot \partial y/\partial x$, written with `Tensor` operations, so the
#   backward is itself recorded and can be differentiated again.
#
# For numerical stability, $\log\cosh x = \operatorname{logaddexp}(x, -x) - \log 2$ never forms
# $e^{|x|}$.

# %%
class LogCosh(Function):
    """y = log cosh x;  dy/dx = tanh x."""

    def forward(self, x):                  # arrays in, array out
        return self.xp.logaddexp(x, -x) - np.log(2.0)

    def backward(self, grad_y):            # Tensors in, Tensors out
        x, = self.inputs
        return grad_y * x.tanh()


def log_cosh(x):
    return LogCosh.apply(x)


a = tg.tensor([-30.0, -1.0, 0.0, 2.0], dtype="float64", requires_grad=True)
log_cosh(a).sum().backward()
print("logcosh  ", log_cosh(a).numpy())
print("gradient ", a.grad.numpy(), " (tanh of the inputs:", np.tanh(a.numpy()), ")")

# %% [markdown]
# `gradcheck(fn, inputs)` compares the backward with central differences for every element of
# every input (in float64, with a random weighting of the outputs so that every output
# matters); `gradgradcheck` does the same for the gradient of the gradient, which exercises a
# backward written in Tensor operations. A property test then lets hypothesis choose the shapes
# and the values: `strategies.shapes()` draws shapes, `strategies.tensors(shape)` float64 tensors
# that require a gradient.

# %%
x_check = tg.randn(3, 4, dtype="float64", requires_grad=True)
assert gradcheck(log_cosh, [x_check])
assert gradgradcheck(log_cosh, [x_check])


@settings(max_examples=30, deadline=None)
@given(strategies.shapes(max_dims=2).flatmap(lambda shape: strategies.tensors(shape, low=-5.0, high=5.0)))
def test_log_cosh_gradient(x):
    assert gradcheck(log_cosh, [x])


test_log_cosh_gradient()
print("gradcheck, gradgradcheck and 30 hypothesis examples passed")

# %% [markdown]
# A checker is only worth something if it fails on a wrong derivative. Here is the most common
# mistake, forgetting to multiply by the incoming gradient $\bar y$ (a backward that returns
# $\partial y/\partial x$ instead of $\bar y \cdot \partial y / \partial x$):

# %%
class ForgetfulLogCosh(LogCosh):
    def backward(self, grad_y):
        x, = self.inputs
        return x.tanh()                    # wrong: the chain rule's factor grad_y is missing


try:
    gradcheck(ForgetfulLogCosh.apply, [x_check])
    caught = None
except GradcheckError as error:
    caught = str(error)
print("gradcheck on the wrong backward:", caught)

# %% [markdown]
# ### An op with two outputs
#
# A `Function` may also return several arrays (a tuple); `apply` then returns a tuple of
# tensors, and `backward` receives one incoming gradient per output, `None` for an output that
# did not reach the loss. Here $(s, c) = (\sin x, \cos x)$ in one op, with
#
# $$\bar x = \bar s \cos x - \bar c \sin x .$$
#
# The backward calls the op itself for $\sin$ and $\cos$, so it is differentiable again. A
# quick sanity check: $s^2 + c^2 = 1$ for every $x$, so its gradient must be zero.

# %%
class SinCos(Function):
    """(s, c) = (sin x, cos x);  ds/dx = cos x,  dc/dx = -sin x."""

    def forward(self, x):
        return self.xp.sin(x), self.xp.cos(x)

    def backward(self, grad_s, grad_c):    # one gradient per output, None if unused
        s, c = SinCos.apply(self.inputs[0])
        if grad_s is None:
            return -grad_c * s
        if grad_c is None:
            return grad_s * c
        return grad_s * c - grad_c * s


assert gradcheck(SinCos.apply, [x_check]) and gradgradcheck(SinCos.apply, [x_check])
angle = tg.tensor([0.3, 2.0, -1.0], dtype="float64", requires_grad=True)
sine, cosine = SinCos.apply(angle)
(sine * sine + cosine * cosine).sum().backward()
one_output_grad, = tg.grad(SinCos.apply(angle)[1].sum(), [angle])   # only c is used: grad_s is None
print("∂(s² + c²)/∂x =", angle.grad.numpy(), "  ∂c/∂x =", one_output_grad.numpy())

# %% [markdown]
# ## Check yourself
#
# Each line below is a property this tutorial taught; if the library or the tutorial breaks,
# the file stops running.

# %%
# the tape gives the hand-derived chain rule (same float64 operations: equal to rounding)
assert abs(wt.grad.item() - dL_dw_hand) <= 1e-14 * abs(dL_dw_hand)
assert abs(bt.grad.item() - dL_db_hand) <= 1e-14 * abs(dL_db_hand)
# central differences with ε = 1e-6 agree to ~ε² + δ/ε ≈ 1e-10; too large or too small an ε does not
assert abs(central_difference(1e-6) - dL_dw_hand) < 1e-9
assert errors[0] > 1e-6 and errors[-1] > 1e-4          # ε = 1e-13 (rounding) and 1e-1 (truncation)
assert 1e-8 <= epsilons[np.argmin(errors)] <= 1e-3     # the best ε lies in between
assert abs(errors[-1] / (1e-2 / 6 * abs(third_derivative)) - 1) < 0.05  # at ε = 0.1 the error is Taylor's term
# the graph holds v once, with two edges into the Mul that makes L = v·v
v_node = next(node for node, (shape, label, fill) in graph_nodes.items() if label.startswith("v\n"))
assert sum(source == v_node for source, target in graph_edges) == 2
# the drawing shows every op of the chain once: Mul, Add (u), Tanh (v), Mul (L)
op_labels = sorted(label for shape, label, fill in graph_nodes.values() if shape == "ellipse")
assert op_labels == ["Add", "Mul", "Mul", "Tanh"]
# the new op: derivative tanh x, checked by gradcheck; the wrong backward is caught
assert np.allclose(a.grad.numpy(), np.tanh(a.numpy()), rtol=1e-15, atol=0)
assert caught is not None and "differs" in caught
# the two-output op: gradcheck passed above; s² + c² = 1 has zero gradient; ∂c/∂x = -sin x
assert np.abs(angle.grad.numpy()).max() < 1e-15
assert np.allclose(one_output_grad.numpy(), -np.sin(angle.numpy()), rtol=1e-15, atol=0)
print("all checks passed")
