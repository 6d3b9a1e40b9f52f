"""The CuPy kernels' CUDA bodies (kernels/cupy_gates.py), compiled by the system C compiler and run
on the CPU, so that their arithmetic is tested on machines without a GPU:

1. each per-step body, element by element, against NumPy formulas of one step (float64);
2. the whole CuPy kernel (kernels/cupy_recurrent.py) with NumPy standing in for CuPy and these
   compiled bodies for its elementwise kernels, against the Numba kernel: outputs and every
   gradient, over modes, peepholes, lengths, reverse and bias, in float64 and float32.

Not covered here: NVRTC's compilation of the CUDA preamble, CuPy's own API where it differs from
NumPy's (the stand-in lists the few functions the kernel calls), and anything of the GPU itself;
tests/kernels/test_cupy_recurrent.py checks those where a GPU exists.
"""
import ctypes
import importlib.util
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_rnn import kernels
from tinygrad_rnn.kernels import cupy_gates

from kernel_support import (ARGUMENTS, GATES, assert_all_close, assert_close, call_kernel,
                            check_gradients_are_fresh, check_output_into_shared_columns, make_problem)

CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="needs a C compiler (cc)")

REALS = {np.dtype(np.float64): ("double", ""), np.dtype(np.float32): ("float", "f")}
INTEGERS = {"int64": ("long long", ctypes.c_longlong, np.int64), "int32": ("int", ctypes.c_int, np.int32)}
ALL_GATES = {gate.name: gate for pair in cupy_gates.STEPS.values() for phases in pair for gate in phases}
# The CuPy functions the kernel calls, as NumPy has them (empty, matmul, cuda: below).
CUPY_API = ("ndarray", "array", "asarray", "ascontiguousarray", "zeros", "stack", "concatenate")
# the modes whose step is one GEMM and one elementwise kernel (the reset-before GRU has two phases)
ONE_PHASE = sorted(mode for mode, (forward, _) in cupy_gates.STEPS.items() if len(forward) == 1)


def c_source(dtype):
    """Each gate's body in a C loop over the elements, ``T`` the C type of ``dtype``."""
    real, suffix = REALS[dtype]
    lines = ["#include <math.h>", "#include <stddef.h>", f"typedef {real} T;",
             f"static T exp_(T x) {{ return exp{suffix}(x); }}",
             f"static T tanh_(T x) {{ return tanh{suffix}(x); }}", cupy_gates.SIGMOID]
    for gate in ALL_GATES.values():
        params = ", ".join(f"{'T' if kind == 'T' else INTEGERS[kind][0]} {'*' if raw else ''}{name}"
                           for kind, name, raw in gate.parameters)
        lines.append(f"void {gate.name}(long long size, {params}) {{\n"
                     f"    for (ptrdiff_t i = 0; i < size; i++) {{{gate.body}}}\n}}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """``compiled(dtype)[name](*arguments, size=n)`` runs the gate ``name`` over n elements."""
    libraries = {}

    def load(dtype):
        dtype = np.dtype(dtype)
        if dtype not in libraries:
            folder = tmp_path_factory.mktemp(f"gates_{dtype}")
            (folder / "gates.c").write_text(c_source(dtype))
            # -Wdouble-promotion: a double constant in a float kernel would compute in double
            built = subprocess.run([CC, "-std=c99", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra",
                                    "-Werror", "-Wdouble-promotion", "-o", str(folder / "gates.so"),
                                    str(folder / "gates.c"), "-lm"], capture_output=True, text=True)
            assert built.returncode == 0, f"the gate bodies do not compile as C ({dtype}):\n{built.stderr}"
            library = ctypes.CDLL(str(folder / "gates.so"))
            libraries[dtype] = {name: _bind(getattr(library, name), gate, dtype)
                                for name, gate in ALL_GATES.items()}
        return libraries[dtype]

    return load


def _bind(function, gate, dtype):
    """The C function with checked argument types: arrays must be C-contiguous, of the right dtype."""
    def array(kind):
        return np.ctypeslib.ndpointer(dtype if kind == "T" else INTEGERS[kind][2], flags="C_CONTIGUOUS")

    function.restype = None
    function.argtypes = [ctypes.c_longlong] + [array(kind) if raw else INTEGERS[kind][1]
                                               for kind, _, raw in gate.parameters]
    return lambda *arguments, size: function(size, *arguments)


def test_gate_arguments_are_ordered_and_checked_by_name():
    gate = cupy_gates.RNN_BACKWARD
    named = {name: index for index, name in enumerate(gate.names)}
    assert gate.arguments(**dict(reversed(named.items()))) == tuple(range(len(named)))
    with pytest.raises(TypeError, match=r"rnn_backward_step: expected arguments \[.*'relu'.*\], got \["):
        gate.arguments(**{name: 0 for name in gate.names if name != "relu"})


# ----- 1. one step, element by element ---------------------------------------------------------
def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def forward_step(mode, gates, rec, h, c, peephole, b_hn, valid):
    """NumPy: (acts, h', c', output) of one step; masked rows keep gates, state, and output 0."""
    a, hidden = gates + rec, h.shape[1]
    c_new = c
    if mode.startswith("rnn"):
        h_new = acts = np.maximum(a, 0) if mode == "rnn_relu" else np.tanh(a)
    elif mode == "lstm":
        a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
        i, f, g = _sigmoid(a_i + peephole[0] * c), _sigmoid(a_f + peephole[1] * c), np.tanh(a_g)
        c_new = f * c + i * g
        o = _sigmoid(a_o + peephole[2] * c_new)
        h_new, acts = o * np.tanh(c_new), np.concatenate([i, f, g, o], axis=1)
    else:
        r, z = _sigmoid(a[:, :hidden]), _sigmoid(a[:, hidden:2 * hidden])
        n = np.tanh(gates[:, 2 * hidden:] + r * (rec[:, 2 * hidden:] + b_hn))
        h_new, acts = n + z * (h - n), np.concatenate([r, z, n], axis=1)
    keep = valid[:, None]
    return (np.where(keep, acts, gates), np.where(keep, h_new, h), np.where(keep, c_new, c),
            np.where(keep, h_new, 0))


def backward_step(mode, acts, h_prev, c_prev, m, peephole, dh, dc, d_out, valid):
    """NumPy: (d_gi, d_gh, dh', dc') of one step, dh' without the part through W_hh (see
    cupy_gates); masked rows pass dh and dc through and get zero gate gradients."""
    d_h, hidden = dh + d_out, dh.shape[1]
    dh_direct, dc_new = np.zeros_like(dh), dc
    if mode.startswith("rnn"):
        da = d_h * ((acts > 0) if mode == "rnn_relu" else 1 - acts ** 2)
        d_gi = d_gh = da
    elif mode == "lstm":
        i, f, g, o = np.split(acts, 4, axis=1)
        tanh_c = np.tanh(f * c_prev + i * g)
        d_o = d_h * tanh_c * o * (1 - o)
        d_c = dc + d_h * o * (1 - tanh_c ** 2) + peephole[2] * d_o
        d_i, d_f = d_c * g * i * (1 - i), d_c * c_prev * f * (1 - f)
        d_gi = d_gh = np.concatenate([d_i, d_f, d_c * i * (1 - g ** 2), d_o], axis=1)
        dc_new = d_c * f + peephole[0] * d_i + peephole[1] * d_f
    else:
        r, z, n = np.split(acts, 3, axis=1)
        d_n = d_h * (1 - z) * (1 - n ** 2)
        d_r = d_n * m * r * (1 - r)
        d_gi = np.concatenate([d_r, d_h * (h_prev - n) * z * (1 - z), d_n], axis=1)
        d_gh = np.concatenate([d_gi[:, :2 * hidden], d_n * r], axis=1)
        dh_direct = d_h * z
    keep = valid[:, None]
    return (np.where(keep, d_gi, 0), np.where(keep, d_gh, 0), np.where(keep, dh_direct, dh),
            np.where(keep, dc_new, dc))


def _step_arrays(mode, seed, batch=5, hidden=3):
    rng = np.random.default_rng(seed)
    width = GATES[mode] * hidden

    def draw(*shape):
        return rng.standard_normal(shape)

    t = 2
    lengths = np.array([3, 2, 5, 0, 3], dtype=np.int64)[:batch]   # rows 1 and 3 are masked at t
    arrays = dict(gates=draw(batch, width), rec=draw(batch, width), h=draw(batch, hidden),
                  c=draw(batch, hidden), peephole=draw(3, hidden), b_hn=draw(hidden))
    return t, lengths, arrays, rng


@pytest.mark.parametrize("mode", ONE_PHASE)
def test_forward_step_matches_numpy(mode, compiled):
    t, lengths, a, _ = _step_arrays(mode, seed=1)
    (forward,), _ = cupy_gates.STEPS[mode]
    batch, hidden = a["h"].shape
    want = forward_step(mode, a["gates"], a["rec"], a["h"], a["c"], a["peephole"], a["b_hn"], t < lengths)
    gates, h, c = a["gates"].copy(), a["h"].copy(), a["c"].copy()
    output, h_prev, c_prev, tanh_c, m_saved = (np.full((batch, hidden), np.nan) for _ in range(5))
    named = dict(rec=a["rec"], lengths=lengths, t=t, hidden=hidden, gates=gates, h=h, output=output,
                 h_prev=h_prev)
    if mode.startswith("rnn"):
        named["relu"] = int(mode == "rnn_relu")
    elif mode == "lstm":
        named.update(peephole=a["peephole"], c=c, c_prev=c_prev, tanh_c=tanh_c)
    else:
        named.update(b_hn=a["b_hn"], m_saved=m_saved)
    compiled(np.float64)[forward.name](*forward.arguments(**named), size=batch * hidden)
    for name, got, expected in zip(("acts", "h", "c", "output"), (gates, h, c, output), want):
        assert_close(got, expected, 1e-14, name)
    assert np.array_equal(h_prev, a["h"])
    if mode == "lstm":
        valid = (t < lengths)[:, None]
        assert np.array_equal(c_prev, a["c"])
        assert_close(np.where(valid, tanh_c, 0), np.where(valid, np.tanh(want[2]), 0), 1e-14, "tanh_c")
    if mode == "gru":
        valid = (t < lengths)[:, None]
        m = a["rec"][:, 2 * hidden:] + a["b_hn"]
        assert_close(np.where(valid, m_saved, 0), np.where(valid, m, 0), 1e-14, "m_saved")


@pytest.mark.parametrize("mode", ONE_PHASE)
def test_backward_step_matches_numpy(mode, compiled):
    t, lengths, a, rng = _step_arrays(mode, seed=2)
    _, (backward,) = cupy_gates.STEPS[mode]
    batch, hidden = a["h"].shape
    valid = t < lengths
    # acts as forward leaves them: sigmoid gates, tanh for LSTM's g and GRU's n (both third)
    if mode.startswith("rnn"):
        acts = np.maximum(a["gates"], 0) if mode == "rnn_relu" else np.tanh(a["gates"])
    else:
        acts = _sigmoid(a["gates"])
        acts[:, 2 * hidden:3 * hidden] = np.tanh(a["gates"][:, 2 * hidden:3 * hidden])
    h_prev, c_prev, m = a["h"], a["c"], rng.standard_normal((batch, hidden))
    dh_direct, back = rng.standard_normal((2, batch, hidden))
    dc, d_out = rng.standard_normal((2, batch, hidden))
    want = backward_step(mode, acts, h_prev, c_prev, m, a["peephole"], dh_direct + back, dc, d_out, valid)
    dh, dc_got = dh_direct.copy(), dc.copy()
    d_gi, d_gh = np.full((2, batch, acts.shape[1]), np.nan)
    named = dict(acts=acts, d_out=d_out, back=back, lengths=lengths, t=t, hidden=hidden, dh=dh)
    if mode.startswith("rnn"):
        named.update(relu=int(mode == "rnn_relu"), da=d_gi)
    elif mode == "lstm":
        i, f, g = acts[:, :hidden], acts[:, hidden:2 * hidden], acts[:, 2 * hidden:3 * hidden]
        named.update(c_prev=c_prev, tanh_c=np.tanh(f * c_prev + i * g), peephole=a["peephole"], dc=dc_got,
                     da=d_gi)
    else:
        named.update(h_prev=h_prev, m_saved=m, d_gi=d_gi, d_gh=d_gh)
    compiled(np.float64)[backward.name](*backward.arguments(**named), size=batch * hidden)
    if mode != "gru":
        d_gh = d_gi
    for name, got, expected in zip(("d_gi", "d_gh", "dh", "dc"), (d_gi, d_gh, dh, dc_got), want):
        assert_close(got, expected, 1e-14, name)


def test_reset_before_gru_step_in_two_phases_matches_numpy(compiled):
    """Forward: rec = h W_h[rz]^T, kernel 1 (r, z, q = r h), rec_n = q W_hn^T, kernel 2 (n, h');
    backward: kernel 1 (da_z, da_n, dh = d_h), d_reset = da_n W_hn, kernel 2 (da_r, dh = d_h z +
    d_reset r); against NumPy (numba_gru's formulas), rows 1 and 3 masked."""
    t, lengths, a, rng = _step_arrays("gru_reset_before", seed=3)
    (reset, candidate), (candidate_back, reset_back) = cupy_gates.STEPS["gru_reset_before"]
    run = compiled(np.float64)
    batch, hidden = a["h"].shape
    keep = (t < lengths)[:, None]
    w_hh = rng.standard_normal((3 * hidden, hidden))
    gates, h = a["gates"].copy(), a["h"].copy()
    rec = h @ w_hh[:2 * hidden].T
    output, h_prev, q, rec_n = (np.full((batch, hidden), np.nan) for _ in range(4))
    named = dict(rec=rec, rec_n=rec_n, lengths=lengths, t=t, hidden=hidden, gates=gates, h=h, output=output,
                 h_prev=h_prev, q_saved=q)
    run[reset.name](*reset.arguments(**{n: named[n] for n in reset.names}), size=batch * hidden)
    rec_n[...] = q @ w_hh[2 * hidden:].T
    run[candidate.name](*candidate.arguments(**{n: named[n] for n in candidate.names}), size=batch * hidden)

    r = _sigmoid(a["gates"][:, :hidden] + rec[:, :hidden])
    z = _sigmoid(a["gates"][:, hidden:2 * hidden] + rec[:, hidden:])
    n = np.tanh(a["gates"][:, 2 * hidden:] + (r * a["h"]) @ w_hh[2 * hidden:].T)
    h_new = n + z * (a["h"] - n)
    assert_close(gates, np.where(keep, np.concatenate([r, z, n], axis=1), a["gates"]), 1e-14, "acts")
    assert_close(h, np.where(keep, h_new, a["h"]), 1e-14, "h")
    assert_close(output, np.where(keep, h_new, 0), 1e-14, "output")
    assert_close(q, np.where(keep, r * a["h"], 0), 1e-14, "q")
    assert np.array_equal(h_prev, a["h"])

    acts = np.concatenate([r, z, n], axis=1)
    dh_direct, back, d_out = rng.standard_normal((3, batch, hidden))
    dh, da, d_reset = dh_direct.copy(), np.full((batch, 3 * hidden), np.nan), np.full((batch, hidden), np.nan)
    named = dict(acts=acts, h_prev=a["h"], d_out=d_out, back=back, d_reset=d_reset, lengths=lengths, t=t,
                 hidden=hidden, dh=dh, da=da)
    run[candidate_back.name](*candidate_back.arguments(**{n: named[n] for n in candidate_back.names}),
                             size=batch * hidden)
    d_reset[...] = da[:, 2 * hidden:] @ w_hh[2 * hidden:]
    run[reset_back.name](*reset_back.arguments(**{n: named[n] for n in reset_back.names}), size=batch * hidden)

    d_h = dh_direct + back + d_out
    d_n = d_h * (1 - z) * (1 - n ** 2)
    dq = d_n @ w_hh[2 * hidden:]
    want_da = np.concatenate([dq * a["h"] * r * (1 - r), d_h * (a["h"] - n) * z * (1 - z), d_n], axis=1)
    assert_close(da, np.where(keep, want_da, 0), 1e-14, "da")
    assert_close(dh, np.where(keep, d_h * z + dq * r, dh_direct + back), 1e-14, "dh")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_gates_give_no_nan(dtype, compiled):
    """sigmoid(+-1e4) is 1 or 0 (exp overflows to inf, 1/inf = 0), tanh(+-1e4) is +-1."""
    (forward,), _ = cupy_gates.STEPS["lstm"]
    batch, hidden = 2, 3
    gates = np.tile(np.array([[1e4], [-1e4]], dtype), (1, 4 * hidden))
    h, c = np.zeros((2, batch, hidden), dtype)
    scratch = np.empty((4, batch, hidden), dtype)
    named = dict(rec=np.zeros_like(gates), peephole=np.zeros((3, hidden), dtype),
                 lengths=np.full(batch, 1, np.int64), t=0, hidden=hidden, gates=gates, h=h, c=c,
                 output=scratch[0], h_prev=scratch[1], c_prev=scratch[2], tanh_c=scratch[3])
    compiled(dtype)[forward.name](*forward.arguments(**named), size=batch * hidden)
    assert np.array_equal(gates[0], np.ones(4 * hidden, dtype))
    saturated_low = np.r_[np.zeros(2 * hidden), -np.ones(hidden), np.zeros(hidden)]   # i, f, g, o
    assert np.array_equal(gates[1], saturated_low.astype(dtype))
    assert np.array_equal(c, [[1] * hidden, [0] * hidden]) and np.isfinite(h).all()


# ----- 2. the whole CuPy kernel, NumPy standing in for CuPy ------------------------------------------
class Launches:
    """The stand-in's GPU work: run at once, or recorded while a stream captures (``recording``)
    and run when the graph is launched. ``direct`` counts the elementwise launches run at once,
    ``captures`` the graphs captured."""
    recording = None
    direct = 0
    captures = 0

    @classmethod
    def submit(cls, work, elementwise=False):
        if cls.recording is not None:
            cls.recording.append(work)
        else:
            cls.direct += elementwise
            work()


class CElementwiseKernel:
    """Stands in for ``cupy.ElementwiseKernel``: the same parameter lists and body, run by the C
    build of the body for the dtype of the arrays."""

    def __init__(self, compiled, in_params, out_params, operation, name, preamble):
        assert preamble == cupy_gates.PREAMBLE and ALL_GATES[name].body == operation
        self.compiled, self.gate = compiled, cupy_gates.Gate(name, in_params, out_params, operation)

    def __call__(self, *arguments, size):
        dtype = next(a.dtype for a, (kind, _, _) in zip(arguments, self.gate.parameters) if kind == "T")
        function = self.compiled(dtype)[self.gate.name]
        Launches.submit(lambda: function(*arguments, size=size), elementwise=True)


def _poisoned(array):
    """Fresh memory: NaN (the lowest integer) where CuPy would leave whatever was there."""
    array[...] = np.nan if array.dtype.kind == "f" else np.iinfo(array.dtype).min
    return array


def empty(*args, **kwargs):
    return _poisoned(np.empty(*args, **kwargs))


def empty_like(*args, **kwargs):
    return _poisoned(np.empty_like(*args, **kwargs))


def matmul(a, b, out=None):
    """``cupy.matmul``; into ``out`` while capturing (a graph cannot return a new array)."""
    if Launches.recording is None:
        return np.matmul(a, b, out=out)
    assert out is not None, "matmul without out= during a capture"
    Launches.submit(lambda: np.matmul(a, b, out=out))
    return out


class Stream:
    """``cupy.cuda.Stream`` as far as cupy_graphs uses it; ``end_capture`` gives a Graph."""

    def __init__(self, non_blocking=False):
        assert non_blocking, "the legacy default stream cannot capture"

    def __enter__(self):
        return self

    def __exit__(self, *error):
        return False

    def begin_capture(self):
        assert Launches.recording is None
        Launches.recording = []

    def end_capture(self):
        graph, Launches.recording = Graph(Launches.recording), None
        Launches.captures += 1
        return graph


class Graph:
    def __init__(self, launches):
        self.launches = launches

    def launch(self, stream):
        for work in self.launches:
            work()


def _load_private(name, stand_in):
    """A private copy of kernels/<name>.py, executed with ``cupy`` = ``stand_in``."""
    path = Path(kernels.__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"{kernels.__name__}.{name}", path)
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "cupy", stand_in)
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def emulated(compiled):
    """kernels.cupy_recurrent (and the cupy_graphs it imports) loaded as private modules whose
    ``cupy`` is NumPy plus the stand-ins above; sys.modules and the package are left as they were."""
    stand_in = types.ModuleType("cupy")
    for name in CUPY_API:
        setattr(stand_in, name, getattr(np, name))
    stand_in.empty, stand_in.empty_like, stand_in.matmul = empty, empty_like, matmul
    stand_in.ElementwiseKernel = lambda *args, **kwargs: CElementwiseKernel(compiled, *args, **kwargs)
    stand_in.cuda = types.SimpleNamespace(Stream=Stream, get_current_stream=lambda: None)
    graphs = _load_private("cupy_graphs", stand_in)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, graphs.__name__, graphs)
        patch.setattr(kernels, "cupy_graphs", graphs, raising=False)
        return _load_private("cupy_recurrent", stand_in)


@st.composite
def problems(draw):
    """A random single-direction problem, lengths 0..T (0: a row that never runs)."""
    mode = draw(st.sampled_from(sorted(GATES)))
    steps, batch = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    sizes = (steps, batch, draw(st.integers(1, 4)), draw(st.integers(1, 5)))
    lengths = draw(st.none() | st.lists(st.integers(0, steps), min_size=batch, max_size=batch))
    return dict(mode=mode, sizes=sizes, lengths=None if lengths is None else np.array(lengths),
                reverse=draw(st.booleans()), bias=draw(st.booleans()),
                peephole=mode == "lstm" and draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def run_kernel(kernel, case, dtype):
    """Outputs and all gradients of one forward and backward, float64 NumPy arrays by name."""
    problem = make_problem(case["mode"], *case["sizes"], dtype, case["bias"], case["peephole"], case["seed"])
    out, h_n, c_n, saved = call_kernel(kernel, problem, case["lengths"], case["reverse"])
    rng = np.random.default_rng(case["seed"] + 1)
    d_out, d_hn, d_cn = (rng.standard_normal(a.shape).astype(dtype) if a is not None else None
                         for a in (out, h_n, c_n))
    grads = kernel.backward(saved, d_out, d_hn, d_cn)
    results = {"out": out, "h_n": h_n} | ({"c_n": c_n} if c_n is not None else {})
    assert sorted(grads) == sorted(name for name in ARGUMENTS if problem[name] is not None)
    results.update({f"grad_{name}": grad for name, grad in grads.items()})
    assert all(a.dtype == dtype for a in results.values())
    return {name: a.astype(np.float64) for name, a in results.items()}


@pytest.mark.parametrize("save", [True, False])
@pytest.mark.parametrize("mode", sorted(GATES))
def test_emulated_cupy_kernel_writes_into_columns_of_a_shared_array(mode, save, emulated):
    check_output_into_shared_columns(emulated.KERNELS[mode], mode, save, reverse=True)


@pytest.mark.parametrize("mode", sorted(GATES))
def test_emulated_cupy_kernel_returns_fresh_gradients(mode, emulated):
    check_gradients_are_fresh(emulated.KERNELS[mode], mode)


@settings(max_examples=60, deadline=None)
@given(case=problems())
def test_emulated_cupy_kernel_equals_numba_kernel_in_float64(case, emulated):
    """Within 1e-12 of each group's largest magnitude (outputs, gradients): an output that is a
    near-cancelling sum carries its terms' rounding, not its own size's (found by hypothesis:
    an rnn_relu output of 1.35e-5 differing by 5e-17, 3.7e-12 of itself)."""
    want = run_kernel(kernels.get(case["mode"], "cpu"), case, np.float64)
    assert_all_close(run_kernel(emulated.KERNELS[case["mode"]], case, np.float64), want, 1e-12, by_group=True)


@settings(max_examples=20, deadline=None)
@given(case=problems())
def test_emulated_cupy_kernel_in_float32_stays_close_to_float64(case, emulated):
    want = run_kernel(kernels.get(case["mode"], "cpu"), case, np.float64)
    assert_all_close(run_kernel(emulated.KERNELS[case["mode"]], case, np.float32), want, 1e-5, by_group=True)


@pytest.mark.parametrize("mode", sorted(GATES))
def test_emulated_inference_forward_equals_training_forward(mode, emulated):
    problem = make_problem(mode, 6, 3, 4, 5, np.float32, peephole=mode == "lstm")
    train = call_kernel(emulated.KERNELS[mode], problem, [6, 3, 1], reverse=True, save=True)
    infer = call_kernel(emulated.KERNELS[mode], problem, [6, 3, 1], reverse=True, save=False)
    assert infer[3] is None
    for a, b in zip(train[:3], infer[:3]):
        assert (a is None and b is None) or np.array_equal(a, b)


@pytest.mark.parametrize("mode", sorted(GATES))
def test_emulated_backward_leaves_saved_values_intact_and_honours_wanted(mode, emulated):
    problem = make_problem(mode, 4, 2, 3, 5, peephole=mode == "lstm")
    kernel = emulated.KERNELS[mode]
    out, h_n, _, saved = call_kernel(kernel, problem, [4, 2], reverse=True)
    first = kernel.backward(saved, np.ones_like(out), np.ones_like(h_n), None)
    second = kernel.backward(saved, np.ones_like(out), np.ones_like(h_n), None)
    assert first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)
    some = kernel.backward(saved, np.ones_like(out), np.ones_like(h_n), None, wanted={"h0", "weight_hh"})
    assert sorted(some) == ["h0", "weight_hh"] and np.array_equal(some["weight_hh"], first["weight_hh"])
    with pytest.raises(RuntimeError, match="backward needs a forward run with save=True"):
        kernel.backward(None, np.ones_like(out), None)


@pytest.mark.parametrize("mode", sorted(GATES))
def test_emulated_cuda_graphs_run_warm_then_capture_then_replay_with_fresh_data(mode, emulated):
    """cuda_graphs=True: the first call of a shape runs directly, the second captures, the third
    replays; each gives the Numba kernel's results for its own data (inputs copied in, outputs
    copied out, nothing stale)."""
    kernel = emulated.CupyRecurrent(mode)
    kernel.cuda_graphs = True
    phases = len(cupy_gates.STEPS[mode][0])   # elementwise kernels per step and direction
    for seed, (direct, captures) in enumerate([(2 * 4 * phases, 0), (0, 2), (0, 0)]):   # T = 4 steps
        case = dict(mode=mode, sizes=(4, 3, 2, 5), lengths=np.array([4, 1, 3]), reverse=True,
                    bias=True, peephole=mode == "lstm", seed=seed)
        before = Launches.direct, Launches.captures
        got = run_kernel(kernel, case, np.float64)
        assert (Launches.direct - before[0], Launches.captures - before[1]) == (direct, captures)
        assert_all_close(got, run_kernel(kernels.get(mode, "cpu"), case, np.float64), 1e-12)


def test_the_stand_in_leaves_the_real_modules_alone(emulated):
    private = emulated.cupy_graphs
    assert sys.modules.get(private.__name__) is not private
    assert getattr(kernels, "cupy_graphs", None) is not private
    assert getattr(sys.modules.get("cupy"), "ElementwiseKernel", None) is not emulated.cupy.ElementwiseKernel
