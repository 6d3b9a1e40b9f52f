"""Fused recurrent layers: one autograd node per (layer, direction) for the whole sequence.

``fused_direction`` has the signature of ``tinygrad_rnn.nn.recurrent.reference_direction`` (and
``into``, to share an output array among a layer's directions) and computes the same thing (the
tests hold the two equal), but instead of recording 10-20 engine ops per time step on the tape
it records one ``FusedRecurrent`` node with three outputs
(``out``, ``h_n``, ``c_n``), whose forward is one call of a fused kernel over all steps and whose
backward is one call of its BPTT kernel. The kernel comes from the registry
``tinygrad_rnn.kernels``, keyed by (mode, device); ``unavailable`` says why there is none.
The backward is a kernel, not Tensor ops, so it is not itself differentiable: ``create_graph=True``
through a fused layer raises (use ``impl="reference"`` for double backward).
"""
import numpy as np

from ..autograd import Function, is_grad_enabled
from ..ops.movement import Concatenate
from ..tensor import Tensor
from .cells import PEEPHOLES

try:
    from .. import kernels
except ImportError as error:  # a source tree used without installing: kernels/ is mapped in at install
    kernels, _NOT_INSTALLED = None, f"the fused kernels are not installed ({error})"


def unavailable(mode, device, dtype):
    """Why no fused kernel runs ``mode`` on ``device`` (a name or a Device) for ``dtype``, or
    None when one does."""
    if kernels is None:
        return _NOT_INSTALLED
    try:
        kernel = kernels.get(mode, device)
    except kernels.KernelNotFoundError as error:
        return str(error)
    if np.dtype(dtype) not in kernel.dtypes:
        return (f"{kernel} does not support dtype {np.dtype(dtype)} "
                f"(supported: {', '.join(map(str, kernel.dtypes))})")
    return None


class FusedRecurrent(Function):
    """(x, h0, [c0], weight_ih, weight_hh, [bias_ih, bias_hh], [weight_ci, weight_cf, weight_co])
    -> (out (T, B, H), h_n (B, H)[, c_n (B, H) for lstm]).

    ``names`` says which of the optional inputs are present, in that order. The kernels return
    new arrays, one per gradient (``fresh_gradients``)."""

    fresh_gradients = True

    def forward(self, *arrays, kernel, names, lengths, reverse, save, into):
        named = dict(zip(names, arrays))
        peephole = self.xp.stack([named[n] for n in PEEPHOLES]) if PEEPHOLES[0] in named else None
        out, h_n, c_n, self.kernel_state = kernel.forward(
            named["x"], named["h0"], named.get("c0"), named["weight_ih"], named["weight_hh"],
            named.get("bias_ih"), named.get("bias_hh"), peephole, lengths, reverse, save, into)
        self.kernel, self.names, self.out_shape = kernel, names, out.shape
        return (out, h_n) if c_n is None else (out, h_n, c_n)

    def backward(self, d_out, d_hn, d_cn=None):
        if is_grad_enabled():
            raise RuntimeError(f"fused {self.kernel.mode}: create_graph=True (double backward) is "
                               "not supported by the fused kernel; build the layer with "
                               "impl='reference'")
        if d_out is None:
            d_out = self.xp.zeros(self.out_shape, self.inputs[0].dtype)
        wanted = {"peephole" if name in PEEPHOLES else name
                  for name, needed in zip(self.names, self.needs_input_grad) if needed}
        grads = self.kernel.backward(self.kernel_state, _data(d_out), _data(d_hn), _data(d_cn),
                                     wanted=wanted)
        if "peephole" in grads:
            grads.update(zip(PEEPHOLES, grads.pop("peephole")))
        return tuple(Tensor(grads[name], device=self.device) if needed else None
                     for name, needed in zip(self.names, self.needs_input_grad))


def _data(grad):
    return grad.data if isinstance(grad, Tensor) else grad


def fused_direction(mode, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, peephole=None,
                    lengths=None, reverse=False, into=None):
    """One layer, one direction, the whole sequence in one autograd node.

    ``mode``: "rnn_tanh" | "rnn_relu" | "lstm" | "gru" | "gru_reset_before"; ``x`` (T, B, I);
    ``h0`` (B, H); ``c0`` (B, H) for lstm, else None. Weights in PyTorch's layout and gate order (LSTM i, f, g, o; GRU
    r, z, n): ``weight_ih`` (G·H, I), ``weight_hh`` (G·H, H), ``bias_ih``/``bias_hh`` (G·H,) or
    None; ``peephole`` None or (weight_ci, weight_cf, weight_co), each (H,) (lstm only).
    ``lengths``: None or a host NumPy int array (B,); steps t >= lengths[b] keep the state and
    output zero; ``reverse=True`` runs each sequence from its own last valid step down to 0.
    Returns ``(out (T, B, H), h_n (B, H), c_n (B, H) or None)``, differentiable w.r.t. every
    Tensor argument. The caller checks ``unavailable`` first. ``into`` (see ``join_directions``)
    writes ``out`` into columns of an array shared by the layer's directions.
    """
    named = {"x": x, "h0": h0, "c0": c0, "weight_ih": weight_ih, "weight_hh": weight_hh,
             "bias_ih": bias_ih, "bias_hh": bias_hh}
    if peephole is not None:
        named.update(zip(PEEPHOLES, peephole))
    named = {name: t for name, t in named.items() if t is not None}
    save = is_grad_enabled() and any(t.requires_grad for t in named.values())
    outputs = FusedRecurrent.apply(*named.values(), kernel=kernels.get(mode, x.device),
                                   names=tuple(named), lengths=lengths, reverse=reverse, save=save,
                                   into=into)
    out, h_n, c_n = outputs if mode == "lstm" else outputs + (None,)
    return out, h_n, c_n


class JoinedDirections(Concatenate):
    """The directions' outputs (T, B, H) each, which their kernels wrote side by side into one
    (T, B, D·H) array: that array, without a copy; backward as ``Concatenate``'s."""

    def forward(self, *arrays, axis):
        joined = arrays[0].base
        if joined is None or any(a.base is not joined for a in arrays) or joined.shape[axis] != sum(
                a.shape[axis] for a in arrays):
            raise RuntimeError("fused layer: its directions did not write into one shared_output")
        self.axis = axis
        return joined


def shared_output(x, directions, hidden):
    """The (T, B, D·H) array whose columns ``fused_direction(..., into=(array, d·H))`` fills for
    direction d; ``join_directions`` then makes it the layer's output."""
    return x.xp.empty(x.shape[:2] + (directions * hidden,), dtype=x.dtype)


def join_directions(outputs):
    """The layer's output from the directions' outputs written into one ``shared_output``."""
    return JoinedDirections.apply(*outputs, axis=2)
