"""What every fused recurrent kernel shares: its interface and the checks of its arguments.

A kernel runs one layer in one direction over a whole sequence, for one mode ("rnn_tanh",
"rnn_relu", "lstm", "gru", "gru_reset_before"), on the arrays of one device::

    out, h_n, c_n, saved = kernel.forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, lengths,
                                          reverse, save)
    grads = kernel.backward(saved, d_out, d_hn, d_cn, wanted)   # {"x": ..., "weight_hh": ...}

A kernel implements ``forward`` and ``_backward(saved, d_out, d_hn, d_cn, want)`` (``want`` a
predicate on gradient names). Shapes and names follow PyTorch: ``x`` (T, B, I), ``h0``, ``c0``
(B, H), ``w_ih`` (G·H, I), ``w_hh`` (G·H, H), ``b_ih``, ``b_hh`` (G·H,) or None, ``peephole``
(3, H) or None (lstm only), ``lengths`` a host integer array (B,) or None; ``out`` (T, B, H),
``h_n``, ``c_n`` (B, H) (``c_n`` None except for lstm), ``saved`` None unless ``save``.
"""
import numpy as np

from ..nn.cells import GATES  # noqa: F401  (the gate counts are defined once, with the cells)

_LIBRARIES = {"numpy": "NumPy", "cupy": "CuPy"}


class RecurrentKernel:
    """Base of the kernels: ``backward``'s common part, and the checks of the arguments."""

    backend = None       # "numba", "cupy"
    device = None        # the device name whose arrays the kernel takes
    array_type = None    # their class
    dtypes = ()

    def __init__(self, mode):
        self.mode = mode
        self.gates = GATES[mode]

    def __repr__(self):
        return f"<{self.backend} kernel {self.mode!r} on {self.device!r}>"

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, lengths=None,
                reverse=False, save=True):
        """Returns ``(out (T, B, H), h_n (B, H), c_n (B, H) or None, saved or None)``."""
        raise NotImplementedError

    def backward(self, saved, d_out, d_hn, d_cn=None, wanted=None):
        """Gradients from those of ``out``, ``h_n`` and ``c_n`` (None means zero).

        Returns a dict with keys "x", "h0", "c0" (lstm), "weight_ih", "weight_hh", "bias_ih",
        "bias_hh" (those given to forward), "peephole" ((3, H), lstm with peepholes),
        restricted to the names in ``wanted`` if given.
        """
        if saved is None:
            raise RuntimeError(f"{self}: backward needs a forward run with save=True")
        want = (lambda name: True) if wanted is None else set(wanted).__contains__
        return self._backward(saved, d_out, d_hn, d_cn, want)

    def check(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, lengths):
        """Raise on a wrong array type, dtype or shape; returns ``(dtype, lengths)`` with
        ``lengths`` as host int64 (B,), the full length for every row when None."""
        named = {"x": x, "h0": h0, "weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih,
                 "bias_hh": b_hh, "c0": c0, "peephole": peephole}
        dtype = x.dtype
        for name, array in named.items():
            if array is None:
                continue
            if type(array) is not self.array_type:
                library = _LIBRARIES.get(self.array_type.__module__, self.array_type.__module__)
                raise TypeError(f"{self}: {name} is a {type(array).__module__}."
                                f"{type(array).__name__}, but this kernel runs on {library} arrays "
                                f"(device {self.device!r})")
            if array.dtype != dtype:
                raise TypeError(f"{self}: {name} has dtype {array.dtype} but x has {dtype}")
        if dtype not in self.dtypes:
            supported = " or ".join(map(str, self.dtypes))
            raise TypeError(f"{self}: dtype {dtype} is not supported ({supported})")
        self._check_shapes(x.shape, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole)
        return dtype, self._lengths(lengths, *x.shape[:2])

    def _check_shapes(self, x_shape, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole):
        if len(x_shape) != 3 or h0.ndim != 2:
            raise ValueError(f"{self}: x must be (T, B, I) and h0 (B, H), got {x_shape} and {h0.shape}")
        steps, batch, inputs = x_shape
        hidden = h0.shape[1]
        gh = self.gates * hidden
        expected = {"h0": ((batch, hidden), h0), "weight_ih": ((gh, inputs), w_ih),
                    "weight_hh": ((gh, hidden), w_hh), "bias_ih": ((gh,), b_ih),
                    "bias_hh": ((gh,), b_hh)}
        if self.mode == "lstm":
            expected["c0"] = ((batch, hidden), c0)
            expected["peephole"] = ((3, hidden), peephole)
        elif c0 is not None or peephole is not None:
            raise ValueError(f"{self}: c0 and peephole are for lstm only")
        for name, (shape, array) in expected.items():
            if array is None and name != "c0":
                continue
            if array is None or array.shape != shape:
                got = None if array is None else array.shape
                raise ValueError(f"{self}: {name} must have shape {shape} for x of shape "
                                 f"{x_shape} and hidden size {hidden}, got {got}")

    def _lengths(self, lengths, steps, batch):
        if lengths is None:
            return np.full(batch, steps, dtype=np.int64)
        lengths = np.asarray(lengths)
        if lengths.shape != (batch,) or lengths.dtype.kind not in "iu":
            raise ValueError(f"{self}: lengths must be {batch} host integers (one per batch row), "
                             f"got shape {lengths.shape} dtype {lengths.dtype}")
        if lengths.size and (lengths.min() < 0 or lengths.max() > steps):
            raise ValueError(f"{self}: lengths must lie in [0, {steps}], got {lengths.tolist()}")
        return np.ascontiguousarray(lengths, dtype=np.int64)


def multiplied_states(mode, hidden, h_prev, q=None):
    """[(rows of W_hh, the states those rows multiplied)], for dW_hh[rows] = d_gh[:, rows]^T state
    summed over steps: h_prev for every row, except the n rows of the reset-before GRU, which
    multiplied q = r h."""
    if mode == "gru_reset_before":
        return [(slice(0, 2 * hidden), h_prev), (slice(2 * hidden, None), q)]
    return [(slice(None), h_prev)]
