"""Shared by the recurrent tests and tests/fixtures/make_recurrent_golden.py: one configuration
of a sequence layer, its random inputs, and the run of that layer in our framework and in PyTorch.

A run returns the outputs (out, h_n, c_n) and the gradients of the scalar
L = Σ u⊙out + Σ v⊙h_n + Σ w⊙c_n (fixed random cotangents, so every output element matters)
with respect to x, h0, c0 and every parameter, all as NumPy arrays keyed by name.
"""
from dataclasses import dataclass

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn

LAYERS = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}


@dataclass(frozen=True)
class Config:
    mode: str
    num_layers: int = 1
    bidirectional: bool = False
    batch_first: bool = False
    lengths: tuple = None      # per batch element, or None for full sequences
    steps: int = 4
    batch: int = 3             # 0 means an unbatched input
    input_size: int = 3
    hidden_size: int = 2
    bias: bool = True
    initial_state: bool = True

    def constructor_kwargs(self):
        kwargs = dict(num_layers=self.num_layers, bias=self.bias, batch_first=self.batch_first,
                      bidirectional=self.bidirectional)
        if self.mode.startswith("rnn_"):
            kwargs["nonlinearity"] = self.mode[4:]
        return kwargs

    @property
    def state_shape(self):
        return ((self.num_layers * (2 if self.bidirectional else 1),) + ((self.batch,) if self.batch else ())
                + (self.hidden_size,))


def make_inputs(config, seed):
    """x, h0, c0 (if any) and the cotangents of out, h_n, c_n, as float64 NumPy arrays."""
    rng = np.random.default_rng(seed)
    directions = 2 if config.bidirectional else 1
    if config.batch == 0:
        x_shape, out_shape = (config.steps, config.input_size), (config.steps, directions * config.hidden_size)
    elif config.batch_first:
        x_shape = (config.batch, config.steps, config.input_size)
        out_shape = (config.batch, config.steps, directions * config.hidden_size)
    else:
        x_shape = (config.steps, config.batch, config.input_size)
        out_shape = (config.steps, config.batch, directions * config.hidden_size)
    arrays = {"x": rng.standard_normal(x_shape), "u_out": rng.standard_normal(out_shape),
              "u_h": rng.standard_normal(config.state_shape)}
    if config.initial_state:
        arrays["h0"] = rng.standard_normal(config.state_shape)
    if config.mode == "lstm":
        arrays["u_c"] = rng.standard_normal(config.state_shape)
        if config.initial_state:
            arrays["c0"] = rng.standard_normal(config.state_shape)
    return arrays


def _loss_terms(config, out, state):
    h_n, c_n = state if config.mode == "lstm" else (state, None)
    return [(out, "u_out"), (h_n, "u_h")] + ([(c_n, "u_c")] if c_n is not None else [])


def run_ours(config, arrays, state_dict, dtype=np.float64, impl="reference", device="cpu"):
    layer = getattr(nn, LAYERS[config.mode])(config.input_size, config.hidden_size, impl=impl, dtype=dtype,
                                              device=device, **config.constructor_kwargs())
    layer.load_state_dict(state_dict)
    inputs = {k: tg.Tensor(arrays[k].astype(dtype), requires_grad=True, device=device)
              for k in ("x", "h0", "c0") if k in arrays}
    hx = inputs.get("h0")
    if config.mode == "lstm" and config.initial_state:
        hx = (inputs["h0"], inputs["c0"])
    out, state = layer(inputs["x"], hx, lengths=None if config.lengths is None else list(config.lengths))
    terms = _loss_terms(config, out, state)
    loss = sum((t * tg.Tensor(arrays[u].astype(dtype), device=device)).sum() for t, u in terms)
    loss.backward()
    results = {"out": out.numpy(), "h_n": terms[1][0].numpy()}
    if config.mode == "lstm":
        results["c_n"] = terms[2][0].numpy()
    results.update({f"grad_{k}": t.grad.numpy() for k, t in inputs.items()})
    results.update({f"grad_{k}": p.grad.numpy() for k, p in layer.named_parameters()})
    return results


def run_torch(config, arrays, dtype=np.float64, seed=0):
    """PyTorch's layer (initialised by torch from ``seed``): (its state_dict as NumPy, results)."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(seed)
    layer = getattr(torch.nn, LAYERS[config.mode])(config.input_size, config.hidden_size, dtype=torch_dtype,
                                                   **config.constructor_kwargs())
    inputs = {k: torch.tensor(arrays[k], dtype=torch_dtype, requires_grad=True)
              for k in ("x", "h0", "c0") if k in arrays}
    hx = inputs.get("h0")
    if config.mode == "lstm" and config.initial_state:
        hx = (inputs["h0"], inputs["c0"])
    x = inputs["x"]
    if config.lengths is None:
        out, state = layer(x, hx)
    else:
        packed = pack_padded_sequence(x, torch.tensor(config.lengths), batch_first=config.batch_first,
                                      enforce_sorted=False)
        out, state = layer(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=config.batch_first, total_length=config.steps)
    terms = _loss_terms(config, out, state)
    loss = sum((t * torch.tensor(arrays[u], dtype=torch_dtype)).sum() for t, u in terms)
    loss.backward()
    results = {"out": out.detach().numpy(), "h_n": terms[1][0].detach().numpy()}
    if config.mode == "lstm":
        results["c_n"] = terms[2][0].detach().numpy()
    results.update({f"grad_{k}": t.grad.numpy() for k, t in inputs.items()})
    results.update({f"grad_{k}": p.grad.numpy() for k, p in layer.named_parameters()})
    state_dict = {k: v.detach().numpy().copy() for k, v in layer.state_dict().items()}
    return state_dict, results


def _matching_arrays(ours, expected):
    """(key, ours, expected) after checking that keys and shapes match."""
    assert sorted(ours) == sorted(expected), (sorted(ours), sorted(expected))
    for key, want in expected.items():
        got = ours[key]
        assert got.shape == want.shape, f"{key}: shape {got.shape}, expected {want.shape}"
        yield key, got, want


def _largest(arrays):
    return max(max(np.abs(a).max(initial=0.0) for a in arrays), np.finfo(np.float64).tiny)


def assert_results_close(ours, expected, rtol):
    """Every array agrees within ``rtol`` relative to its own largest magnitude (float64)."""
    for key, got, want in _matching_arrays(ours, expected):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * _largest([want]), err_msg=key)


def assert_float32_results_close(ours, expected, rtol=1e-5):
    """Float32: every array within ``rtol`` relative to the largest magnitude of its group (the
    outputs, or all the gradients). Normwise, because a gradient entry that is a sum of
    cancelling terms carries float32 rounding far above ``rtol`` of its own size, in PyTorch too
    (e.g. a 6.33e-5 weight gradient that torch's float32 misses by 4e-8, 7e-4 of itself)."""
    groups = {False: [v for k, v in expected.items() if not k.startswith("grad_")],
              True: [v for k, v in expected.items() if k.startswith("grad_")]}
    for key, got, want in _matching_arrays(ours, expected):
        scale = _largest(groups[key.startswith("grad_")])
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=key)
