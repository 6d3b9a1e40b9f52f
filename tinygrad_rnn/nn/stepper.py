"""A stacked RNN, LSTM or GRU layer run one time step at a time, outside the graph (sampling).

Calling a layer on a sequence of length 1 costs a whole-sequence call per step: the fused
kernel prepares its weight tiles at each call, the reference path runs about 20 engine ops per
layer. A ``Stepper`` takes the weights once (transposed, contiguous, as they are when it
is made), keeps the state in its own arrays and runs a step as a few array operations written
into arrays it allocated once (``xp.add(a, b, out=a)`` rather than ``a += b``, which the
strict test device would turn into a new array). It computes what the layer computes for a
sequence fed one step at a time (the tests hold the two equal), with the cell equations of
``tinygrad_rnn.nn.cells``:

    stepper = Stepper(lstm, batch=1)     # state zero; stepper.reset(state) sets (h0, c0)
    h = stepper.step(x)                  # x (B, I) array -> the last layer's h (B, H) array
"""
from ..tensor import Tensor
from .cells import parameters_of


class Stepper:
    """One step at a time of ``layer`` (an RNN, LSTM or GRU, one direction) for ``batch``
    rows, on the arrays of the layer's device."""

    def __init__(self, layer, batch=1):
        if layer.num_directions != 1:
            raise ValueError(f"Stepper: {type(layer).__name__} is bidirectional; a step needs one direction")
        self.mode, self.batch = layer.mode, batch
        hidden, reference = layer.hidden_size, layer.weight_ih_l0
        self.xp, dtype = reference.xp, reference.dtype
        self.layers = []
        for index in range(layer.num_layers):
            w_ih, w_hh, b_ih, b_hh, peephole = parameters_of(layer, f"_l{index}", layer.peephole)
            width = w_hh.shape[0]
            self.layers.append(dict(
                w_ih=self.xp.ascontiguousarray(w_ih.data.T), w_hh=self.xp.ascontiguousarray(w_hh.data.T),
                b_ih=self.xp.zeros(width, dtype) if b_ih is None else b_ih.data,
                b_hh=self.xp.zeros(width, dtype) if b_hh is None else b_hh.data,
                peephole=None if peephole is None else [p.data for p in peephole],
                gx=self.xp.empty((batch, width), dtype), gh=self.xp.empty((batch, width), dtype),
                h=self.xp.zeros((batch, hidden), dtype), c=self.xp.zeros((batch, hidden), dtype)))

    def reset(self, state=None):
        """Zero state, or the layer's ``state`` (h0 (L, B, H), or (h0, c0) for an LSTM; Tensors
        or arrays)."""
        states = (state if self.mode == "lstm" else (state,)) if state is not None else ()
        for name, given in zip(("h", "c"), states):
            for index, layer in enumerate(self.layers):
                layer[name][...] = (given.data if isinstance(given, Tensor) else given)[index]
        for name in ("h", "c")[len(states):]:
            for layer in self.layers:
                layer[name][...] = 0

    def state(self):
        """The current state as the layer returns it: h_n (L, B, H), or (h_n, c_n) for an LSTM
        (new arrays)."""
        h = self.xp.stack([layer["h"] for layer in self.layers])
        return (h, self.xp.stack([layer["c"] for layer in self.layers])) if self.mode == "lstm" else h

    def step(self, x):
        """Run one step on ``x`` (B, I); returns the last layer's new h (B, H) (the stepper's
        own array: copy it to keep it past the next step)."""
        for layer in self.layers:
            xp = self.xp
            gx, gh = layer["gx"], layer["gh"]
            xp.matmul(x, layer["w_ih"], out=gx)
            xp.add(gx, layer["b_ih"], out=gx)
            xp.matmul(layer["h"], layer["w_hh"], out=gh)
            xp.add(gh, layer["b_hh"], out=gh)
            _CELLS[self.mode](xp, gx, gh, layer)
            x = layer["h"]
        return x


def _sigmoid(xp, a):
    """σ(a) = (1 + tanh(a / 2)) / 2 in place (no exp to overflow)."""
    xp.multiply(a, 0.5, out=a)
    xp.tanh(a, out=a)
    xp.add(a, 1, out=a)
    xp.multiply(a, 0.5, out=a)


def _rnn(activation):
    def cell(xp, gx, gh, layer):
        h = layer["h"]
        xp.add(gx, gh, out=h)
        activation(xp, h)
    return cell


def _lstm(xp, gx, gh, layer):
    """i, f, g, o = gates; c' = σ(f) c + σ(i) tanh(g); h' = σ(o) tanh(c') (peepholes w_c· c
    added into i and f, w_co c' into o)."""
    h, c, size = layer["h"], layer["c"], layer["h"].shape[1]
    xp.add(gx, gh, out=gx)
    i, f, g, o = (gx[:, k * size:(k + 1) * size] for k in range(4))
    if layer["peephole"] is not None:
        weight_ci, weight_cf, weight_co = layer["peephole"]
        xp.add(i, weight_ci * c, out=i)
        xp.add(f, weight_cf * c, out=f)
    _sigmoid(xp, gx[:, :2 * size])
    xp.tanh(g, out=g)
    xp.multiply(c, f, out=c)
    xp.multiply(i, g, out=i)
    xp.add(c, i, out=c)
    if layer["peephole"] is not None:
        xp.add(o, weight_co * c, out=o)
    _sigmoid(xp, o)
    xp.tanh(c, out=h)
    xp.multiply(h, o, out=h)


def _gru(xp, gx, gh, layer):
    """r, z = σ(x_r + h_r), σ(x_z + h_z); n = tanh(x_n + r h_n); h' = n + z (h - n)."""
    h, size = layer["h"], layer["h"].shape[1]
    rz, n = gx[:, :2 * size], gx[:, 2 * size:]
    xp.add(rz, gh[:, :2 * size], out=rz)
    _sigmoid(xp, rz)
    r, z = rz[:, :size], rz[:, size:]
    xp.multiply(r, gh[:, 2 * size:], out=r)
    xp.add(n, r, out=n)
    xp.tanh(n, out=n)
    xp.subtract(h, n, out=h)
    xp.multiply(h, z, out=h)
    xp.add(h, n, out=h)


def _relu(xp, a):
    xp.maximum(a, 0, out=a)


_CELLS = {"rnn_tanh": _rnn(lambda xp, a: xp.tanh(a, out=a)), "rnn_relu": _rnn(_relu),
          "lstm": _lstm, "gru": _gru}
