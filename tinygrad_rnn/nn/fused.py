"""Fused recurrent layers: one autograd node per (layer, direction) for the whole sequence.

:func:`fused_direction` has the signature of :func:`tinygrad_rnn.nn.recurrent.reference_direction`
and computes the same thing (the tests hold the two equal), but instead of recording 10-20 engine
ops per time step on the tape it records one :class:`FusedRecurrent` node, whose forward is one
call of a fused kernel over all steps and whose backward is one call of its BPTT kernel. The
kernel comes from the registry :mod:`tinygrad_rnn.kernels`, keyed by (mode, device): on a device
without a kernel (the "strict" test device, or "cuda" without CuPy) :func:`fused_supported` is
False and the layers take the reference path.

The engine's nodes have one output, so the node returns ``out``, ``h_n`` and ``c_n`` stacked
along time as one (T + 1 [+ 1], B, H) array, which the kernel writes in place
(kernels.recurrent_kernel); :func:`fused_direction` slices it apart.
The backward is a kernel, not Tensor ops, so it is not itself differentiable: ``create_graph=True``
through a fused layer raises (use ``impl="reference"`` for double backward).
"""
import numpy as np

from .. import kernels
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor

_PEEPHOLES = ("weight_ci", "weight_cf", "weight_co")


def fused_supported(mode, device, dtype):
    """Whether a fused kernel runs ``mode`` on ``device`` (a name or a Device) for ``dtype``."""
    kernel = kernels.find(mode, device)
    return kernel is not None and np.dtype(dtype) in kernel.dtypes


class FusedRecurrent(Function):
    """(x, h0, [c0], weight_ih, weight_hh, [bias_ih, bias_hh], [weight_ci, weight_cf, weight_co])
    -> (T + 1 [+ 1], B, H): out (T rows), then h_n, then c_n (lstm).

    ``names`` says which of the optional inputs are present, in that order."""

    def forward(self, *arrays, kernel, names, lengths, reverse, save):
        named = dict(zip(names, arrays))
        xp = self.xp
        peephole = xp.stack([named[n] for n in _PEEPHOLES]) if _PEEPHOLES[0] in named else None
        packed, self.kernel_state = kernel.forward_packed(
            named["x"], named["h0"], named.get("c0"), named["weight_ih"], named["weight_hh"],
            named.get("bias_ih"), named.get("bias_hh"), peephole, lengths, reverse, save)
        self.kernel, self.names, self.steps = kernel, names, named["x"].shape[0]
        return packed

    def backward(self, grad_output):
        if is_grad_enabled():
            raise RuntimeError(f"fused {self.kernel.mode}: create_graph=True (double backward) is "
                               "not supported by the fused kernel; build the layer with "
                               "impl='reference'")
        grad, steps = grad_output.data, self.steps
        wanted = {"peephole" if name in _PEEPHOLES else name
                  for name, needed in zip(self.names, self.needs_input_grad) if needed}
        d_cn = grad[steps + 1] if self.kernel.mode == "lstm" else None
        grads = self.kernel.backward(self.kernel_state, grad[:steps], grad[steps], d_cn, wanted=wanted)
        if "peephole" in grads:
            grads.update(zip(_PEEPHOLES, grads.pop("peephole")))
        return tuple(Tensor(grads[name], device=self.device) if needed else None
                     for name, needed in zip(self.names, self.needs_input_grad))


def fused_direction(mode, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, peephole=None,
                    lengths=None, reverse=False):
    """One layer, one direction, the whole sequence in one autograd node.

    ``mode``: "rnn_tanh" | "rnn_relu" | "lstm" | "gru"; ``x`` (T, B, I); ``h0`` (B, H); ``c0``
    (B, H) for lstm, else None. Weights in PyTorch's layout and gate order (LSTM i, f, g, o; GRU
    r, z, n): ``weight_ih`` (G·H, I), ``weight_hh`` (G·H, H), ``bias_ih``/``bias_hh`` (G·H,) or
    None; ``peephole`` None or (weight_ci, weight_cf, weight_co), each (H,) (lstm only).
    ``lengths``: None or a host NumPy int array (B,); steps t >= lengths[b] keep the state and
    output zero; ``reverse=True`` runs each sequence from its own last valid step down to 0.
    Returns ``(out (T, B, H), h_n (B, H), c_n (B, H) or None)``, differentiable w.r.t. every
    Tensor argument. Raises :class:`tinygrad_rnn.kernels.KernelNotFoundError` on a device
    without a kernel and TypeError for a dtype the kernel does not support.
    """
    kernel = kernels.get(mode, x.device)
    if x.dtype not in kernel.dtypes:
        raise TypeError(f"fused {mode}: dtype {x.dtype} is not supported by {kernel} "
                        f"(supported: {', '.join(map(str, kernel.dtypes))}); use impl='reference'")
    named = {"x": x, "h0": h0, "c0": c0, "weight_ih": weight_ih, "weight_hh": weight_hh,
             "bias_ih": bias_ih, "bias_hh": bias_hh}
    if peephole is not None:
        named.update(zip(_PEEPHOLES, peephole))
    named = {name: t for name, t in named.items() if t is not None}
    save = is_grad_enabled() and any(t.requires_grad for t in named.values())
    packed = FusedRecurrent.apply(*named.values(), kernel=kernel, names=tuple(named),
                                  lengths=lengths, reverse=reverse, save=save)
    steps = x.shape[0]
    return packed[:steps], packed[steps], packed[steps + 1] if mode == "lstm" else None
