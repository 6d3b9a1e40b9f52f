"""tinygrad_rnn: a small reverse-mode autodiff engine for recurrent networks, on NumPy or CuPy."""
from .tensor import (Tensor, tensor, zeros, ones, full, empty, zeros_like, ones_like, randn, rand,  # noqa: F401
                     arange, linspace, eye, from_numpy)
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from .autograd import grad, Function  # noqa: F401
from .backend import manual_seed, get_device, is_available  # noqa: F401
from .dtypes import float16, float32, float64, int32, int64, bool_, get_default_dtype, set_default_dtype  # noqa: F401
from . import functional, cuda  # noqa: F401
from .functional import cat, concatenate, stack, where, split, chunk, unbind  # noqa: F401

__version__ = "0.1.0"
from . import nn, optim  # noqa: F401,E402
from . import viz, anomaly, testing  # noqa: F401,E402
from .anomaly import detect_anomaly, AnomalyError  # noqa: F401,E402
from .serialization import save, load, CheckpointError  # noqa: F401,E402
from . import datasets, interop, utils  # noqa: F401,E402
from .utils.data import Generator  # noqa: F401,E402
