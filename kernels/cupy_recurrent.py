"""The fused recurrent layers on the GPU (CuPy): cuBLAS GEMMs around one elementwise kernel per step.

The semantics and formulas of the CPU kernels (numba_rnn, numba_lstm, numba_gru). ``forward``:
one GEMM for the input projection of every step plus the biases (GRU: without b_hn), then per
step a GEMM ``h @ W_hh^T`` and ONE elementwise kernel (cupy_gates) for the gates, the state
update (in place in ``h_n``, ``c_n``), the masking, the output and what backward saves.
``_backward``: per step one kernel for ``da`` and one GEMM ``da @ W_hh``, then the weight, input,
bias and peephole gradients over all steps at once. The reset-before GRU has two phases (GEMM
and kernel) per step, its second product needing r. With ``cuda_graphs = True`` a loop's 2T
launches replay as one CUDA graph when its shapes recur (cupy_graphs).

Not yet run on a GPU: the kernel bodies are compiled by the C compiler and the loops run with
NumPy standing in for CuPy on the CPU (tests/kernels/test_cupy_gates_source.py).
"""
import cupy
import numpy as np

from . import cupy_gates, cupy_graphs
from .recurrent_kernel import GATES, RecurrentKernel, Saved, Weights


class CupyRecurrent(RecurrentKernel):
    """The fused kernel of one mode ("rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before")
    on CuPy arrays.

    ``cuda_graphs = True`` (default False; not yet run on a GPU) replays each per-step loop as a
    CUDA graph on buffers cached by shape (cupy_graphs): fewer launches when shapes recur.
    """

    backend = "cupy"
    device = "cuda"
    array_type = cupy.ndarray
    xp = cupy
    dtypes = (np.dtype(np.float32), np.dtype(np.float64))

    def __init__(self, mode):
        super().__init__(mode)
        self._gates = cupy_gates.STEPS[mode]
        self._kernels = tuple(tuple(cupy.ElementwiseKernel(gate.inputs, gate.outputs, gate.body, gate.name,
                                                           preamble=cupy_gates.PREAMBLE)
                                    for gate in phases)
                              for phases in self._gates)
        self._products = _products(mode)
        self._relu = {"relu": int(mode == "rnn_relu")} if mode.startswith("rnn") else {}
        self.cuda_graphs = False
        self._graphs = cupy_graphs.LoopGraphs()

    def _launch(self, backward, phase, size, named):
        """One elementwise kernel over ``size`` = B*H elements, its arguments taken by parameter
        name from ``named``."""
        gate, kernel = self._gates[backward][phase], self._kernels[backward][phase]
        kernel(*gate.arguments(**{name: named[name] for name in gate.names}), size=size)

    def _step_products(self, backward, w_hh, hidden):
        """(source, columns, weight, target) of each phase's GEMM (see ``_products``)."""
        blocks = {"all": slice(None), "rz": slice(0, 2 * hidden), "n": slice(2 * hidden, None)}
        return [(source, blocks[rows], w_hh[blocks[rows]] if backward else w_hh[blocks[rows]].T, target)
                for source, rows, target in self._products[backward]]

    def _run_loop(self, key, loop, arrays, inputs, outputs):
        """``loop(arrays)``, directly or replayed as a CUDA graph (``cuda_graphs``)."""
        if self.cuda_graphs:
            present = [name for name in inputs if name in arrays], [n for n in outputs if n in arrays]
            self._graphs.run((self.mode, *key), loop, arrays, *present)
        else:
            loop(arrays)

    # ----- forward ---------------------------------------------------------------------------
    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, lengths=None,
                reverse=False, save=True, into=None):
        dtype, lengths = self.check(x, h0, c0, w_ih, w_hh, b_ih, b_hh, peephole, lengths, into)
        steps, batch, inputs = x.shape
        hidden = h0.shape[1]
        lstm = self.mode == "lstm"
        x = cupy.ascontiguousarray(x)
        bias, b_hn = self._biases(dtype, hidden, b_ih, b_hh)
        gates = cupy.matmul(x.reshape(steps * batch, inputs), w_ih.T).reshape(steps, batch, -1)
        gates += bias
        kept = steps if save else 1   # inference: the saved states go to one scratch row
        reset_before = self.mode == "gru_reset_before"
        rec_width = 2 * hidden if reset_before else self.gates * hidden   # reset_before: r, z only
        arrays = {"gates": gates, "out": cupy.empty((steps, batch, hidden), dtype),
                  "h_n": h0.astype(dtype, copy=True), "h_prev": cupy.empty((kept, batch, hidden), dtype),
                  "rec": cupy.empty((batch, rec_width), dtype),
                  "lengths": cupy.asarray(lengths), "w_hh": cupy.ascontiguousarray(w_hh)}
        if lstm:
            arrays["c_n"] = c0.astype(dtype, copy=True)
            # a plain LSTM is a peephole LSTM with zero peepholes: a + 0 * c == a exactly
            arrays.update(c_prev=cupy.empty_like(arrays["h_prev"]), tanh_c=cupy.empty_like(arrays["h_prev"]),
                          peephole=(cupy.zeros((3, hidden), dtype) if peephole is None
                                    else cupy.ascontiguousarray(peephole)))
        elif self.mode == "gru":
            arrays.update(m_saved=cupy.empty_like(arrays["h_prev"]), b_hn=b_hn)
        elif reset_before:
            arrays.update(q_saved=cupy.empty_like(arrays["h_prev"]), rec_n=cupy.empty((batch, hidden), dtype))
        self._run_loop(("forward", reverse, save, steps, batch, hidden, dtype),
                       lambda a: self._forward_loop(a, reverse, save), arrays,
                       inputs=("gates", "h_n", "c_n", "lengths", "w_hh", "peephole", "b_hn"),
                       outputs=("gates", "out", "h_n", "c_n") + _SAVED_STATES)
        out, h_n, c_n = arrays["out"], arrays["h_n"], arrays.get("c_n")
        if into is not None:   # the steps' kernels write whole rows: copied in after
            joined, column = into
            joined[:, :, column:column + hidden] = out
            out = joined[:, :, column:column + hidden]
        if not save:
            return out, h_n, c_n, None
        weights = Weights(w_ih, arrays["w_hh"], (b_ih is not None, b_hh is not None), peephole is not None,
                          arrays.get("peephole"))
        states = {name: arrays[name] for name in _SAVED_STATES if name in arrays}
        return out, h_n, c_n, Saved(weights, reverse, x, gates, states, arrays["lengths"])

    def _forward_loop(self, arrays, reverse, save):
        """All steps: per step and phase a GEMM (h W_hh^T into ``rec``) and an elementwise kernel."""
        out, gates = arrays["out"], arrays["gates"]
        steps, (batch, hidden) = gates.shape[0], arrays["h_n"].shape
        state = {"h": arrays["h_n"]} | ({"c": arrays["c_n"]} if self.mode == "lstm" else {})
        fixed = {name: arrays[name] for name in ("rec", "rec_n", "lengths", "peephole", "b_hn")
                 if name in arrays} | self._relu
        saved_rows = {name: arrays[name] for name in _SAVED_STATES if name in arrays}
        products = self._step_products(False, arrays["w_hh"], hidden)
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            ts = t if save else 0
            named = dict(t=t, hidden=hidden, gates=gates[t], output=out[t], **state, **fixed,
                         **{name: rows[ts] for name, rows in saved_rows.items()})
            for phase, (source, _, weight, target) in enumerate(products):
                cupy.matmul(named[source], weight, out=named[target])
                self._launch(False, phase, batch * hidden, named)

    # ----- backward --------------------------------------------------------------------------
    def _backward(self, saved, d_out, d_hn, d_cn, want):
        steps, batch = saved.x.shape[:2]
        hidden, dtype = saved.states["h_prev"].shape[2], saved.x.dtype
        arrays = {"acts": saved.acts, "d_out": cupy.ascontiguousarray(d_out, dtype=dtype),
                  "dh": self._state_gradient(d_hn, batch, hidden, dtype),
                  "back": cupy.zeros((batch, hidden), dtype),   # da W_hh of the step before: none yet
                  "lengths": saved.lengths, "w_hh": saved.weights.w_hh,
                  **{name: state for name, state in saved.states.items() if name != "h_prev"}}
        if self.mode == "gru":
            arrays.update(h_prev=saved.states["h_prev"], d_gi=cupy.empty_like(saved.acts),
                          d_gh=cupy.empty_like(saved.acts))
        else:
            arrays["da"] = cupy.empty_like(saved.acts)
        if self.mode == "gru_reset_before":
            arrays.update(h_prev=saved.states["h_prev"], d_reset=cupy.empty((batch, hidden), dtype))
        if self.mode == "lstm":
            arrays.update(dc=self._state_gradient(d_cn, batch, hidden, dtype),
                          peephole=saved.weights.steps)
        self._run_loop(("backward", saved.reverse, steps, batch, hidden, dtype),
                       lambda a: self._backward_loop(a, saved.reverse), arrays,
                       inputs=("acts", "d_out", "dh", "dc", "back", "lengths", "w_hh", "peephole",
                               "h_prev") + _SAVED_STATES[1:],
                       outputs=("dh", "dc", "back", "da", "d_gi", "d_gh"))
        grads = {"h0": arrays["dh"] + arrays["back"]}
        if self.mode == "lstm":
            grads["c0"] = arrays["dc"]
        d_gi = arrays.get("d_gi", arrays.get("da"))
        d_gh = arrays.get("d_gh", d_gi)   # rnn, lstm: both biases are added before the gates
        if saved.weights.has_peephole and want("peephole"):
            grads["peephole"] = self._peephole_gradient(saved, d_gi)
        return self._gradients_after_steps(_matmul, saved, d_gi, d_gh, grads, want)

    def _backward_loop(self, arrays, reverse):
        """All steps: per step and phase an elementwise kernel for da and a GEMM (da W_hh into
        ``back``)."""
        steps, batch, hidden = arrays["d_out"].shape
        state = {name: arrays[name] for name in ("dh", "dc") if name in arrays}
        fixed = {name: arrays[name] for name in ("back", "d_reset", "lengths", "peephole")
                 if name in arrays} | self._relu
        per_step = {name: arrays[name] for name in ("acts", "d_out", "h_prev", "da", "d_gi", "d_gh")
                    + _SAVED_STATES[1:] if name in arrays}
        products = self._step_products(True, arrays["w_hh"], hidden)
        for t in (range(steps) if reverse else range(steps - 1, -1, -1)):
            named = dict(t=t, hidden=hidden, **state, **fixed,
                         **{name: rows[t] for name, rows in per_step.items()})
            for phase, (source, columns, weight, target) in enumerate(products):
                self._launch(True, phase, batch * hidden, named)
                cupy.matmul(named[source][:, columns], weight, out=named[target])

    @staticmethod
    def _peephole_gradient(saved, da):
        """(3, H): sums over steps and rows of da_i c, da_f c and da_o c' (c' = f c + i g). Masked
        rows have da = 0, so they add nothing (their acts hold finite pre-activations)."""
        c_prev = saved.states["c_prev"]
        hidden = c_prev.shape[2]
        da_i, da_f, _, da_o = (da[..., k * hidden:(k + 1) * hidden] for k in range(4))
        act_i, act_f, act_g, _ = (saved.acts[..., k * hidden:(k + 1) * hidden] for k in range(4))
        c_new = act_f * c_prev + act_i * act_g
        return cupy.stack([(da_i * c_prev).sum(axis=(0, 1)), (da_f * c_prev).sum(axis=(0, 1)),
                           (da_o * c_new).sum(axis=(0, 1))])


def _matmul(a, b, transpose_a=False):
    return cupy.matmul(a.T if transpose_a else a, b)


# the states saved per step, (kept, B, H) each: h_prev for all modes, then the mode's own
_SAVED_STATES = ("h_prev", "c_prev", "tanh_c", "m_saved", "q_saved")


def _products(mode):
    """The GEMMs of one step, one per phase (cupy_gates), as (source, rows of W_hh, target):
    forward ``named[source] @ W_hh[rows]^T -> named[target]`` before the phase's elementwise
    kernel, backward ``named[source][:, rows] @ W_hh[rows] -> named[target]`` after it. Rows are
    "all", or the reset-before GRU's r, z rows ("rz") and n rows ("n")."""
    if mode == "gru_reset_before":
        return ((("h", "rz", "rec"), ("q_saved", "n", "rec_n")),
                (("da", "n", "d_reset"), ("da", "rz", "back")))
    return ((("h", "all", "rec"),), (("d_gh" if mode == "gru" else "da", "all", "back"),))

KERNELS = {mode: CupyRecurrent(mode) for mode in GATES}
