"""Devices: which array library holds a tensor's data, and the few things it must provide.

``"cpu"`` is NumPy, ``"cuda"`` is CuPy (imported only when asked for) and ``"strict"`` is
NumPy behind a wrapper that refuses NumPy calls (see ``tinygrad_rnn.strict``), used by the
tests to prove that the engine never calls NumPy on a device array. This module is the only
place that chooses an array library; ops take the namespace ``xp`` of their inputs' device.
"""
import numpy as np

from . import strict

_CUPY_MISSING = (
    "device 'cuda' needs CuPy, which is not installed or cannot find a GPU: install the wheel "
    "matching your CUDA toolkit, e.g. pip install 'tinygrad_rnn[gpu]' (cupy-cuda13x, for CUDA 13) or "
    "pip install cupy-cuda12x for CUDA 12"
)


class Device:
    """One array library: its namespace, how to move data in and out, RNG and scatter-add."""

    name = "cpu"
    xp = np
    array_type = np.ndarray

    def __init__(self):
        self.seed(0)

    def seed(self, seed):
        self._rng = np.random.default_rng(seed)

    def get_rng_state(self):
        """The generator's state as JSON-compatible data, so a run can be resumed with the same
        random numbers (PyTorch's ``get_rng_state``); None where it cannot be exported."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state):
        """Restore a state returned by ``get_rng_state``."""
        self._rng.bit_generator.state = state

    def asarray(self, host_or_device_array, dtype=None):
        """Data from the host (lists, scalars, NumPy arrays) placed on this device."""
        return np.asarray(host_or_device_array, dtype=dtype)

    def to_numpy(self, array):
        return array

    def standard_normal(self, shape, dtype):
        return self._rng.standard_normal(shape, dtype=np.float64).astype(dtype, copy=False)

    def uniform(self, shape, dtype):
        return self._rng.random(shape, dtype=np.float64).astype(dtype, copy=False)

    def integers(self, low, high, shape):
        return self._rng.integers(low, high, size=shape)

    def index_add(self, target, index, values):
        """target[index] += values, accumulating repeated indices (the backward of a gather)."""
        np.add.at(target, index, values)

    def __repr__(self):
        return f"device('{self.name}')"


class StrictDevice(Device):
    """The CPU with NumPy hidden behind ``StrictArray``."""

    name = "strict"
    xp = strict.namespace
    array_type = strict.StrictArray

    def asarray(self, host_or_device_array, dtype=None):
        if type(host_or_device_array) is strict.StrictArray:
            host_or_device_array = strict.unwrap(host_or_device_array)
        return strict.StrictArray(np.asarray(host_or_device_array, dtype=dtype))

    def to_numpy(self, array):
        return strict.unwrap(array).copy()

    def standard_normal(self, shape, dtype):
        return strict.StrictArray(super().standard_normal(shape, dtype))

    def uniform(self, shape, dtype):
        return strict.StrictArray(super().uniform(shape, dtype))

    def integers(self, low, high, shape):
        return strict.StrictArray(np.asarray(super().integers(low, high, shape)))

    def index_add(self, target, index, values):
        np.add.at(strict.unwrap(target), strict.unwrap(index), strict.unwrap(values))


class CudaDevice(Device):
    """CuPy on the current GPU."""

    name = "cuda"

    def __init__(self):
        try:
            import cupy
            import cupyx
            cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # ImportError, or CUDA present but no usable GPU
            raise RuntimeError(f"{_CUPY_MISSING} ({type(error).__name__}: {error})") from error
        self.xp = cupy
        self.array_type = cupy.ndarray
        self._scatter_add = cupyx.scatter_add
        super().__init__()

    def seed(self, seed):
        self._rng = self.xp.random.RandomState(seed)

    def get_rng_state(self):
        return None  # CuPy's RandomState (cuRAND) has no way to export its state

    def asarray(self, host_or_device_array, dtype=None):
        return self.xp.asarray(host_or_device_array, dtype=dtype)

    def to_numpy(self, array):
        return array.get()

    def standard_normal(self, shape, dtype):
        return self._rng.standard_normal(shape, dtype=dtype)

    def uniform(self, shape, dtype):
        return self._rng.random_sample(shape, dtype=dtype)

    def integers(self, low, high, shape):
        return self._rng.randint(low, high, size=shape)

    def index_add(self, target, index, values):
        self._scatter_add(target, index, values)


_DEVICE_CLASSES = {"cpu": Device, "strict": StrictDevice, "cuda": CudaDevice}
_devices = {}
_device_by_array_type = {}
_seed = 0


def get_device(device=None):
    """The ``Device`` named by ``device`` ("cpu", "cuda", "cuda:0", "strict" or a Device)."""
    if isinstance(device, Device):
        return device
    name = "cpu" if device is None else str(device)
    if name.startswith("cuda:"):
        if name != "cuda:0":
            raise ValueError(f"device '{name}': only one GPU (cuda:0) is supported")
        name = "cuda"
    if name not in _devices:
        if name not in _DEVICE_CLASSES:
            raise ValueError(f"unknown device '{name}'; expected one of {sorted(_DEVICE_CLASSES)}")
        created = _DEVICE_CLASSES[name]()
        created.seed(_seed)
        _devices[name] = created
        _device_by_array_type[created.array_type] = created
    return _devices[name]


def find_device(value):
    """The device holding ``value`` if it is an array of a created device, else None (lists,
    scalars, torch tensors, ... are host data for the caller to convert)."""
    return _device_by_array_type.get(type(value))


def device_of(array):
    """The device holding ``array``; TypeError for anything that is not a device array."""
    try:
        return _device_by_array_type[type(array)]
    except KeyError:
        raise TypeError(f"{type(array).__name__} is not an array of any device "
                        f"(expected one of {[d.name for d in _devices.values()]})") from None


def is_available(name):
    """Whether device ``name`` can be used on this machine."""
    try:
        get_device(name)
    except (RuntimeError, ValueError):
        return False
    return True


def manual_seed(seed):
    """Seed the random generators of every device (present and future)."""
    global _seed
    _seed = int(seed)
    for device in _devices.values():
        device.seed(_seed)


get_device("cpu")
