"""Recurrent cells: one time step of a tanh/relu RNN, an LSTM (optionally with peepholes) and a GRU.

Each step is a function of the *projected input* ``xw = x W_ihᵀ + b_ih`` (so the sequence
layers can compute the projection of all steps in one matmul) and the previous state, written
in engine ops so that backpropagation through time is recorded on the tape::

    RNN   h' = act(xw + h W_hhᵀ + b_hh)                      act = tanh or relu
    LSTM  i, f, g, o = split(xw + h W_hhᵀ + b_hh)            gate order i, f, g, o
          i = σ(i + w_ci⊙c),  f = σ(f + w_cf⊙c),  g = tanh(g)  (peepholes optional)
          c' = f⊙c + i⊙g,  o = σ(o + w_co⊙c'),  h' = o⊙tanh(c')
    GRU   r, z, n = split(xw),  r', z', n' = split(h W_hhᵀ + b_hh)   gate order r, z, n
          r = σ(r + r'),  z = σ(z + z'),  n = tanh(n + r⊙n'),  h' = (1-z)⊙n + z⊙h
          reset_after=False (mode "gru_reset_before"): the reset gate scales h *before* the
          recurrent product, n = tanh(n + (r⊙h) W_hnᵀ + b_hn)  (Cho et al. 2014, Olah)

The two GRU forms (Keras's ``reset_after``) are different models: the default, True, is
PyTorch's and cuDNN's; False is the form of Cho et al. and of Olah's "Understanding LSTM
Networks", h̃ = tanh(W·[r⊙h, x]). Our z is Cho et al.'s; Olah writes h' = (1-z_O)⊙h + z_O⊙h̃,
so his z_O is our 1 - z (the same model, the gate's meaning flipped: our z keeps the old state,
his takes in the new one) and his W_z, b_z are our -W_z, -b_z (σ(-a) = 1 - σ(a)).

The cell modules below hold PyTorch's parameters (``weight_ih`` (G·H, I), ``weight_hh``
(G·H, H), ``bias_ih``, ``bias_hh`` (G·H,); peepholes ``weight_ci``, ``weight_cf``,
``weight_co`` (H,)), all drawn from U(-1/√H, 1/√H) like PyTorch's.
"""
import math
import numbers

from .. import backend
from ..functional import split
from ..tensor import rand, zeros
from .layers import check_same_kind
from .module import Module, Parameter

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}


def _recurrent(h, weight_hh, bias_hh):
    hw = h @ weight_hh.transpose(0, 1)
    return hw if bias_hh is None else hw + bias_hh


def rnn_tanh_step(xw, h, c, weight_hh, bias_hh, peephole=None):
    return (xw + _recurrent(h, weight_hh, bias_hh)).tanh(), None


def rnn_relu_step(xw, h, c, weight_hh, bias_hh, peephole=None):
    return (xw + _recurrent(h, weight_hh, bias_hh)).relu(), None


def lstm_step(xw, h, c, weight_hh, bias_hh, peephole=None):
    i, f, g, o = split(xw + _recurrent(h, weight_hh, bias_hh), h.shape[-1], axis=-1)
    if peephole is not None:
        weight_ci, weight_cf, weight_co = peephole
        i, f = i + weight_ci * c, f + weight_cf * c
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    if peephole is not None:
        o = o + weight_co * c_new
    return o.sigmoid() * c_new.tanh(), c_new


def gru_step(xw, h, c, weight_hh, bias_hh, peephole=None):
    size = h.shape[-1]
    x_r, x_z, x_n = split(xw, size, axis=-1)
    h_r, h_z, h_n = split(_recurrent(h, weight_hh, bias_hh), size, axis=-1)
    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return n + z * (h - n), None  # = (1-z)⊙n + z⊙h with one op fewer


def gru_reset_before_step(xw, h, c, weight_hh, bias_hh, peephole=None):
    size = h.shape[-1]
    x_r, x_z, x_n = split(xw if bias_hh is None else xw + bias_hh, size, axis=-1)
    h_r, h_z = split(h @ weight_hh[:2 * size].transpose(0, 1), size, axis=-1)
    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    n = (x_n + (r * h) @ weight_hh[2 * size:].transpose(0, 1)).tanh()
    return n + z * (h - n), None


def gru_mode(layer, reset_after):
    """The mode of a GRU: "gru" (``reset_after=True``) or "gru_reset_before" (False)."""
    if not isinstance(reset_after, bool):
        raise ValueError(f"{layer}: reset_after must be True (PyTorch's GRU) or False (Cho et al.'s), "
                         f"got {reset_after!r}")
    return "gru" if reset_after else "gru_reset_before"


STEPS = {"rnn_tanh": rnn_tanh_step, "rnn_relu": rnn_relu_step, "lstm": lstm_step, "gru": gru_step,
         "gru_reset_before": gru_reset_before_step}


PEEPHOLES = ("weight_ci", "weight_cf", "weight_co")


def uniform_parameter(shape, bound, dtype, device):
    """A Parameter drawn from U(-bound, bound) with the device's generator."""
    return Parameter(rand(*shape, dtype=dtype, device=device) * (2 * bound) - bound)


def add_parameters(module, mode, suffix, input_size, hidden_size, bias, peephole, dtype, device):
    """Register one cell's parameters on ``module`` under PyTorch's names plus ``suffix``
    (e.g. "_l1_reverse"), in PyTorch's order, all drawn from U(-1/√H, 1/√H)."""
    bound, rows = 1 / math.sqrt(hidden_size), GATES[mode] * hidden_size
    setattr(module, "weight_ih" + suffix, uniform_parameter((rows, input_size), bound, dtype, device))
    setattr(module, "weight_hh" + suffix, uniform_parameter((rows, hidden_size), bound, dtype, device))
    for name in ("bias_ih", "bias_hh"):
        module.register_parameter(name + suffix, uniform_parameter((rows,), bound, dtype, device) if bias else None)
    for name in PEEPHOLES if peephole else ():
        setattr(module, name + suffix, uniform_parameter((hidden_size,), bound, dtype, device))


def parameters_of(module, suffix, peephole):
    """(weight_ih, weight_hh, bias_ih, bias_hh, peephole tuple or None) registered with ``suffix``."""
    weights = [getattr(module, name + suffix) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return (*weights, tuple(getattr(module, name + suffix) for name in PEEPHOLES) if peephole else None)


def positive_integer(layer, name, value):
    """``value`` as a Python int (NumPy integers accepted); anything else, or ≤ 0, raises."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


def sizes(layer, input_size, hidden_size):
    return positive_integer(layer, "input_size", input_size), positive_integer(layer, "hidden_size", hidden_size)


def rnn_mode(layer, nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{layer}: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
    return "rnn_" + nonlinearity


class _Cell(Module):
    """Parameters and input checks shared by the three cells; ``mode`` selects the step."""

    def __init__(self, mode, input_size, hidden_size, bias, peephole=False, device=None, dtype=None):
        super().__init__()
        input_size, hidden_size = sizes(type(self).__name__, input_size, hidden_size)
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        self.peephole = peephole
        add_parameters(self, mode, "", input_size, hidden_size, bias, peephole, dtype, backend.get_device(device))

    def _check_input(self, x, states):
        name = type(self).__name__
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input of rank 1 (unbatched) or 2 (batch, input_size), "
                             f"got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input_size={self.input_size} features, got {x.shape[-1]} "
                             f"(input shape {x.shape})")
        check_same_kind(name, "input", x, self.weight_ih)
        expected = x.shape[:-1] + (self.hidden_size,)
        for what, state in states:
            if state is None:
                continue
            if state.shape != expected:
                raise ValueError(f"{name}: {what} has shape {state.shape}, expected {expected}")
            check_same_kind(name, what, state, self.weight_ih)

    def _step(self, x, h, c):
        expected = x.shape[:-1] + (self.hidden_size,)
        h = zeros(*expected, dtype=x.dtype, device=x.device) if h is None else h
        if self.mode == "lstm" and c is None:
            c = zeros(*expected, dtype=x.dtype, device=x.device)
        weight_ih, weight_hh, bias_ih, bias_hh, peephole = parameters_of(self, "", self.peephole)
        xw = x @ weight_ih.transpose(0, 1)
        xw = xw if bias_ih is None else xw + bias_ih
        return STEPS[self.mode](xw, h, c, weight_hh, bias_hh, peephole)

    def extra_repr(self):
        extras = "" if self.bias else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{extras}"


class RNNCell(_Cell):
    """Elman cell h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.

    ``cell(x, h=None) -> h'`` with x (N, input_size) or unbatched (input_size,); h defaults to zeros.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(rnn_mode(type(self).__name__, nonlinearity), input_size, hidden_size, bias,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        self._check_input(x, [("h", h)])
        return self._step(x, h, None)[0]

    def extra_repr(self):
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else ", nonlinearity='relu'")


class LSTMCell(_Cell):
    """Long short-term memory cell (gate order i, f, g, o), optionally with peepholes
    (Gers & Schmidhuber 2000): see the module docstring for the equations.

    ``cell(x, (h, c)=None) -> (h', c')``; the states default to zeros.
    """

    def __init__(self, input_size, hidden_size, bias=True, peephole=False, device=None, dtype=None):
        super().__init__("lstm", input_size, hidden_size, bias, peephole, device=device, dtype=dtype)

    def forward(self, x, hx=None):
        h, c = (None, None) if hx is None else hx
        self._check_input(x, [("h", h), ("c", c)])
        return self._step(x, h, c)

    def extra_repr(self):
        return super().extra_repr() + (", peephole=True" if self.peephole else "")


class GRUCell(_Cell):
    """Gated recurrent unit (gate order r, z, n). ``reset_after=True`` (default): PyTorch's
    n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)); False: Cho et al.'s
    n = tanh(W_in x + b_in + W_hn (r⊙h) + b_hn). See the module docstring for Olah's notation.

    ``cell(x, h=None) -> h'``; h defaults to zeros.
    """

    def __init__(self, input_size, hidden_size, bias=True, reset_after=True, device=None, dtype=None):
        super().__init__(gru_mode(type(self).__name__, reset_after), input_size, hidden_size, bias,
                         device=device, dtype=dtype)
        self.reset_after = reset_after

    def forward(self, x, h=None):
        self._check_input(x, [("h", h)])
        return self._step(x, h, None)[0]

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
