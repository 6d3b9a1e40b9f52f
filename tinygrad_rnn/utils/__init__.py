"""Utilities at PyTorch's ``torch.utils`` paths: ``tinygrad_rnn.utils.data``."""
from . import data  # noqa: F401
