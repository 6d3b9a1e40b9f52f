"""Deep RNNs as the lectures draw them: a stack of recurrent layers whose upper layers may also
see the input, and whose output may combine every layer's states.

With y⁰ = x and layer l = 1..L one RNN, LSTM or GRU layer (one or two directions)::

    y^l = layer_l(y^(l-1))                    skip_input=False (what nn.LSTM(num_layers=L) does)
    y^l = layer_l(concat(x, y^(l-1)))         skip_input=True, for l ≥ 2: the lectures'
                                              y² = f(concat(x, y¹))
    out = y^L                                 combine="last"
    out = concat(y¹, ..., y^L)                combine="concat"  (feature axis: L·D·H)
    out = Σ_l softmax(layer_logits)_l · y^l   combine="weighted" (learned weights, equal at
                                              the start: ELMo's scalar mix without its scale)
"""
from ..functional import concatenate, softmax
from ..tensor import zeros
from .containers import ModuleList
from .module import Module, Parameter
from .recurrent import GRU, LSTM, RNN

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
COMBINE = ("last", "concat", "weighted")


class DeepRNN(Module):
    """``DeepRNN(cell, input_size, hidden_size, num_layers, skip_input=False, combine="last",
    bidirectional=False, batch_first=False, **layer_options)``: ``cell`` is "rnn", "lstm" or
    "gru"; ``layer_options`` go to each layer (``impl``, ``dtype``, ``device``, ``bias``,
    ``nonlinearity``, ``peephole``, ``reset_after``). Layer l is ``self.layers[l]``, a one-layer
    nn.RNN/LSTM/GRU with input size I (l = 0), D·H, or I + D·H with ``skip_input``.

    ``out, states = deep(x, hx=None, lengths=None)``: ``x`` and ``lengths`` as for nn.LSTM;
    ``hx`` None or one initial state per layer (that layer's h0, or (h0, c0) for an LSTM);
    ``states`` the final state of each layer, as that layer returns it. ``out`` is
    (L, N, D·H), or (L, N, num_layers·D·H) with ``combine="concat"`` (batch first if asked).
    """

    def __init__(self, cell, input_size, hidden_size, num_layers, skip_input=False, combine="last",
                 bidirectional=False, batch_first=False, **layer_options):
        super().__init__()
        if cell not in LAYERS:
            raise ValueError(f"DeepRNN: cell must be one of {tuple(LAYERS)}, got {cell!r}")
        if combine not in COMBINE:
            raise ValueError(f"DeepRNN: combine must be one of {COMBINE}, got {combine!r}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"DeepRNN: num_layers must be a positive integer, got {num_layers!r}")
        self.cell, self.input_size, self.hidden_size, self.num_layers = cell, input_size, hidden_size, num_layers
        self.skip_input, self.combine, self.batch_first = skip_input, combine, batch_first
        below = (2 if bidirectional else 1) * hidden_size
        self.layers = ModuleList(
            LAYERS[cell](input_size if l == 0 else below + (input_size if skip_input else 0), hidden_size,
                         bidirectional=bidirectional, batch_first=batch_first, **layer_options)
            for l in range(num_layers))
        if combine == "weighted":
            first = self.layers[0].weight_ih_l0
            self.layer_logits = Parameter(zeros(num_layers, dtype=first.dtype, device=first.device))

    def forward(self, x, hx=None, lengths=None):
        if hx is not None and len(hx) != self.num_layers:
            raise ValueError(f"DeepRNN: hx must hold one initial state per layer ({self.num_layers}), "
                             f"got {len(hx)}")
        outputs, states, layer_input = [], [], x
        for l, layer in enumerate(self.layers):
            if l > 0:
                layer_input = concatenate([x, outputs[-1]], axis=-1) if self.skip_input else outputs[-1]
            out, state = layer(layer_input, None if hx is None else hx[l], lengths=lengths)
            outputs.append(out)
            states.append(state)
        if self.combine == "concat":
            return concatenate(outputs, axis=-1), states
        if self.combine == "weighted":
            weights = softmax(self.layer_logits, axis=0)
            return sum(weights[l] * out for l, out in enumerate(outputs)), states
        return outputs[-1], states

    def extra_repr(self):
        return (f"{self.cell!r}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"skip_input={self.skip_input}, combine={self.combine!r}")
