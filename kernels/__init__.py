"""Fused kernels, one module per backend, found through a registry keyed by (operation, device).

Layers ask the registry for a kernel for the device of their input and use the composed
reference path when there is none::

    kernel = kernels.find("lstm", "cpu")   # None when no kernel (or its backend) is available
    kernel = kernels.get("lstm", "cuda")   # raises KernelNotFoundError naming what exists

Entries name a module of this package and an attribute, imported on first use, so importing
the registry neither imports Numba or CuPy nor compiles anything. Registered here:

=============================  ==========  ==========================================
operation                      device      kernel
=============================  ==========  ==========================================
rnn_tanh, rnn_relu, lstm, gru  cpu         ``numba_recurrent.KERNELS[mode]`` (Numba)
rnn_tanh, rnn_relu, lstm, gru  cuda        ``cupy_recurrent.KERNELS[mode]`` (CuPy)
matmul                         cpu         ``numba_matmul.matmul`` (a product on the team)
=============================  ==========  ==========================================

(gru_reset_before is ``nn.GRU(reset_after=False)``, registered like gru.) Every kernel has the
interface of ``recurrent_kernel.RecurrentKernel``. Without CuPy the
"cuda" entries cannot load, ``find`` returns None and the layers take the reference path
(so does the "strict" test device, which has no kernel). The CPU kernels use all cores by
default, on one team of threads (numba_team): the LSTM's threads share every step, each a block
of hidden units, the GRU's and RNN's each run batch shards (numba_shards);
``tinygrad_rnn.kernels.cpu_threads.set_num_threads(n)`` sets the number of threads.
"""
import importlib

_ENTRIES = {}


class KernelNotFoundError(LookupError):
    """No kernel is registered (or importable) for an (operation, device) pair."""


def register(operation, device, module, attribute, key=None):
    """Register ``<module>.<attribute>[key]`` (``key`` optional) as the kernel of the pair."""
    _ENTRIES[(operation, device)] = (module, attribute, key)


def _device_name(device):
    return getattr(device, "name", device)


def _load(operation, device):
    module, attribute, key = _ENTRIES[(operation, device)]
    found = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    return found if key is None else found[key]


def get(operation, device):
    """The kernel of ``operation`` on ``device`` (a name or a Device); raises when there is none."""
    device = _device_name(device)
    if (operation, device) not in _ENTRIES:
        devices = sorted(d for op, d in _ENTRIES if op == operation)
        where = f"it exists on: {', '.join(devices)}" if devices else "no device has it"
        raise KernelNotFoundError(f"no fused kernel for operation '{operation}' on device "
                                  f"'{device}' ({where}); use the reference path")
    try:
        return _load(operation, device)
    except ImportError as error:
        raise KernelNotFoundError(f"the fused kernel for '{operation}' on '{device}' cannot be "
                                  f"loaded: {error}") from error


def find(operation, device):
    """The kernel of ``operation`` on ``device``, or None when there is none."""
    try:
        return get(operation, device)
    except KernelNotFoundError:
        return None


def registered():
    """All registered (operation, device) pairs."""
    return sorted(_ENTRIES)


for _mode in ("rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before"):
    register(_mode, "cpu", "numba_recurrent", "KERNELS", _mode)
    register(_mode, "cuda", "cupy_recurrent", "KERNELS", _mode)
register("matmul", "cpu", "numba_matmul", "matmul")
