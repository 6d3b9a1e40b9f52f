"""Sequence to sequence with attention (Luong et al. 2015): encoder, decoder, teacher forcing,
greedy decoding and beam search.

Token ids are integer arrays (N, T), padded with ``pad_id``; the target vocabulary also
holds ``bos_id`` (fed to the decoder first, never generated) and ``eos_id`` (ends a
sequence). The model, step by step (t = 1…Tt)::

    h̄₁…h̄_Ts, state₀ = Encoder(src)                         (lengths-aware, uni- or bidirectional)
    xₜ  = [emb(yₜ₋₁); ãₜ₋₁]  with input feeding, else emb(yₜ₋₁)     y₀ = BOS, ã₀ = 0
    hₜ  = RNN(xₜ, hₜ₋₁)                                        (LSTM or GRU, state₀ from the encoder)
    cₜ, αₜ, ãₜ = LuongAttention(hₜ, h̄, mask)               ãₜ = tanh(W_c [cₜ; hₜ])
    p(yₜ | y<ₜ, src) = softmax(W_s ãₜ + b_s)
"""
from typing import NamedTuple

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..functional import cross_entropy, dropout as apply_dropout, log_softmax
from ..ops.movement import concatenate, stack
from ..tensor import Tensor, zeros
from .attention import LuongAttention
from .layers import Embedding, Linear
from .module import Module
from .recurrent import GRU, LSTM, host_lengths

CELLS = {"lstm": LSTM, "gru": GRU}


def _check_cell(layer, cell):
    if cell not in CELLS:
        raise ValueError(f"{layer}: cell must be one of {tuple(CELLS)}, got {cell!r}")
    return CELLS[cell]


def _map_state(state, function):
    """Apply ``function`` to h (GRU) or to both h and c (LSTM)."""
    return tuple(function(s) for s in state) if isinstance(state, tuple) else function(state)


class Memory(NamedTuple):
    """What the decoder attends to: the encoder outputs and which of them are real tokens."""
    keys: Tensor   # h̄: (N, Ts, H)
    mask: object   # (N, Ts) bool backend array, True = a token (not padding)

    def select(self, index):
        """The rows ``index`` (an integer backend array) of the batch: beams, reordering."""
        return Memory(self.keys[index], self.mask[index])


class DecoderState(NamedTuple):
    """The decoder's recurrent state between steps."""
    rnn: object          # h (L, N, H) for a GRU, (h, c) for an LSTM
    feed: Tensor = None  # ãₜ₋₁ (N, H) with input feeding, else None

    def select(self, index):
        return DecoderState(_map_state(self.rnn, lambda s: s[:, index]),
                            None if self.feed is None else self.feed[index])


class Encoder(Module):
    """Embedding followed by a stacked LSTM or GRU over padded source ids.

    ``forward(src (N, Ts) ints, lengths (N,) ints) -> (memory (N, Ts, hidden_size), state)``,
    where state is the final (h, c) or h, shaped (num_layers, N, hidden_size). A
    bidirectional encoder gives each direction hidden_size // 2 units and concatenates the two
    directions' outputs and final states (OpenNMT's convention), so a decoder of hidden_size
    units can start from the state and attend to the outputs either way. Padded steps
    (t ≥ length) output zeros and do not touch the state.
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, num_layers=1, cell="lstm",
                 bidirectional=False, dropout=0.0, padding_idx=0, device=None, dtype=None):
        super().__init__()
        rnn = _check_cell("Encoder", cell)
        if bidirectional and hidden_size % 2:
            raise ValueError(f"Encoder: a bidirectional encoder needs an even hidden_size (two halves), "
                             f"got {hidden_size}")
        self.bidirectional, self.hidden_size = bidirectional, hidden_size
        self.embedding = Embedding(vocab_size, embedding_size, padding_idx, device=device, dtype=dtype)
        self.rnn = rnn(embedding_size, hidden_size // 2 if bidirectional else hidden_size, num_layers,
                       batch_first=True, dropout=dropout, bidirectional=bidirectional, device=device, dtype=dtype)

    def forward(self, src, lengths):
        outputs, state = self.rnn(self.embedding(src), lengths=lengths)
        return outputs, _map_state(state, self._join_directions) if self.bidirectional else state

    def _join_directions(self, state):
        """(2·L, N, H/2), layer by layer with forward before reverse -> (L, N, H)."""
        layers2, batch, half = state.shape
        return state.reshape(layers2 // 2, 2, batch, half).permute(0, 2, 1, 3).reshape(layers2 // 2, batch, 2 * half)


class Decoder(Module):
    """Embedding, a stacked LSTM or GRU and Luong attention over the encoder's memory, with
    optional input feeding of the attentional state ãₜ₋₁ (see the module docstring).

    ``step(tokens (N,), state, memory) -> (logits (N, V), state, weights (N, Ts))`` runs one
    step; ``forward(inputs (N, T), state, memory, teacher_forcing=1.0)`` runs T steps and
    returns ``(logits (N, T, V), weights (N, T, Ts))``.
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, num_layers=1, cell="lstm",
                 attention="general", input_feeding=True, dropout=0.0, padding_idx=0, device=None, dtype=None):
        super().__init__()
        rnn = _check_cell("Decoder", cell)
        self.hidden_size, self.input_feeding, self.dropout = hidden_size, input_feeding, float(dropout)
        self.embedding = Embedding(vocab_size, embedding_size, padding_idx, device=device, dtype=dtype)
        self.rnn = rnn(embedding_size + (hidden_size if input_feeding else 0), hidden_size, num_layers,
                       batch_first=True, dropout=dropout, device=device, dtype=dtype)
        self.attention = LuongAttention(hidden_size, attention, device=device, dtype=dtype)
        self.output = Linear(hidden_size, vocab_size, device=device, dtype=dtype)

    def initial_state(self, encoder_state, batch):
        """Start from the encoder's final state (and ã₀ = 0 with input feeding)."""
        weight = self.output.weight
        feed = zeros(batch, self.hidden_size, dtype=weight.dtype, device=weight.device) if self.input_feeding else None
        return DecoderState(encoder_state, feed)

    def _attend(self, hidden, state_rnn, memory):
        """Attention and the output layer on decoder outputs (N, H) or (N, T, H)."""
        attention = self.attention(hidden, memory.keys, mask=memory.mask)
        logits = self.output(apply_dropout(attention.attentional, self.dropout, self.training))
        feed = attention.attentional if self.input_feeding else None
        return logits, DecoderState(state_rnn, feed), attention.weights

    def step(self, tokens, state, memory):
        x = self.embedding(tokens)
        if self.input_feeding:
            x = concatenate([x, state.feed], axis=-1)
        out, state_rnn = self.rnn(x.unsqueeze(1), state.rnn)
        return self._attend(out.squeeze(1), state_rnn, memory)

    def forward(self, inputs, state, memory, teacher_forcing=1.0, choose=None):
        """Teacher forcing: the input at step t > 0 is ``inputs[:, t]`` with probability
        ``teacher_forcing`` (per sequence and step), else the model's own prediction
        ``choose(logits of step t-1)`` (a backend int array (N,); default: the argmax)."""
        if teacher_forcing == 1.0 and not self.input_feeding:  # no step depends on another's output
            out, state_rnn = self.rnn(self.embedding(inputs), state.rnn)
            logits, _, weights = self._attend(out, state_rnn, memory)
            return logits, weights
        inputs = inputs.data if isinstance(inputs, Tensor) else inputs
        device = backend.device_of(inputs)
        logits, weights, tokens = [], [], inputs[:, 0]
        choose = choose or (lambda step_logits: step_logits.data.argmax(axis=-1))
        for t in range(inputs.shape[1]):
            if t > 0 and teacher_forcing < 1:
                forced = device.uniform((inputs.shape[0],), np.float64) < teacher_forcing
                tokens = device.xp.where(forced, inputs[:, t], choose(logits[-1]).astype(inputs.dtype))
            elif t > 0:
                tokens = inputs[:, t]
            step_logits, state, step_weights = self.step(tokens, state, memory)
            logits.append(step_logits)
            weights.append(step_weights)
        return stack(logits, axis=1), stack(weights, axis=1)


class Generation(NamedTuple):
    """What ``Seq2Seq.generate`` returns (all outside the graph)."""
    tokens: Tensor   # (N, L) ints: the output without BOS, ending with EOS, then pad_id
    lengths: Tensor  # (N,) ints: tokens up to and including EOS (L' ≤ max_len if no EOS)
    scores: Tensor   # (N,) log p(tokens | src) / lengthᵅ, α = length_penalty
    weights: Tensor  # (N, L, Ts): the attention of each output token (zero after EOS)


class Seq2Seq(Module):
    """Encoder–decoder with Luong attention (see the module docstring for the equations).

    ``Seq2Seq(src_vocab_size, tgt_vocab_size, embedding_size=32, hidden_size=64,
    num_layers=1, cell="lstm", bidirectional=True, attention="general", input_feeding=True,
    dropout=0.0, pad_id=0, bos_id=1, eos_id=2)``

    * ``forward(src, src_lengths, tgt, teacher_forcing=1.0) -> logits (N, Tt, V)``: ``tgt``
      (N, Tt) is the output without BOS (y₁…yₙ EOS, padded); ``logits[:, t]`` predicts
      ``tgt[:, t]``. ``loss(logits, tgt)`` is the cross-entropy ignoring padding.
    * ``generate(src, src_lengths, max_len, beam_size=1, length_penalty=1.0)``: greedy
      decoding (``beam_size=1``) or beam search; see ``generate``.

    ``src`` and ``tgt`` are integer arrays or Tensors; ``src_lengths`` (N,) integers in
    [1, Ts]. ``attention`` is a Luong score ("dot", "general" or "concat"; "concat" is the
    additive score v_aᵀ tanh(W_1 hₜ + W_2 h̄ₛ) of Bahdanau et al. applied to the current
    state, in Luong's decoder; Bahdanau's decoder, which attends with the previous state and
    feeds the context into the RNN, is not provided). ``teacher_forcing=1.0`` without input
    feeding runs the decoder RNN over the whole target in one call.
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, embedding_size=32, hidden_size=64, num_layers=1,
                 cell="lstm", bidirectional=True, attention="general", input_feeding=True, dropout=0.0,
                 pad_id=0, bos_id=1, eos_id=2, device=None, dtype=None):
        super().__init__()
        for name, value in (("pad_id", pad_id), ("bos_id", bos_id), ("eos_id", eos_id)):
            if not 0 <= value < tgt_vocab_size:
                raise ValueError(f"Seq2Seq: {name}={value} is outside the target vocabulary [0, {tgt_vocab_size})")
        if len({pad_id, bos_id, eos_id}) != 3:
            raise ValueError(f"Seq2Seq: pad_id, bos_id and eos_id must differ, got {pad_id}, {bos_id}, {eos_id}")
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.encoder = Encoder(src_vocab_size, embedding_size, hidden_size, num_layers, cell, bidirectional,
                               dropout, pad_id, device, dtype)
        self.decoder = Decoder(tgt_vocab_size, embedding_size, hidden_size, num_layers, cell, attention,
                               input_feeding, dropout, pad_id, device, dtype)

    @property
    def device(self):
        return self.decoder.output.weight.device

    # ----- checks ---------------------------------------------------------------------------
    def _backend_ids(self, values):
        """Token ids as a backend array: host data (NumPy, lists) placed on the model's device, a
        Tensor's data or another device's array as they are, so that ``_ids`` reports a device
        mismatch instead of NumPy failing to convert a GPU array."""
        if isinstance(values, Tensor):
            return values.data
        if isinstance(values, np.ndarray) or backend.find_device(values) is None:
            return self.device.asarray(np.asarray(values))
        return values

    def _ids(self, op, name, ids, vocab_size):
        """Token ids (N, T) as an integer array on the model's device, all inside the vocabulary."""
        data = self._backend_ids(ids)
        if type(data) is not self.device.array_type:
            raise RuntimeError(f"Seq2Seq.{op}: {name} is on device '{backend.device_of(data).name}' "
                               f"but the model is on '{self.device.name}'")
        if data.dtype.kind not in "iu" or data.ndim != 2 or 0 in data.shape:
            raise ValueError(f"Seq2Seq.{op}: {name} must be a non-empty (N, T) array of integer token ids, "
                             f"got {data.dtype} of shape {tuple(data.shape)}")
        low, high = int(data.min()), int(data.max())
        if low < 0 or high >= vocab_size:
            bad = low if low < 0 else high
            raise ValueError(f"Seq2Seq.{op}: {name} holds token id {bad}, outside the vocabulary [0, {vocab_size})")
        return data

    def _lengths(self, op, lengths, src):
        host = host_lengths(lengths)
        batch, steps = src.shape
        if host.shape != (batch,) or host.dtype.kind not in "iu":
            raise ValueError(f"Seq2Seq.{op}: src_lengths must be ({batch},) integers for src of shape "
                             f"{tuple(src.shape)}, got {host.dtype} of shape {host.shape}")
        if host.min() < 1 or host.max() > steps:
            raise ValueError(f"Seq2Seq.{op}: src_lengths must lie in [1, {steps}] (the src length), "
                             f"got {host.tolist()}")
        return host

    # ----- model ----------------------------------------------------------------------------
    def encode(self, src, src_lengths, op="encode"):
        """The memory and the decoder's initial state for a batch of source sequences."""
        src = self._ids(op, "src", src, self.src_vocab_size)
        lengths = self._lengths(op, src_lengths, src)
        keys, encoder_state = self.encoder(Tensor._from_op(src, None), lengths)
        mask = self.device.asarray(np.arange(src.shape[1])[None, :] < lengths[:, None])
        return Memory(keys, mask), self.decoder.initial_state(encoder_state, src.shape[0])

    def forward(self, src, src_lengths, tgt, teacher_forcing=1.0):
        if not 0 <= teacher_forcing <= 1:
            raise ValueError(f"Seq2Seq.forward: teacher_forcing is a probability in [0, 1], got {teacher_forcing}")
        memory, state = self.encode(src, src_lengths, "forward")
        tgt = self._ids("forward", "tgt", tgt, self.tgt_vocab_size)
        if tgt.shape[0] != memory.keys.shape[0]:
            raise ValueError(f"Seq2Seq.forward: batch sizes differ: src has {memory.keys.shape[0]} sequences, "
                             f"tgt {tuple(tgt.shape)} has {tgt.shape[0]}")
        bos = self.device.xp.full((tgt.shape[0], 1), self.bos_id, dtype=tgt.dtype)
        inputs = self.device.xp.concatenate([bos, tgt[:, :-1]], axis=1)  # y₀ = BOS, y₁ … yₙ₋₁
        logits, _ = self.decoder(inputs, state, memory, teacher_forcing, self._greedy_choice)
        return logits

    def loss(self, logits, tgt):
        """Mean cross-entropy of ``logits`` (N, Tt, V) against ``tgt`` (N, Tt) over non-pad tokens."""
        tgt = self._backend_ids(tgt)
        return cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=self.pad_id)

    # ----- decoding ---------------------------------------------------------------------------
    def _next_log_probs(self, logits, finished):
        """log p(next token) (B, V) as a backend array: BOS and padding are never generated, and
        a finished sequence continues only with padding, at no cost (its score stays fixed)."""
        xp = self.device.xp
        log_probs = log_softmax(logits, axis=-1).data
        log_probs[:, [self.bos_id, self.pad_id]] = -xp.inf
        after_end = xp.full(log_probs.shape[1], -xp.inf, dtype=log_probs.dtype)
        after_end[self.pad_id] = 0
        return xp.where(finished[:, None], after_end[None, :], log_probs)

    def _greedy_choice(self, logits):
        """The most probable token that may be generated (what greedy decoding picks)."""
        return self._next_log_probs(logits, self.device.xp.zeros(logits.shape[0], dtype=bool)).argmax(axis=-1)

    def generate(self, src, src_lengths, max_len, beam_size=1, length_penalty=1.0):
        """Decode a batch: greedy with ``beam_size=1``, else beam search, batched over sequences.

        Beam search keeps the ``beam_size`` prefixes of highest log-probability; a prefix that
        emits EOS stays in the beam with its score frozen (it continues with padding at no
        cost). At the end (every beam finished, or ``max_len`` tokens) each sequence's result
        is the hypothesis maximising the length-normalised score log p / lengthᵅ, with length
        counting EOS and α = ``length_penalty`` (0: raw log-probability). Greedy decoding is
        the same search with one hypothesis, written out plainly. Returns a ``Generation``.
        """
        if isinstance(beam_size, bool) or not isinstance(beam_size, (int, np.integer)) or beam_size < 1:
            raise ValueError(f"Seq2Seq.generate: beam_size must be a positive integer, got {beam_size!r}")
        if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
            raise ValueError(f"Seq2Seq.generate: max_len must be a positive integer, got {max_len!r}")
        with no_grad():
            memory, state = self.encode(src, src_lengths, "generate")
            search = self._greedy if beam_size == 1 else self._beam_search
            return search(memory, state, max_len, beam_size, length_penalty)

    def _greedy(self, memory, state, max_len, beam_size, length_penalty):
        xp = self.device.xp
        batch = memory.keys.shape[0]
        tokens = xp.full(batch, self.bos_id, dtype=np.int64)
        finished = xp.zeros(batch, dtype=bool)
        scores, lengths = xp.zeros(batch), xp.zeros(batch, dtype=np.int64)
        outputs, weights = [], []
        for _ in range(max_len):
            logits, state, step_weights = self.decoder.step(tokens, state, memory)
            log_probs = self._next_log_probs(logits, finished)
            tokens = log_probs.argmax(axis=-1)
            scores = scores + xp.take_along_axis(log_probs, tokens[:, None], axis=1)[:, 0]
            lengths = lengths + ~finished
            outputs.append(tokens)
            weights.append(xp.where(finished[:, None], 0, step_weights.data))
            finished = finished | (tokens == self.eos_id)
            if bool(finished.all()):
                break
        return self._generation(xp.stack(outputs, 1), lengths, scores, xp.stack(weights, 1), length_penalty)

    def _beam_search(self, memory, state, max_len, beam_size, length_penalty):
        xp = self.device.xp
        batch, beams = memory.keys.shape[0], beam_size
        rows = xp.repeat(xp.arange(batch), beams)  # row n·B + b is beam b of sequence n
        memory, state = memory.select(rows), state.select(rows)
        scores = xp.full((batch, beams), -xp.inf)
        scores[:, 0] = 0  # one live hypothesis (BOS) per sequence at first
        tokens = xp.full(batch * beams, self.bos_id, dtype=np.int64)
        finished = xp.zeros(batch * beams, dtype=bool)
        lengths = xp.zeros(batch * beams, dtype=np.int64)
        history = []  # per step: (origin row of each beam, its new token, its attention)
        for _ in range(max_len):
            logits, state, step_weights = self.decoder.step(tokens, state, memory)
            log_probs = self._next_log_probs(logits, finished)
            vocab = log_probs.shape[1]
            candidates = (scores.reshape(-1, 1) + log_probs).reshape(batch, beams * vocab)
            best = xp.argsort(-candidates, axis=1, kind="stable")[:, :beams]
            scores = xp.take_along_axis(candidates, best, axis=1)
            origin = (xp.arange(batch)[:, None] * beams + best // vocab).reshape(-1)
            tokens = (best % vocab).reshape(-1)
            state, lengths = state.select(origin), lengths[origin] + ~finished[origin]
            history.append((origin, tokens, xp.where(finished[origin][:, None], 0, step_weights.data[origin])))
            finished = finished[origin] | (tokens == self.eos_id)
            if bool(finished.all()):
                break
        normalised = scores / lengths.reshape(batch, beams) ** length_penalty
        best_rows = xp.arange(batch) * beams + normalised.argmax(axis=1)
        chosen, chosen_weights, row = [], [], best_rows
        for origin, step_tokens, step_weights in reversed(history):  # follow the back-pointers
            chosen.append(step_tokens[row])
            chosen_weights.append(step_weights[row])
            row = origin[row]
        return self._generation(xp.stack(chosen[::-1], 1), lengths[best_rows], scores.reshape(-1)[best_rows],
                                xp.stack(chosen_weights[::-1], 1), length_penalty)

    def _generation(self, tokens, lengths, scores, weights, length_penalty):
        """Normalise the scores and cut the steps after the longest result (all padding)."""
        longest = int(lengths.max())
        normalised = scores / lengths ** length_penalty
        arrays = (tokens[:, :longest], lengths, normalised, weights[:, :longest])
        return Generation(*(Tensor._from_op(a, None) for a in arrays))
