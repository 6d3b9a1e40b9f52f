"""A character-level language model trained with truncated backpropagation through time.

Model: characters c_t → embedding e_t → stacked LSTM/GRU/RNN → logits z_t = W h_t + b over the
vocabulary, trained to minimise the cross-entropy of the next character,
L = -(1/T) Σ_t log softmax(z_t)[c_{t+1}] (in nats); bits per character = L / ln 2.

Truncated BPTT (Williams & Peng 1990): the corpus is cut into ``batch_size`` contiguous
streams read side by side, ``seq_len`` characters at a time. The recurrent state is carried
from one chunk to the next (so the model sees unbroken text) but detached, so gradients flow
back at most ``seq_len`` steps. Gradients are clipped to a global norm (Pascanu et al. 2013).
"""
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .. import nn, optim, safetensors_io
from ..autograd import no_grad
from ..backend import manual_seed
from ..datasets import Vocab
from ..nn.fused_loss import linear_cross_entropy
from ..nn.stepper import Stepper
from ..serialization import save
from ..tensor import Tensor
from .charlm_run import (CHECKPOINT_NAME, CharLMError, RunState, checkpoint_state,
                         prepare_out_dir, read_checkpoint, restore, resumable, saved_config)
from .interrupt import StopRequest
from .plotting import pyplot_or_none, save_and_show
from .ranges import Range, above, at_least

LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def _option(default, help, values=None, choices=None, metavar=None):
    """A setting with its command-line help and its allowed ``values`` (a Range) or ``choices``."""
    return field(default=default, metadata={"help": help, "range": values, "choices": choices,
                                            "metavar": metavar})


@dataclass
class CharLMConfig:
    """Model and training settings. Each is the ``train-charlm`` option of the same name
    (``seq_len`` is ``--seq-len``), with its help, and its range or choices checked here and by
    the command line's parser alike."""

    text: str | None = _option(None, "UTF-8 text file to learn (default: Python's reference docs, pydoc_data)",
                               metavar="FILE")
    cell: str = _option("lstm", "recurrent layer", choices=sorted(LAYERS))
    hidden: int = _option(256, "hidden units per layer", at_least(1))
    layers: int = _option(2, "stacked recurrent layers", at_least(1))
    embedding: int = _option(64, "character embedding size", at_least(1))
    dropout: float = _option(0.0, "dropout between stacked layers", Range(float, 0, 1, open_high=True))
    seq_len: int = _option(100, "truncated-BPTT chunk length in characters", at_least(1))
    batch_size: int = _option(16, "parallel text streams", at_least(1))
    steps: int = _option(1000, "optimizer steps in all (at most)", at_least(1))
    time_budget: float = _option(240.0, "stop training after this many seconds", above(0))
    lr: float = _option(3e-3, "Adam learning rate", above(0))
    clip: float = _option(5.0, "global gradient-norm clip", above(0))
    sample_every: int = _option(100, "print a sample every this many steps", at_least(1))
    sample_length: int = _option(200, "characters per sample", at_least(0))
    sample_temperature: float = _option(0.8, "temperature of the samples", above(0))
    valid_fraction: float = _option(0.05, "fraction of the text held out (its end)",
                                    Range(float, 0, 1, open_low=True, open_high=True))
    valid_chars: int = _option(20_000, "held-out characters scored at the end", at_least(1))
    checkpoint_every: int = _option(100, "write the checkpoint every this many steps", at_least(1))
    seed: int = _option(0, "random seed", at_least(0))
    device: str = _option("cpu", "where to train", choices=["cpu", "cuda"])

    def __post_init__(self):
        for setting in fields(self):
            value = getattr(self, setting.name)
            values, choices = setting.metadata.get("range"), setting.metadata.get("choices")
            if values is not None:
                values.check(f"CharLMConfig: {setting.name}", value)
            if choices is not None and value not in choices:
                raise ValueError(f"CharLMConfig: {setting.name} must be one of {choices}, got {value!r}")


class CharLM(nn.Module):
    """ids (L, N) → logits (L, N, V) and the final recurrent state (PyTorch's layout)."""

    def __init__(self, vocab_size, hidden=256, layers=2, cell="lstm", embedding=64, dropout=0.0, device=None):
        super().__init__()
        if cell not in LAYERS:
            raise ValueError(f"CharLM: cell must be one of {sorted(LAYERS)}, got {cell!r}")
        self.embedding = nn.Embedding(vocab_size, embedding, device=device)
        self.rnn = LAYERS[cell](embedding, hidden, layers, dropout=dropout, device=device)
        self.head = nn.Linear(hidden, vocab_size, device=device)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embedding(ids), state)
        steps, batch, hidden = out.shape
        return self.head(out.reshape(steps * batch, hidden)).reshape(steps, batch, -1), state

    def loss(self, ids, targets, state=None):
        """(mean cross-entropy of the next characters ``targets`` (L, N), final state): the head
        and the loss as one node (nn.fused_loss), the same number as from the logits."""
        out, state = self.rnn(self.embedding(ids), state)
        hidden = out.reshape(-1, out.shape[-1])
        return linear_cross_entropy(hidden, self.head.weight, self.head.bias, targets.reshape(-1)), state


def detach_state(state):
    """Cut the graph behind the carried state (the 'truncated' in truncated BPTT)."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def _side_by_side(ids, batch_size, length):
    """The first ``batch_size·length`` ids cut into ``batch_size`` contiguous streams, time-major
    (length, batch_size), and the same streams shifted by one (the next-character targets)."""
    inputs = ids[:batch_size * length].reshape(batch_size, length).T
    targets = ids[1:batch_size * length + 1].reshape(batch_size, length).T
    return inputs, targets


class TextStreams:
    """``batch_size`` contiguous streams of ``ids`` read side by side, ``seq_len`` ids at a time.

    The chunk of step k (counted from 0) depends on k alone, so a resumed run reads on from where
    its checkpoint stopped; ``restart`` is True when the streams wrap around to their start (the
    carried state must then be reset)."""

    def __init__(self, ids, batch_size, seq_len):
        at_least(1).check("TextStreams: batch_size", batch_size)
        at_least(1).check("TextStreams: seq_len", seq_len)
        length = (len(ids) - 1) // batch_size
        if length < seq_len + 1:
            raise CharLMError(f"train-charlm: the training text ({len(ids)} characters) is too short for "
                              f"{batch_size} streams of seq_len {seq_len}")
        self.inputs, self.targets = _side_by_side(ids, batch_size, length)
        self.seq_len = seq_len
        self.chunks = (length - seq_len) // seq_len + 1  # whole chunks per pass

    def chunk(self, step):
        """(inputs, targets, restart) of step ``step``: (seq_len, batch_size) arrays."""
        start = step % self.chunks * self.seq_len
        return self.inputs[start:start + self.seq_len], self.targets[start:start + self.seq_len], start == 0


def _chunk_loss(model, inputs, targets, state, device):
    return model.loss(Tensor(inputs, device=device), targets, state)


def evaluate_bpc(model, ids, seq_len=100, batch_size=16, device="cpu"):
    """Bits per character of ``ids`` (the next-character loss over all of it, state carried)."""
    at_least(1).check("evaluate_bpc: seq_len", seq_len)
    at_least(1).check("evaluate_bpc: batch_size", batch_size)
    if len(ids) < 2:
        raise ValueError(f"evaluate_bpc: need at least 2 ids (one prediction), got {len(ids)}")
    model.eval()
    length = (len(ids) - 1) // batch_size
    batch_size, length = (1, len(ids) - 1) if length < 1 else (batch_size, length)
    inputs, targets = _side_by_side(ids, batch_size, length)
    total, state = 0.0, None
    with no_grad():
        for start in range(0, length, seq_len):
            loss, state = _chunk_loss(model, inputs[start:start + seq_len], targets[start:start + seq_len],
                                      state, device)
            total += loss.item() * inputs[start:start + seq_len].size
    model.train()
    return total / (batch_size * length) / math.log(2)


def sample(model, vocab, prime="The ", length=200, temperature=1.0, seed=0, device="cpu", state=None):
    """``prime`` followed by ``length`` characters drawn from softmax(z / temperature), one
    step of the recurrent layer at a time on its prepared weights (nn.stepper), from the
    recurrent ``state`` (as the layer takes it, batch 1; None: zero) before the prime."""
    above(0).check("sample: temperature", temperature)
    at_least(0).check("sample: length", length)
    if not prime:
        raise CharLMError("sample: prime must contain at least one character")
    unknown = sorted(set(prime) - set(vocab.itos))
    if unknown:
        raise CharLMError(f"sample: the prime has characters {unknown} that are not in the model's vocabulary")
    rng = np.random.default_rng(seed)
    stepper = Stepper(model.rnn)
    stepper.reset(state)
    table, weight, bias = (p.data for p in (model.embedding.weight, model.head.weight, model.head.bias))
    to_numpy = model.head.weight.device.to_numpy
    out = list(prime)
    for index in vocab.encode(prime):
        h = stepper.step(table[index:index + 1])
    for _ in range(length):
        z = to_numpy(h @ weight.T + bias)[0].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        index = rng.choice(len(p), p=p / p.sum())
        out.append(vocab.itos[index])
        h = stepper.step(table[index:index + 1])
    return "".join(out)


def beam_search(model, vocab, prime="The ", length=200, beam=4):
    """``(text, log2 p)``: ``prime`` continued by the ``length`` characters that beam search
    finds most probable, and their log-probability in bits. At each step the ``beam`` best
    prefixes so far (by total log-probability) are extended by every character and the ``beam``
    best extensions kept; ``beam=1`` is greedy decoding (the most probable next character)."""
    at_least(1).check("sample: beam", beam)
    at_least(0).check("sample: length", length)
    if not prime or set(prime) - set(vocab.itos):
        raise CharLMError("sample: the prime must be non-empty and use only the model's characters")
    stepper = Stepper(model.rnn, batch=beam)
    table, weight, bias = (p.data for p in (model.embedding.weight, model.head.weight, model.head.bias))
    to_numpy, xp = model.head.weight.device.to_numpy, model.head.weight.xp
    for index in vocab.encode(prime):
        h = stepper.step(table[[index] * beam])
    scores = np.full(beam, -np.inf)
    scores[0] = 0.0   # the rows start equal: only one may extend, or the beam holds copies
    chosen = np.zeros((beam, 0), dtype=np.int64)
    for _ in range(length):
        z = to_numpy(h @ weight.T + bias).astype(np.float64)
        log_p = z - z.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        total = (scores[:, None] + log_p).ravel()
        best = np.argsort(-total, kind="stable")[:beam]
        rows, characters = np.divmod(best, log_p.shape[1])
        scores, chosen = total[best], np.concatenate([chosen[rows], characters[:, None]], axis=1)
        state = stepper.state()
        stepper.reset(tuple(s[:, xp.asarray(rows)] for s in state) if isinstance(state, tuple)
                      else state[:, xp.asarray(rows)])
        h = stepper.step(table[xp.asarray(characters)])
    return prime + "".join(vocab.itos[i] for i in chosen[0]), float(scores[0] / np.log(2))


class _Progress:
    """A tqdm bar when tqdm is installed, else a plain line every 10% of the steps; ``done`` steps
    were done before (by the run being resumed)."""

    def __init__(self, total, log, done=0):
        self.log, self.total, self.step = log, total, done
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=done, unit="step", dynamic_ncols=True)
        except ImportError:
            self.bar = None

    def update(self, **values):
        self.step += 1
        text = " ".join(f"{k}={v:.3f}" for k, v in values.items())
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        elif self.step % max(self.total // 10, 1) == 0 or self.step == self.total:
            self.log(f"step {self.step}/{self.total} {text}")

    def write(self, text):
        (self.bar.write if self.bar is not None else self.log)(text)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def train(text, config, out_dir=None, log=print, resume=None, overwrite=False):
    """Train a ``CharLM`` on ``text``; returns ``(model, vocab, results)``.

    With ``out_dir`` it writes ``charlm.npz`` there (the checkpoint: every
    ``config.checkpoint_every`` steps, atomically, and at the end), then ``loss.png`` and
    ``samples.txt``; a folder that already holds a run is refused unless ``overwrite`` or it is the
    run being resumed, and an unwritable one before the first step. ``resume`` (a run folder or its
    checkpoint) continues that run exactly (see ``.charlm_run``). The first Ctrl-C stops after
    the current step, writes everything and returns with ``results["interrupted"]`` True; a second
    one aborts at once.
    """
    vocab = Vocab(sorted(set(text)), specials=())
    ids = vocab.encode(text)
    split = int(len(ids) * (1 - config.valid_fraction))
    train_ids, valid_ids = ids[:split], ids[split:split + config.valid_chars]
    if len(valid_ids) < 2:
        raise CharLMError(f"train-charlm: the held-out part of the text has {len(valid_ids)} characters; "
                          "need at least 2 (a longer text or a larger valid_fraction)")
    streams = TextStreams(train_ids, config.batch_size, config.seq_len)
    text_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    resumed_from, checkpoint = (None, None) if resume is None else resumable(resume, config, text_sha256)
    if out_dir is not None:
        out_dir = prepare_out_dir(out_dir, resumed_from, overwrite)

    manual_seed(config.seed)
    model = CharLM(len(vocab), config.hidden, config.layers, config.cell, config.embedding, config.dropout,
                   device=config.device)
    optimizer = optim.Adam(model.parameters(), lr=config.lr)
    run = RunState() if checkpoint is None else restore(checkpoint, model, optimizer, config, log)
    log(f"train-charlm: {len(text):,} characters, vocabulary {len(vocab)}, {config.cell.upper()} "
        f"{config.layers}x{config.hidden}, {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"up to {config.steps} steps of {config.batch_size}x{config.seq_len} characters "
        f"(time budget {config.time_budget:.0f} s)" + (f"; resuming {resumed_from} at step {run.step}"
                                                       if resumed_from else ""))

    def write_checkpoint(finished, valid_bpc=None):
        state = checkpoint_state(model, optimizer, vocab, config, run, text_sha256, finished, valid_bpc)
        return save(state, out_dir / CHECKPOINT_NAME)

    started = time.perf_counter()
    with StopRequest("train-charlm: stopping after this step to save the run (Ctrl-C again aborts at once)") \
            as stop:
        _train_steps(model, optimizer, vocab, streams, run, config, stop, log,
                     write_checkpoint if out_dir is not None else None)
        results = {"steps": run.step, "seconds": time.perf_counter() - started,
                   "train_bpc": np.array(run.history), "valid_bpc": None,
                   "sample": run.samples[-1][1] if run.samples else None, "interrupted": stop.requested}
        if stop.requested:
            log(f"train-charlm: interrupted after step {run.step} of {config.steps}")
        else:
            results["valid_bpc"] = evaluate_bpc(model, valid_ids, config.seq_len, config.batch_size, config.device)
            log(f"train-charlm: step {run.step} after {results['seconds']:.0f} s; held-out bits/char "
                f"{results['valid_bpc']:.3f} on {len(valid_ids):,} characters (uniform guessing: "
                f"{math.log2(len(vocab)):.2f})")
        if out_dir is not None:
            results["files"] = [str(write_checkpoint(not stop.requested, results["valid_bpc"]))]
            results["files"] += _write_report(out_dir, run, results["valid_bpc"], log)
            log("train-charlm: wrote " + ", ".join(results["files"]))
            if stop.requested:
                log(f"train-charlm: continue with: tinygrad-rnn train-charlm --resume {out_dir}")
    return model, vocab, results


def _warm_up(model, chunk, device):
    """One forward and backward on two characters of one stream, in eval mode (no dropout, so no
    random numbers drawn) and without an optimizer step: the fused kernels compile here, on a
    cold Numba cache, rather than inside the first timed step of the progress bar."""
    inputs, targets = (a[:2, :1] for a in chunk)
    model.eval()
    _chunk_loss(model, inputs, targets, None, device)[0].backward()
    model.zero_grad()
    model.train()


def _train_steps(model, optimizer, vocab, streams, run, config, stop, log, write_checkpoint):
    """The optimizer steps from ``run.step`` on, until ``config.steps``, the time budget or a stop
    request; ``write_checkpoint(finished=False)`` (None: no output folder) every
    ``config.checkpoint_every`` steps."""
    prime = "The " if set("The ") <= set(vocab.itos) else vocab.itos[0]
    if run.step < config.steps:
        _warm_up(model, streams.chunk(run.step)[:2], config.device)
    progress = _Progress(config.steps, log, run.step)
    started = time.perf_counter()
    while run.step < config.steps and not stop.requested:
        inputs, targets, restart = streams.chunk(run.step)
        loss, carried = _chunk_loss(model, inputs, targets, None if restart else run.carried, config.device)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        run.carried = detach_state(carried)
        run.step += 1
        run.history.append(loss.item() / math.log(2))
        progress.update(loss=loss.item(), bpc=run.history[-1])
        out_of_time = time.perf_counter() - started > config.time_budget
        if run.step % config.sample_every == 0 or run.step == config.steps or out_of_time:
            run.samples.append((run.step, sample(model, vocab, prime, config.sample_length,
                                                 config.sample_temperature, run.step, config.device)))
            progress.write(f"--- sample after {run.step} steps ---\n{run.samples[-1][1]}\n---")
        if out_of_time:
            progress.write(f"train-charlm: time budget of {config.time_budget:.0f} s reached after {run.step} steps")
            break
        if write_checkpoint is not None and run.step % config.checkpoint_every == 0 and run.step < config.steps:
            write_checkpoint(finished=False)
    progress.close()


def _write_report(out_dir, run, valid_bpc, log):
    """samples.txt and loss.png (when matplotlib is installed); returns the paths written."""
    samples = out_dir / "samples.txt"
    samples.write_text("".join(f"--- after {s} steps ---\n{t}\n" for s, t in run.samples), "utf-8")
    plot = _plot_loss(np.array(run.history), valid_bpc, out_dir / "loss.png", log)
    return [str(samples)] + ([plot] if plot else [])


def _plot_loss(train_bpc, valid_bpc, path, log):
    plt = pyplot_or_none(log, "train-charlm: matplotlib is not installed, so no loss.png")
    if plt is None:
        return None
    figure, axes = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, len(train_bpc) + 1)
    window = max(len(train_bpc) // 50, 1)
    smooth = np.convolve(train_bpc, np.ones(window) / window, mode="valid")
    axes.plot(steps, train_bpc, alpha=0.3, label="training chunk")
    axes.plot(steps[window - 1:], smooth, label=f"training (mean of {window})")
    if valid_bpc is not None:  # None: an interrupted run, not scored
        axes.axhline(valid_bpc, color="black", linestyle="--", label=f"held-out {valid_bpc:.3f}")
    axes.set(xlabel="step", ylabel="bits per character", title="character-level language model")
    axes.legend()
    figure.tight_layout()
    save_and_show(figure, path, dpi=100)
    return str(path)


def export_weights(model, vocab, config, path):
    """Write the model's weights as a ``.safetensors`` file that PyTorch reads (the ``rnn.``
    weights load into ``torch.nn.LSTM``), with the characters in id order and the config as JSON
    in its metadata, so the file alone is enough to continue elsewhere."""
    metadata = {"vocab": json.dumps(vocab.itos), "config": json.dumps(asdict(config))}
    return safetensors_io.save(model.state_dict(), path, metadata=metadata)


def load_checkpoint(path, device="cpu"):
    """(model, vocab, checkpoint dict) from a file written by ``train``."""
    checkpoint = read_checkpoint(path, device)
    config = CharLMConfig(**_known_settings(checkpoint["config"]))
    vocab = Vocab.from_state_dict(checkpoint["vocab"])
    model = CharLM(len(vocab), config.hidden, config.layers, config.cell, config.embedding, config.dropout,
                   device=device)
    model.load_state_dict(checkpoint["model"])
    return model, vocab, checkpoint


def resumed_config(run, changes):
    """The settings of the run to resume (a folder or its checkpoint) with ``changes`` (a dict of
    settings) applied; ``train`` refuses changes outside ``charlm_run.RESUME_MAY_CHANGE``."""
    return CharLMConfig(**{**_known_settings(saved_config(run)), **changes})


def _known_settings(saved):
    """The saved settings that this version's CharLMConfig has."""
    known = {f.name for f in fields(CharLMConfig)}
    return {name: value for name, value in saved.items() if name in known}
