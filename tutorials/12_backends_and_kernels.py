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
# # 12. Swapping backends and kernels
#
# **What you will learn**
#
# - that a model runs on NumPy or on CuPy by choosing a **device** (`device="cuda"` or
#   `model.to("cuda")`), and nothing else in the code changes; the CuPy part runs only where
#   `tg.is_available("cuda")` (a GPU with CuPy), and says so otherwise;
# - the **strict** backend, NumPy behind a wrapper that refuses NumPy calls the way CuPy arrays
#   do, and the error it gives when an op calls NumPy instead of the device's array module;
# - the **fused** recurrent kernels against the **reference** tape (`impl="fused"` against
#   `impl="reference"`): equal numbers in float64, forward and backward, and the measured
#   speed of each.
#
# Prerequisite: [tutorial 1](01_autodiff_from_scratch.py) (writing a `Function`) and
# [tutorial 4](04_lstm.py) (the LSTM). Parameter names are in [the notation table](NOTATION.md).

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.apps.plotting import save_and_show
from tinygrad_rnn import Function, nn

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## One model, several devices
#
# Every tensor lives on a device: `"cpu"` holds NumPy arrays, `"cuda"` CuPy arrays on the GPU,
# and `"strict"` NumPy arrays wrapped so that NumPy refuses them (next section). Each op takes
# its array functions from the device of its inputs (`tensor.xp` is `numpy` or `cupy`), so the
# same model code runs on any of them. Moving a model moves its parameters; the inputs are made
# on the same device.
#
# The model: an LSTM ($I = 8$, $H = 16$) with a linear read-out of its last state, a batch of 4
# sequences of 12 steps, in float64, loss = mean squared read-out. We run it on the CPU, then
# move a copy to each other available device and compare the loss and every gradient.

# %%
print({name: tg.is_available(name) for name in ("cpu", "strict", "cuda")})


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, dtype="float64")
        self.readout = nn.Linear(16, 1, dtype="float64")

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.readout(out[-1])


inputs = np.random.default_rng(0).standard_normal((12, 4, 8))


def loss_and_gradients(model, device):
    """The loss and the gradient of every parameter, as NumPy arrays, with the model on ``device``."""
    model.to(device)
    model.zero_grad()
    loss = (model(tg.tensor(inputs, dtype="float64", device=device)) ** 2).mean()
    loss.backward()
    return loss.item(), {name: p.grad.numpy() for name, p in model.named_parameters()}


tg.manual_seed(0)
model = Model()
results = {"cpu": loss_and_gradients(model, "cpu")}
print(f"cpu: loss {results['cpu'][0]:.12f}; parameters on {model.lstm.weight_ih_l0.device}")
for device in ("strict", "cuda"):
    if not tg.is_available(device):
        print(f"{device}: not available on this machine (CuPy and a GPU are needed), skipped")
        continue
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results[device] = loss_and_gradients(model, device)
    for warning in caught:
        print(f"{device}: warning: {warning.message}")
    largest = max(np.abs(results[device][1][name] - results["cpu"][1][name]).max() for name in results["cpu"][1])
    print(f"{device}: loss {results[device][0]:.12f}, largest gradient difference from cpu {largest:.1e}; "
          f"parameters on {model.lstm.weight_ih_l0.device}")
model.to("cpu")

# %% [markdown]
# On `"cpu"` and `"cuda"` the LSTM runs a **fused** kernel (Numba on the CPU, CuPy on the GPU;
# last section); `"strict"` has no kernel, so `impl="auto"` warns once and runs the reference
# path on the tape. The numbers agree anyway, to rounding in float64: the kernels compute the
# same function in a different order of operations.
#
# ## The strict backend catches NumPy calls
#
# On a GPU, `numpy.tanh(cupy_array)` raises: CuPy refuses to be converted to NumPy implicitly.
# On the CPU the same mistake is invisible, because NumPy accepts anything array-like. The
# strict device makes it visible without a GPU: its arrays behave like CuPy's in that respect.
# Here is an op written the wrong way, with `np.abs` (NumPy's `absolute`) in its forward, and the right way, with
# `self.xp.abs` (the array module of the inputs' device):
#
# $$\operatorname{softsign}(x) = \frac{x}{1 + |x|}, \qquad \frac{d}{dx}\operatorname{softsign}(x) = \frac{1}{(1 + |x|)^2}.$$

# %%
class SoftsignWithNumpy(Function):
    def forward(self, x):
        return x / (1 + np.abs(x))                 # the bug: NumPy, whatever the device

    def backward(self, grad_y):
        x, = self.inputs
        return grad_y / (1 + x.abs()) ** 2


class Softsign(Function):
    def forward(self, x):
        return x / (1 + self.xp.abs(x))            # the device's array module: numpy or cupy

    def backward(self, grad_y):
        x, = self.inputs
        return grad_y / (1 + x.abs()) ** 2


values = np.array([-3.0, -0.5, 0.0, 2.0])
on_cpu = SoftsignWithNumpy.apply(tg.tensor(values, dtype="float64")).numpy()
print("the NumPy version on cpu works (and hides the bug):", on_cpu)
try:
    SoftsignWithNumpy.apply(tg.tensor(values, dtype="float64", device="strict"))
    strict_error = None
except TypeError as error:
    strict_error = str(error)
print("the NumPy version on strict raises TypeError:\n   ", strict_error)
x_strict = tg.tensor(values, dtype="float64", device="strict", requires_grad=True)
y_strict = Softsign.apply(x_strict)
y_strict.sum().backward()
print("the xp version on strict:", y_strict.numpy(), " gradient:", x_strict.grad.numpy())

# %% [markdown]
# The library's own test suite runs every op on the strict device; that is how it knows the
# engine never calls NumPy on a device array, although it has not yet run on a GPU here.
# Mixing devices is refused too, with the devices named:

# %%
try:
    tg.tensor(values, device="strict") + tg.tensor(values)
    mixing_error = None
except RuntimeError as error:
    mixing_error = str(error)
print("strict + cpu:", mixing_error)

# %% [markdown]
# ## Fused kernels against the reference tape
#
# `impl="reference"` runs a recurrent layer as cells on the tape: per time step a handful of
# engine ops (a matmul, the gate slices, the sigmoids, the products), each a node that the
# backward pass visits; you can read and step through every one (tutorials 2-4). `impl="fused"`
# replaces the whole unrolled loop of a layer direction by **one** `Function` whose forward is
# one kernel over all time steps and whose backward is one kernel running BPTT: the same
# equations, without a Python call and a graph node per op and step. The default,
# `impl="auto"`, uses the kernel where one exists for the device and dtype.
#
# Both layers get the same weights (`load_state_dict`) and the same input; we compare the
# outputs and every gradient in float64, then time a forward and backward pass of each for
# several sequence lengths $T$ (batch 16, $I = 32$, $H = 64$, the best of 7 runs). The first
# call of a fused layer compiles its kernel (Numba keeps it in a cache, so later runs load it).
# How the kernels share the work among threads and call BLAS is in
# [Inside the fused kernels](../docs/kernels.md).

# %%
B, I, H = 16, 32, 64


def make_pair(dtype):
    tg.manual_seed(1)
    reference = nn.LSTM(I, H, impl="reference", dtype=dtype)
    fused = nn.LSTM(I, H, impl="fused", dtype=dtype)
    fused.load_state_dict(reference.state_dict())
    return reference, fused


def forward_backward(layer, x_numpy, dtype):
    layer.zero_grad()
    x = tg.tensor(x_numpy, dtype=dtype, requires_grad=True)
    out, (h_n, c_n) = layer(x)
    (out.sum() + (h_n * c_n).sum()).backward()
    return out.numpy(), x.grad.numpy(), {name: p.grad.numpy() for name, p in layer.named_parameters()}


reference, fused = make_pair("float64")
x_check = np.random.default_rng(2).standard_normal((20, B, I))
ref_out, ref_dx, ref_grads = forward_backward(reference, x_check, "float64")
fused_out, fused_dx, fused_grads = forward_backward(fused, x_check, "float64")


def relative(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


differences = {"output": relative(fused_out, ref_out), "∂L/∂x": relative(fused_dx, ref_dx)}
differences.update({f"∂L/∂{name}": relative(fused_grads[name], ref_grads[name]) for name in ref_grads})
for what, value in differences.items():
    print(f"float64, fused vs reference, {what:17}: largest difference / largest value = {value:.1e}")

# %%
def time_once(layer, x_numpy, dtype):
    start = time.perf_counter()
    forward_backward(layer, x_numpy, dtype)
    return time.perf_counter() - start


lengths, REPEATS = [10, 25, 50, 100], 7
timings = {"reference": [], "fused": []}
for T in lengths:
    x_time = np.random.default_rng(T).standard_normal((T, B, I))
    runs = {"reference": [], "fused": []}
    forward_backward(fused, x_time, "float64")   # a warm-up call of each length, not timed
    for _ in range(REPEATS):            # alternate the two, so that both see the same load
        for name, layer in (("reference", reference), ("fused", fused)):
            runs[name].append(time_once(layer, x_time, "float64"))
    for name in runs:
        timings[name].append(min(runs[name]))
    print(f"T = {T:3d}: forward + backward, reference {1e3 * timings['reference'][-1]:7.1f} ms, "
          f"fused {1e3 * timings['fused'][-1]:6.1f} ms, "
          f"fused is {timings['reference'][-1] / timings['fused'][-1]:.0f}x faster")
speedups = np.array(timings["reference"]) / np.array(timings["fused"])
total_speedup = sum(timings["reference"]) / sum(timings["fused"])
print(f"all lengths together: fused is {total_speedup:.1f}x faster")

# %%
fig, ax = plt.subplots(figsize=(7, 4.3))
for name, marker in (("reference", "o"), ("fused", "s")):
    ax.loglog(lengths, 1e3 * np.array(timings[name]), marker=marker, label=f'impl="{name}"')
for T, ref_time, speedup in zip(lengths, timings["reference"], speedups):
    ax.annotate(f"{speedup:.0f}x", (T, 1e3 * ref_time), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=9)
ax.set_xticks(lengths)
ax.set_xticklabels([str(T) for T in lengths])
ax.set_xlabel("sequence length T")
ax.set_ylim(top=3e3 * max(timings["reference"]))
ax.set_ylabel("forward + backward, ms (best of 7)")
ax.set_title(f"LSTM B={B}, I={I}, H={H}, float64 on the CPU: fused kernel vs reference tape", fontsize=10)
ax.legend()
ax.grid(alpha=0.3, which="both")
fig.tight_layout()
save_and_show(fig, "12_fused_vs_reference.png")

# %% [markdown]
# The reference path's time is dominated by Python: a few dozen graph nodes per time step,
# each created in the forward pass and visited in the backward pass, whatever their size. The
# fused kernel does the same arithmetic in compiled loops and one matmul per step. Both do work
# proportional to $T$, since BPTT must visit every step in both directions, but on a machine
# shared with other jobs the measured times scatter from run to run (the best of 7 runs damps
# that, not fully): read the factor between the two curves, not the milliseconds.
#
# ## Check yourself

# %%
# every available device gives the cpu's loss and gradients (float64, to rounding); strict is
# always available, cuda only with a GPU
assert "strict" in results
for device, (loss_value, grads) in results.items():
    assert abs(loss_value - results["cpu"][0]) < 1e-12 * max(1.0, abs(results["cpu"][0]))
    assert all(np.abs(grads[name] - results["cpu"][1][name]).max() < 1e-10 for name in grads)
# the strict backend refuses the NumPy call and names it; the xp version runs, with the right gradient
assert strict_error is not None and "numpy.absolute" in strict_error and "xp" in strict_error
assert np.allclose(y_strict.numpy(), values / (1 + np.abs(values)), atol=1e-15, rtol=0)
assert np.allclose(x_strict.grad.numpy(), 1 / (1 + np.abs(values)) ** 2, atol=1e-15, rtol=0)
assert mixing_error is not None and "strict" in mixing_error and "cpu" in mixing_error
# fused equals reference in float64, forward and backward, for every parameter
assert len(differences) == 2 + len(ref_grads) and max(differences.values()) < 1e-10
# and is faster: more than 2x over all lengths together, and at the longest (the timings are
# of a shared machine: the factors vary from run to run)
assert total_speedup > 2 and speedups[-1] > 2
print("all checks passed")
