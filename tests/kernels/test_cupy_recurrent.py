"""The CuPy kernels (kernels/cupy_recurrent.py) on a GPU: against the Numba kernel at the array
level, through the layers against the reference path, and on bad input. Skipped without CuPy or
a GPU (their CUDA bodies are also run on the CPU: test_cupy_gates_source.py)."""
import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_rnn as tg
from tinygrad_rnn import kernels, nn

from kernel_support import GATES, assert_all_close, call_kernel, make_problem
from test_cupy_gates_source import problems, run_kernel

cupy = pytest.importorskip("cupy")
if not tg.is_available("cuda"):
    pytest.skip("needs a GPU that CuPy can use", allow_module_level=True)

from tinygrad_rnn.kernels import cupy_recurrent  # noqa: E402  (imports CuPy)


class OnGpu:
    """A CuPy kernel behind NumPy arrays: arguments go to the GPU (lengths stay on the host, as
    the layers pass them), results come back."""

    def __init__(self, kernel):
        self.kernel = kernel

    def forward(self, *arguments):
        *arrays, lengths, reverse, save = arguments   # as kernel_support.call_kernel passes them
        out, h_n, c_n, saved = self.kernel.forward(*map(_to_gpu, arrays), lengths, reverse, save)
        return (*(None if a is None else cupy.asnumpy(a) for a in (out, h_n, c_n)), saved)

    def backward(self, saved, d_out, d_hn, d_cn=None, wanted=None):
        grads = self.kernel.backward(saved, *map(_to_gpu, (d_out, d_hn, d_cn)), wanted=wanted)
        return {name: cupy.asnumpy(grad) for name, grad in grads.items()}


def _to_gpu(array):
    return None if array is None else cupy.asarray(array)


@settings(max_examples=40, deadline=None)
@given(case=problems())
def test_cupy_kernel_equals_numba_kernel_in_float64(case):
    kernel = OnGpu(cupy_recurrent.KERNELS[case["mode"]])
    want = run_kernel(kernels.get(case["mode"], "cpu"), case, np.float64)
    assert_all_close(run_kernel(kernel, case, np.float64), want, 1e-10)


@settings(max_examples=20, deadline=None)
@given(case=problems())
def test_cupy_kernel_in_float32_stays_close_to_float64(case):
    kernel = OnGpu(cupy_recurrent.KERNELS[case["mode"]])
    want = run_kernel(kernels.get(case["mode"], "cpu"), case, np.float64)
    assert_all_close(run_kernel(kernel, case, np.float32), want, 1e-5, by_group=True)


@pytest.mark.parametrize("mode", sorted(GATES))
def test_inference_forward_equals_training_forward_and_backward_can_repeat(mode):
    problem = make_problem(mode, 6, 3, 4, 5, np.float32, peephole=mode == "lstm")
    kernel = OnGpu(cupy_recurrent.KERNELS[mode])
    out, h_n, c_n, saved = call_kernel(kernel, problem, [6, 3, 1], reverse=True, save=True)
    infer = call_kernel(kernel, problem, [6, 3, 1], reverse=True, save=False)
    assert infer[3] is None
    for a, b in zip((out, h_n, c_n), infer[:3]):
        assert (a is None and b is None) or np.array_equal(a, b)
    first = kernel.backward(saved, np.ones_like(out), np.ones_like(h_n))
    second = kernel.backward(saved, np.ones_like(out), np.ones_like(h_n))
    assert first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("mode", sorted(GATES))
def test_cuda_graphs_warm_capture_replay_each_give_the_numba_results(mode):
    """cuda_graphs=True (off by default): the first call of a shape runs directly, the second
    captures a graph, the third replays it; each on fresh data."""
    kernel = cupy_recurrent.CupyRecurrent(mode)
    kernel.cuda_graphs = True
    for seed in range(3):
        case = dict(mode=mode, sizes=(4, 3, 2, 5), lengths=np.array([4, 1, 3]), reverse=True, bias=True,
                    peephole=mode == "lstm", seed=seed)
        want = run_kernel(kernels.get(mode, "cpu"), case, np.float64)
        assert_all_close(run_kernel(OnGpu(kernel), case, np.float64), want, 1e-10)


LAYERS = [("rnn_tanh", False), ("rnn_relu", False), ("lstm", False), ("lstm", True), ("gru", False),
          ("gru_reset_before", False)]


def run_layer(mode, peephole, impl, seed=3):
    """Outputs and gradients of a 2-layer bidirectional layer on "cuda" with lengths, float64."""
    name = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU", "gru_reset_before": "GRU"}[mode]
    kwargs = dict(num_layers=2, bidirectional=True, batch_first=True, impl=impl, dtype=np.float64)
    if name == "RNN":
        kwargs["nonlinearity"] = mode[4:]
    if name == "GRU":
        kwargs["reset_after"] = mode == "gru"
    if name == "LSTM":
        kwargs["peephole"] = peephole
    tg.manual_seed(seed)
    layer = getattr(nn, name)(4, 5, **kwargs).to("cuda")   # the same weights for both impls
    rng = np.random.default_rng(seed)

    def tensor(*shape):
        return tg.Tensor(rng.standard_normal(shape), requires_grad=True, device="cuda")

    x, h0, c0 = tensor(3, 6, 4), tensor(4, 3, 5), tensor(4, 3, 5)
    out, state = layer(x, (h0, c0) if name == "LSTM" else h0, lengths=[6, 2, 4])
    results = {"out": out} | ({"h_n": state[0], "c_n": state[1]} if name == "LSTM" else {"h_n": state})
    loss = sum((t * tg.Tensor(rng.standard_normal(t.shape), device="cuda")).sum() for t in results.values())
    loss.backward()
    results = {k: t.numpy() for k, t in results.items()}
    results.update({"grad_x": x.grad.numpy(), "grad_h0": h0.grad.numpy()})
    if name == "LSTM":
        results["grad_c0"] = c0.grad.numpy()
    results.update({f"grad_{k}": p.grad.numpy() for k, p in layer.named_parameters()})
    return results


@pytest.mark.parametrize("mode, peephole", LAYERS)
def test_layers_on_cuda_fused_equal_reference(mode, peephole):
    # the layers fall back to the reference path silently: make sure this one is the CuPy kernel
    assert isinstance(kernels.find(mode, "cuda"), cupy_recurrent.CupyRecurrent)
    assert_all_close(run_layer(mode, peephole, "fused"), run_layer(mode, peephole, "reference"), 1e-10)


def test_numpy_arrays_are_refused_naming_the_kernel():
    problem = make_problem("lstm", 3, 2, 3, 4)
    with pytest.raises(AssertionError, match=r"cupy kernel 'lstm' on 'cuda'.*: x"):
        call_kernel(cupy_recurrent.KERNELS["lstm"], problem)
