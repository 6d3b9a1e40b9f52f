"""Fused kernels, one module per backend, found through a registry keyed by (operation, device).

    kernel = kernels.find("lstm", "cpu")   # None when no kernel (or its backend) is available
    kernel = kernels.get("lstm", "cuda")   # raises KernelNotFoundError naming what exists

Entries name a module and an attribute, imported on first use, so importing the registry neither
imports Numba or CuPy nor compiles anything. The recurrent modes ("rnn_tanh", "rnn_relu",
"lstm", "gru", "gru_reset_before") have a "cpu" kernel (Numba, numba_recurrent) and a "cuda" one
(CuPy, cupy_recurrent), each with the interface of ``recurrent_kernel.RecurrentKernel``;
"matmul" on "cpu" is a product on the kernels' threads (numba_matmul). docs/kernels.md is the map.
"""
import importlib

from ..nn.cells import GATES

_ENTRIES = {}
_LOADED = {}   # (operation, device) -> the kernel, once imported


class KernelNotFoundError(LookupError):
    """No kernel is registered (or importable) for an (operation, device) pair."""


def register(operation, device, module, attribute, key=None):
    """Register ``<module>.<attribute>[key]`` (``key`` optional) as the kernel of the pair."""
    _ENTRIES[(operation, device)] = (module, attribute, key)
    _LOADED.pop((operation, device), None)


def _device_name(device):
    return getattr(device, "name", device)


def _load(operation, device):
    module, attribute, key = _ENTRIES[(operation, device)]
    found = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    return found if key is None else found[key]


def get(operation, device):
    """The kernel of ``operation`` on ``device`` (a name or a Device); raises when there is none."""
    device = _device_name(device)
    kernel = _LOADED.get((operation, device))
    if kernel is not None:
        return kernel
    if (operation, device) not in _ENTRIES:
        devices = sorted(d for op, d in _ENTRIES if op == operation)
        where = f"it exists on: {', '.join(devices)}" if devices else "no device has it"
        raise KernelNotFoundError(f"no fused kernel for operation '{operation}' on device "
                                  f"'{device}' ({where}); use the reference path")
    try:
        kernel = _LOADED[(operation, device)] = _load(operation, device)
    except ImportError as error:
        raise KernelNotFoundError(f"the fused kernel for '{operation}' on '{device}' cannot be "
                                  f"loaded: {error}") from error
    return kernel


def find(operation, device):
    """The kernel of ``operation`` on ``device``, or None when there is none."""
    try:
        return get(operation, device)
    except KernelNotFoundError:
        return None


def registered():
    """All registered (operation, device) pairs."""
    return sorted(_ENTRIES)


for _mode in GATES:
    register(_mode, "cpu", "numba_recurrent", "KERNELS", _mode)
    register(_mode, "cuda", "cupy_recurrent", "KERNELS", _mode)
register("matmul", "cpu", "numba_matmul", "matmul")
