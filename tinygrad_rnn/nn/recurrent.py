"""Sequence layers RNN, LSTM and GRU: stacked, optionally bidirectional, with variable lengths.

Every (layer, direction) pair runs through one function with the signature of
``reference_direction``: the fused kernels of ``tinygrad_rnn.nn.fused`` when a kernel
runs the mode on the input's device and dtype (``impl="auto"``, the default, or ``"fused"``),
else the reference path below, composed of engine ops so that backpropagation through time
happens on the tape (``impl="reference"``, or ``"auto"`` without a kernel).

Shapes follow PyTorch (L = sequence length, N = batch, D = 2 if bidirectional else 1)::

    x     (L, N, input_size), or (N, L, input_size) with batch_first, or unbatched (L, input_size)
    h0    (D·num_layers, N, H)   (never batch-first; (D·num_layers, H) for unbatched input)
    out   (L, N, D·H): the forward and reverse outputs of the last layer, concatenated
    h_n   (D·num_layers, N, H): layer by layer, forward before reverse

``x`` may also be a PackedSequence (``tinygrad_rnn.nn.utils.rnn``), the same as passing the
padded input with its ``lengths``; the output is then packed the same way, as in PyTorch.
``lengths`` (N ints, any order) give the valid prefix of each sequence, as
``pack_padded_sequence(enforce_sorted=False)`` → RNN → ``pad_packed_sequence(total_length=L)``
in PyTorch: a step t ≥ lengths[n] leaves sequence n's state unchanged and outputs zero, so
h_n holds the state at each sequence's last valid step and the reverse direction starts there.
x is never read there: NaN or Inf padding changes no output and no gradient, and x's gradient
there is 0.
"""
import warnings

import numpy as np

from .. import backend
from ..functional import concatenate, dropout as apply_dropout, pad, stack, unbind, where
from ..tensor import Tensor, zeros
from . import fused
from .cells import STEPS, add_parameters, gru_mode, parameters_of, positive_integer, rnn_mode, sizes
from .layers import check_same_kind
from .module import Module
from .utils.rnn import repack_output, unpack_input

# "auto": the fused kernel where one runs the mode on the input's device and dtype, otherwise the
# reference path (said once per reason); "fused": the kernel or an error; "reference": the tape.
IMPLS = ("auto", "fused", "reference")
_REPORTED = set()


def reference_direction(mode, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, peephole=None,
                        lengths=None, reverse=False):
    """One layer, one direction, composed of engine ops.

    ``mode`` is "rnn_tanh", "rnn_relu", "lstm", "gru" or "gru_reset_before"; ``x`` (T, B, I); ``h0``, ``c0`` (B, H)
    (``c0`` None except for "lstm"); ``peephole`` None or (weight_ci, weight_cf, weight_co);
    ``lengths`` None or a host NumPy int array (B,). Returns ``(out (T, B, H), h_n, c_n)``.
    The input projection x W_ihᵀ + b_ih of all steps is one matmul; the loop does the rest.
    """
    steps, batch, features = x.shape
    xw = x.reshape(steps * batch, features) @ weight_ih.transpose(0, 1)
    xw = (xw if bias_ih is None else xw + bias_ih).reshape(steps, batch, weight_ih.shape[0])  # -1 fails for B=0
    step = STEPS[mode]
    valid = None if lengths is None else _valid_steps(lengths, steps, x.device)
    shortest = steps if lengths is None else int(lengths.min())
    h, c = h0, c0
    outputs = [None] * steps
    for t in (reversed(range(steps)) if reverse else range(steps)):
        h_new, c_new = step(xw[t], h, c, weight_hh, bias_hh, peephole)
        if t < shortest:  # every sequence is still running: no mask needed
            h, c, outputs[t] = h_new, c_new, h_new
            continue
        keep = valid[t]  # (B, 1) constant: padded rows keep their state and output zero
        outputs[t] = where(keep, h_new, 0.0)
        h = where(keep, h_new, h)
        c = None if c is None else where(keep, c_new, c)
    return stack(outputs), h, c


def _valid_steps(lengths, steps, device):
    """(T, B, 1) bool array on ``device``: step t of sequence b is valid when t < lengths[b]."""
    host = np.arange(steps)[:, None, None] < np.asarray(lengths)[None, :, None]
    return device.asarray(host)


def _direction_function(layer, x):
    """The function that runs one direction of ``layer`` on ``x``: see ``IMPLS``."""
    if layer.impl == "reference":
        return reference_direction
    reason = fused.unavailable(layer.mode, x.device, x.dtype)
    if reason is None:
        return fused.fused_direction
    if layer.impl == "fused":
        raise RuntimeError(f"{type(layer).__name__}: impl='fused' was asked for, but {reason}; "
                           "use impl='auto' or impl='reference'")
    if reason not in _REPORTED:
        _REPORTED.add(reason)
        warnings.warn(f"{type(layer).__name__} runs the reference path (impl='auto'): {reason}",
                      RuntimeWarning, stacklevel=5)
    return reference_direction


def host_lengths(lengths):
    """Sequence lengths (a Tensor, a device array, a list, a tuple or a torch CPU tensor) as a
    host NumPy array: they steer the Python loop over time steps, so they live on the host."""
    if isinstance(lengths, Tensor):
        return lengths.numpy()
    device = backend.find_device(lengths)
    return np.asarray(lengths) if device is None else device.to_numpy(lengths)


class _RecurrentLayer(Module):
    """The machinery shared by RNN, LSTM and GRU: parameters, checks, stacking and directions."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, peephole=False, impl="auto", device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        input_size, hidden_size = sizes(name, input_size, hidden_size)
        num_layers = positive_integer(name, "num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1), got {dropout!r}")
        if impl not in IMPLS:
            raise ValueError(f"{name}: impl must be one of {IMPLS}, got {impl!r}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.peephole, self.impl = bidirectional, peephole, impl
        self.num_directions = 2 if bidirectional else 1
        device = backend.get_device(device)
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else self.num_directions * hidden_size
            for suffix in self._suffixes(layer):
                add_parameters(self, mode, suffix, layer_input, hidden_size, bias, peephole, dtype, device)

    def _suffixes(self, layer):
        return [f"_l{layer}", f"_l{layer}_reverse"][:self.num_directions]

    # ----- checks ---------------------------------------------------------------------------
    def _check_input(self, x):
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim not in (2, 3):
            layout = "(N, L, input_size)" if self.batch_first else "(L, N, input_size)"
            raise ValueError(f"{name}: expected input of rank 3 {layout} or 2 (L, input_size) "
                             f"for an unbatched sequence, got rank {x.ndim} (shape {x.shape})")
        if x.shape[0 if x.ndim == 2 or not self.batch_first else 1] == 0:
            raise ValueError(f"{name}: expected a sequence length L > 0 (as PyTorch does), got input shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input_size={self.input_size} features on the last axis, "
                             f"got {x.shape[-1]} (input shape {x.shape})")
        check_same_kind(name, "input", x, self.weight_ih_l0)

    def _states(self, hx, batch, batched, like):
        """The initial states of each layer and direction, (N, H) Tensors, zeros when not given
        (c0 None unless LSTM)."""
        name = type(self).__name__
        names = ("h0", "c0") if self.mode == "lstm" else ("h0",)
        layers = self.num_directions * self.num_layers
        if hx is None:
            zero_states = [zeros(batch, self.hidden_size, dtype=like.dtype, device=like.device)] * layers
            return [zero_states, zero_states if self.mode == "lstm" else None]
        if self.mode == "lstm" and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{name}: the initial state must be a tuple (h0, c0), got {type(hx).__name__}")
        states = list(hx) if self.mode == "lstm" else [hx]
        expected = (layers,) + ((batch,) if batched else ()) + (self.hidden_size,)
        for i, (what, state) in enumerate(zip(names, states)):
            if not isinstance(state, Tensor):
                raise TypeError(f"{name}: {what} must be a Tensor, got {type(state).__name__}")
            if state.shape != expected:
                raise ValueError(f"{name}: expected {what} of shape {expected}, got {state.shape}")
            check_same_kind(name, what, state, like)
            states[i] = unbind(state if batched else state.unsqueeze(1))
        return states + [None] * (2 - len(states))

    def _lengths(self, lengths, steps, batch, batched):
        name = type(self).__name__
        if lengths is None:
            return None
        if not batched:
            raise ValueError(f"{name}: lengths= needs a batched input (an unbatched input is one full sequence)")
        host = host_lengths(lengths)
        if host.ndim != 1 or (host.dtype.kind not in "iu" and host.size):  # [] is float64 to NumPy
            raise ValueError(f"{name}: lengths must be a 1-D sequence of integers, got {host.dtype} "
                             f"of shape {host.shape}")
        if host.shape[0] != batch:
            raise ValueError(f"{name}: got {host.shape[0]} lengths for a batch of N={batch} sequences")
        if batch == 0:
            return None  # no sequences, nothing to mask
        if host.min() < 1 or host.max() > steps:
            bad = int(host.min()) if host.min() < 1 else int(host.max())
            raise ValueError(f"{name}: every length must be in [1, L={steps}], got {bad} (lengths {host.tolist()})")
        return host.astype(np.int64)

    # ----- forward ---------------------------------------------------------------------------
    def _run(self, x, hx, lengths):
        """Shared forward: returns (out, h_n, c_n) in the caller's layout (c_n None unless LSTM)."""
        self._check_input(x)
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[:2]
        h0, c0 = self._states(hx, batch, batched, self.weight_ih_l0)
        lengths = self._lengths(lengths, steps, batch, batched)
        if lengths is not None and lengths.min() < steps:
            # Select, never multiply: 0·NaN is NaN. Both paths then see finite padding, and the
            # select's backward gives x exact zeros there.
            x = where(_valid_steps(lengths, steps, x.device), x, 0.0)
        active = steps if lengths is None else int(lengths.max())  # later steps are padding everywhere
        # The fused kernels need at least one sequence; the reference path handles an empty batch.
        run = _direction_function(self, x) if batch else reference_direction
        layer_input, h_n, c_n = x[:active] if active < steps else x, [], []
        # the fused directions write side by side into one array: no copy joins them
        joined = run is fused.fused_direction and self.num_directions > 1
        for layer in range(self.num_layers):
            if layer > 0:
                layer_input = apply_dropout(layer_input, self.dropout, self.training)
            outputs = []
            shared = fused.shared_output(layer_input, self.num_directions, self.hidden_size) if joined else None
            for direction, suffix in enumerate(self._suffixes(layer)):
                index = layer * self.num_directions + direction
                *weights, peephole = parameters_of(self, suffix, self.peephole)
                into = {} if shared is None else {"into": (shared, direction * self.hidden_size)}
                out, h, c = run(self.mode, layer_input, h0[index], None if c0 is None else c0[index], *weights,
                                peephole=peephole, lengths=lengths, reverse=direction == 1, **into)
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = concatenate(outputs, axis=-1) if shared is None else fused.join_directions(outputs)
        out = layer_input if active == steps else pad(layer_input, ((0, steps - active), (0, 0), (0, 0)))
        h_n = stack(h_n)
        c_n = stack(c_n) if self.mode == "lstm" else None
        if not batched:
            return out.squeeze(1), h_n.squeeze(1), None if c_n is None else c_n.squeeze(1)
        return (out.transpose(0, 1) if self.batch_first else out), h_n, c_n

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False, "peephole": False, "impl": "auto"}
        for key, default in defaults.items():
            value = getattr(self, key)
            if value != default:
                text += f", {key}={value!r}"
        return text


class RNN(_RecurrentLayer):
    """Elman RNN, h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act = tanh or relu.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, impl="auto")``;
    ``out, h_n = rnn(x, h0=None, lengths=None)``. Shapes and lengths: see the module docstring.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, impl="auto", device=None, dtype=None):
        super().__init__(rnn_mode(type(self).__name__, nonlinearity), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, impl=impl, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, hx=None, lengths=None):
        x, lengths, packed = unpack_input(self, x, lengths)
        out, h_n, _ = self._run(x, hx, lengths)
        return repack_output(self, out, packed), h_n

    def extra_repr(self):
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else ", nonlinearity='relu'")


class LSTM(_RecurrentLayer):
    """Long short-term memory (gate order i, f, g, o; see ``cells``),
    optionally with peepholes: ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}`` (H,).

    ``out, (h_n, c_n) = lstm(x, (h0, c0)=None, lengths=None)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, peephole=False, impl="auto", device=None, dtype=None):
        super().__init__("lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, peephole, impl, device, dtype)

    def forward(self, x, hx=None, lengths=None):
        x, lengths, packed = unpack_input(self, x, lengths)
        out, h_n, c_n = self._run(x, hx, lengths)
        return repack_output(self, out, packed), (h_n, c_n)


class GRU(_RecurrentLayer):
    """Gated recurrent unit (gate order r, z, n). ``reset_after=True`` (default, Keras's name):
    PyTorch's n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)); ``reset_after=False``: Cho et al.'s
    n = tanh(W_in x + b_in + W_hn (r⊙h) + b_hn) (see ``cells``).

    ``out, h_n = gru(x, h0=None, lengths=None)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, reset_after=True, impl="auto", device=None, dtype=None):
        super().__init__(gru_mode(type(self).__name__, reset_after), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, impl=impl, device=device, dtype=dtype)
        self.reset_after = reset_after

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")

    def forward(self, x, hx=None, lengths=None):
        x, lengths, packed = unpack_input(self, x, lengths)
        out, h_n, _ = self._run(x, hx, lengths)
        return repack_output(self, out, packed), h_n
