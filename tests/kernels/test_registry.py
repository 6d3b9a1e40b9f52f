"""The kernel registry: lookup by (operation, device), clear errors, lazy loading."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import kernels, nn
from tinygrad_rnn.nn import fused, recurrent

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before")


@pytest.mark.parametrize("mode", MODES)
def test_cpu_has_a_numba_kernel_for_every_mode(mode):
    kernel = kernels.get(mode, "cpu")
    assert kernel.mode == mode and kernel.device == "cpu"
    assert kernels.find(mode, tg.get_device("cpu")) is kernel
    assert (mode, "cpu") in kernels.registered()


def test_a_device_without_a_kernel_raises_when_asked_and_falls_back_otherwise():
    with pytest.raises(kernels.KernelNotFoundError,
                       match="no fused kernel for operation 'lstm' on device 'strict' "
                             r"\(it exists on: cpu, cuda\); use the reference path"):
        kernels.get("lstm", "strict")
    assert kernels.find("lstm", "strict") is None
    assert "no fused kernel for operation 'lstm' on device 'strict'" in fused.unavailable("lstm", "strict", np.float32)


def test_the_cuda_kernels_are_registered_and_say_why_they_cannot_load_without_cupy():
    assert all((mode, "cuda") in kernels.registered() for mode in MODES)
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed: tests/kernels/test_cupy_recurrent.py covers its kernels")
    with pytest.raises(kernels.KernelNotFoundError,
                       match="the fused kernel for 'gru' on 'cuda' cannot be loaded: .*cupy"):
        kernels.get("gru", "cuda")
    assert kernels.find("gru", "cuda") is None


def test_unknown_operation_says_no_device_has_it():
    with pytest.raises(kernels.KernelNotFoundError, match="'conv' on device 'cpu' \\(no device has it\\)"):
        kernels.get("conv", "cpu")


def test_dtype_support():
    assert fused.unavailable("gru", "cpu", np.float32) is None
    assert fused.unavailable("gru", "cpu", np.float64) is None
    assert "does not support dtype float16" in fused.unavailable("gru", "cpu", np.float16)


def test_fused_direction_on_a_device_without_kernel_raises():
    x = tg.zeros(2, 1, 3, device="strict")
    h0 = tg.zeros(1, 2, device="strict")
    w_ih, w_hh = tg.zeros(2, 3, device="strict"), tg.zeros(2, 2, device="strict")
    with pytest.raises(kernels.KernelNotFoundError, match="'rnn_tanh' on device 'strict'"):
        fused.fused_direction("rnn_tanh", x, h0, None, w_ih, w_hh, None, None)


def test_layer_with_an_unsupported_dtype_names_the_kernel_and_dtype():
    layer = nn.RNN(3, 2, dtype=np.float16, impl="fused")
    with pytest.raises(RuntimeError, match=r"RNN: impl='fused' was asked for, but <numba kernel 'rnn_tanh' "
                                           r"on 'cpu'> does not support dtype float16 \(supported: float32, "):
        layer(tg.zeros(2, 1, 3, dtype=np.float16))


def test_layers_on_a_device_without_kernel_take_the_reference_path(monkeypatch):
    monkeypatch.setattr(recurrent, "_REPORTED", set())
    layer = nn.LSTM(3, 2, device="strict")  # impl="auto" is the default
    with pytest.warns(RuntimeWarning, match=r"LSTM runs the reference path \(impl='auto'\): no fused "
                                            "kernel for operation 'lstm' on device 'strict'"):
        out, (h_n, c_n) = layer(tg.randn(4, 2, 3, device="strict"))
    assert out.shape == (4, 2, 2) and out.device.name == "strict"
    with pytest.raises(RuntimeError, match="impl='fused' was asked for, but no fused kernel"):
        nn.LSTM(3, 2, device="strict", impl="fused")(tg.randn(4, 2, 3, device="strict"))


def test_importing_the_registry_neither_loads_kernels_nor_compiles():
    code = ("import sys, tinygrad_rnn.kernels as k, numpy as np\n"
            "assert 'tinygrad_rnn.kernels.numba_recurrent' not in sys.modules\n"
            "k.get('lstm', 'cpu')\n"
            "from numba.core.dispatcher import Dispatcher\n"
            "from tinygrad_rnn.kernels import numba_lstm, numba_gru, numba_rnn, numba_team\n"
            "kernels = [f for m in (numba_lstm, numba_gru, numba_rnn, numba_team)\n"
            "           for f in vars(m).values() if isinstance(f, Dispatcher)]\n"
            "assert len(kernels) >= 12 and all(not f.signatures for f in kernels)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
