"""``tinygrad_rnn.nn.functional`` is ``tinygrad_rnn.functional`` under PyTorch's path, so that
``import tinygrad_rnn.nn.functional as F`` works as ``import torch.nn.functional as F`` does."""
import sys

from .. import functional

sys.modules[__name__] = functional
