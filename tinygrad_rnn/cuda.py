"""``tg.cuda``: what PyTorch users ask of ``torch.cuda`` (the GPU device is CuPy's)."""
from . import backend


def is_available():
    """Whether device "cuda" (CuPy with a usable GPU) can be used on this machine."""
    return backend.is_available("cuda")
