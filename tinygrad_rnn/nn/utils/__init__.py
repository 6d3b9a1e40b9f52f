"""Utilities for training (``clip_grad``) and for variable-length sequences (``rnn``), at
PyTorch's ``torch.nn.utils`` paths."""
from .clip_grad import clip_grad_norm_, clip_grad_value_  # noqa: F401
from . import rnn  # noqa: F401
