"""Layers and models: Module, Parameter, and the layers built on them."""
from .module import Module, Parameter  # noqa: F401
from .cells import RNNCell, LSTMCell, GRUCell  # noqa: F401
from .recurrent import RNN, LSTM, GRU, reference_direction  # noqa: F401
from .attention import LuongAttention, BahdanauAttention, masked_softmax  # noqa: F401
from .layers import Linear, Embedding, Dropout, LayerNorm, Tanh, ReLU, Sigmoid, Identity  # noqa: F401
from .containers import Sequential, ModuleList  # noqa: F401
from . import init, utils  # noqa: F401
from .seq2seq import Seq2Seq, Encoder, Decoder  # noqa: F401
from .deep import DeepRNN  # noqa: F401
