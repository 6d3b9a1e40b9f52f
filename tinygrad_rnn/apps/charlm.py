"""A character-level language model trained with truncated backpropagation through time.

Model: characters c_t → embedding e_t → stacked LSTM/GRU/RNN → logits z_t = W h_t + b over the
vocabulary, trained to minimise the cross-entropy of the next character,
L = -(1/T) Σ_t log softmax(z_t)[c_{t+1}] (in nats); bits per character = L / ln 2.

Truncated BPTT (Williams & Peng 1990): the corpus is cut into ``batch_size`` contiguous
streams read side by side, ``seq_len`` characters at a time. The recurrent state is carried
from one chunk to the next (so the model sees unbroken text) but detached, so gradients flow
back at most ``seq_len`` steps. Gradients are clipped to a global norm (Pascanu et al. 2013).
"""
import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from .. import functional as F, nn, optim, safetensors_io
from ..autograd import no_grad
from ..backend import manual_seed
from ..datasets import Vocab
from ..serialization import load, save
from ..tensor import Tensor
from .plotting import pyplot_or_none

LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
CHECKPOINT_KIND = "tinygrad_rnn.charlm"


@dataclass
class CharLMConfig:
    """Model and training settings; the CLI flags of ``train-charlm`` map onto these fields."""

    cell: str = "lstm"
    hidden: int = 256
    layers: int = 2
    embedding: int = 64
    dropout: float = 0.0
    seq_len: int = 100
    batch_size: int = 16
    steps: int = 1000
    time_budget: float = 240.0  # seconds of training; stops early when steps take longer
    lr: float = 3e-3
    clip: float = 5.0
    sample_every: int = 100
    sample_length: int = 200
    sample_temperature: float = 0.8
    valid_fraction: float = 0.05
    valid_chars: int = 20_000  # held-out characters scored at the end (the start of the held-out part)
    seed: int = 0
    device: str = "cpu"


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


def detach_state(state):
    """Cut the graph behind the carried state (the 'truncated' in truncated BPTT)."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def _side_by_side(ids, batch_size, length):
    """The first ``batch_size·length`` ids cut into ``batch_size`` contiguous streams, time-major
    (length, batch_size), and the same streams shifted by one (the next-character targets)."""
    inputs = ids[:batch_size * length].reshape(batch_size, length).T
    targets = ids[1:batch_size * length + 1].reshape(batch_size, length).T
    return inputs, targets


def _stream_chunks(ids, batch_size, seq_len):
    """Endless (inputs, targets, restart) chunks of ``batch_size`` parallel streams, time-major;
    ``restart`` is True when the streams wrap around (the carried state must be reset)."""
    length = (len(ids) - 1) // batch_size
    if length < seq_len + 1:
        raise ValueError(f"train-charlm: the training text ({len(ids)} characters) is too short for "
                         f"{batch_size} streams of seq_len {seq_len}")
    inputs, targets = _side_by_side(ids, batch_size, length)
    while True:
        for start in range(0, length - seq_len + 1, seq_len):
            yield inputs[start:start + seq_len], targets[start:start + seq_len], start == 0


def _chunk_loss(model, inputs, targets, state, device):
    logits, state = model(Tensor(inputs, device=device), state)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Tensor(targets.reshape(-1), device=device))
    return loss, state


def evaluate_bpc(model, ids, seq_len=100, batch_size=16, device="cpu"):
    """Bits per character of ``ids`` (the next-character loss over all of it, state carried)."""
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


def sample(model, vocab, prime="The ", length=200, temperature=1.0, seed=0, device="cpu"):
    """``prime`` followed by ``length`` characters drawn from softmax(z / temperature)."""
    if temperature <= 0:
        raise ValueError(f"sample: temperature must be positive, got {temperature}")
    if not prime:
        raise ValueError("sample: prime must contain at least one character")
    unknown = sorted(set(prime) - set(vocab.itos))
    if unknown:
        raise ValueError(f"sample: the prime has characters {unknown} that are not in the model's vocabulary")
    rng = np.random.default_rng(seed)
    model.eval()
    out = list(prime)
    with no_grad():
        logits, state = model(Tensor(vocab.encode(prime)[:, None], device=device))
        for _ in range(length):
            z = logits.numpy()[-1, 0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            index = rng.choice(len(p), p=p / p.sum())
            out.append(vocab.itos[index])
            logits, state = model(Tensor(np.array([[index]]), device=device), state)
    model.train()
    return "".join(out)


class _Progress:
    """A tqdm bar when tqdm is installed, else a plain line every 10% of the steps."""

    def __init__(self, total, log):
        self.log, self.total, self.step = log, total, 0
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="step", dynamic_ncols=True)
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


def train(text, config, out_dir=None, log=print):
    """Train a :class:`CharLM` on ``text``; returns ``(model, vocab, results)``. With ``out_dir``
    it also writes ``charlm.npz`` (checkpoint), ``loss.png`` and ``samples.txt`` there."""
    manual_seed(config.seed)
    vocab = Vocab(sorted(set(text)), specials=())
    ids = vocab.encode(text)
    split = int(len(ids) * (1 - config.valid_fraction))
    train_ids, valid_ids = ids[:split], ids[split:split + config.valid_chars]
    model = CharLM(len(vocab), config.hidden, config.layers, config.cell, config.embedding, config.dropout,
                   device=config.device)
    optimizer = optim.Adam(model.parameters(), lr=config.lr)
    log(f"train-charlm: {len(text):,} characters, vocabulary {len(vocab)}, {config.cell.upper()} "
        f"{config.layers}x{config.hidden}, {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"up to {config.steps} steps of {config.batch_size}x{config.seq_len} characters "
        f"(time budget {config.time_budget:.0f} s)")
    prime = "The " if set("The ") <= set(vocab.itos) else text[0]
    chunks = _stream_chunks(train_ids, config.batch_size, config.seq_len)
    progress, history, samples, state = _Progress(config.steps, log), [], [], None
    started = time.perf_counter()
    for step in range(1, config.steps + 1):
        inputs, targets, restart = next(chunks)
        loss, state = _chunk_loss(model, inputs, targets, None if restart else state, config.device)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        state = detach_state(state)
        history.append(loss.item() / math.log(2))
        progress.update(loss=loss.item(), bpc=history[-1])
        out_of_time = time.perf_counter() - started > config.time_budget
        if step % config.sample_every == 0 or step == config.steps or out_of_time:
            samples.append((step, sample(model, vocab, prime, config.sample_length,
                                         config.sample_temperature, step, config.device)))
            progress.write(f"--- sample after {step} steps ---\n{samples[-1][1]}\n---")
        if out_of_time:
            progress.write(f"train-charlm: time budget of {config.time_budget:.0f} s reached after {step} steps")
            break
    progress.close()
    seconds = time.perf_counter() - started
    valid_bpc = evaluate_bpc(model, valid_ids, config.seq_len, config.batch_size, config.device)
    log(f"train-charlm: {len(history)} steps in {seconds:.0f} s; held-out bits/char {valid_bpc:.3f} "
        f"on {len(valid_ids):,} characters (uniform guessing: {math.log2(len(vocab)):.2f})")
    results = {"steps": len(history), "seconds": seconds, "train_bpc": np.array(history),
               "valid_bpc": valid_bpc, "sample": samples[-1][1]}
    if out_dir is not None:
        results["files"] = _write_outputs(Path(out_dir), model, optimizer, vocab, config, results, samples, log)
    return model, vocab, results


def _write_outputs(out_dir, model, optimizer, vocab, config, results, samples, log):
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = save({"kind": CHECKPOINT_KIND, "config": asdict(config), "vocab": vocab.state_dict(),
                       "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "steps": results["steps"], "train_bpc": results["train_bpc"],
                       "valid_bpc": results["valid_bpc"]}, out_dir / "charlm.npz")
    (out_dir / "samples.txt").write_text("".join(f"--- after {s} steps ---\n{t}\n" for s, t in samples), "utf-8")
    files = [str(checkpoint), str(out_dir / "samples.txt")]
    plot = _plot_loss(results["train_bpc"], results["valid_bpc"], out_dir / "loss.png", log)
    files += [plot] if plot else []
    log("train-charlm: wrote " + ", ".join(files))
    return files


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
    axes.axhline(valid_bpc, color="black", linestyle="--", label=f"held-out {valid_bpc:.3f}")
    axes.set(xlabel="step", ylabel="bits per character", title="character-level language model")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)


def export_weights(model, vocab, config, path):
    """Write the model's weights as a ``.safetensors`` file that PyTorch reads (the ``rnn.``
    weights load into ``torch.nn.LSTM``), with the characters in id order and the config as JSON
    in its metadata, so the file alone is enough to continue elsewhere."""
    metadata = {"vocab": json.dumps(vocab.itos), "config": json.dumps(asdict(config))}
    return safetensors_io.save(model.state_dict(), path, metadata=metadata)


def load_checkpoint(path, device="cpu"):
    """(model, vocab, checkpoint dict) from a file written by :func:`train`."""
    checkpoint = load(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"charlm.load_checkpoint: {path} is a tinygrad_rnn checkpoint but not a char-LM one "
                         f"(kind {checkpoint.get('kind') if isinstance(checkpoint, dict) else None!r})")
    known = {f.name for f in fields(CharLMConfig)}
    config = CharLMConfig(**{k: v for k, v in checkpoint["config"].items() if k in known})
    vocab = Vocab.from_state_dict(checkpoint["vocab"])
    model = CharLM(len(vocab), config.hidden, config.layers, config.cell, config.embedding, config.dropout,
                   device=device)
    model.load_state_dict(checkpoint["model"])
    return model, vocab, checkpoint
