"""The main job's training step (``tinygrad-rnn train-charlm``) against the same model in PyTorch.

    python benchmarks/train_step.py [--size default|small|large] [--cell lstm|gru|rnn]
                                    [--hidden H] [--layers L] [--batch-size B] [--seq-len T]
                                    [--rounds 10] [--threads 2] [--budget 120] [--quick]

Both models get the same weights (ours copied into torch's) and the same batches from
charlm's own data pipeline (Python's reference docs cut into ``B`` streams, the state carried
from chunk to chunk and detached); before timing, both run the first steps from the same weights
and the losses are printed side by side. A step is timed phase by phase: embedding forward,
recurrent forward, head (Linear + cross-entropy) forward, backward, clip_grad_norm_ (5.0) and
Adam (3e-3). Each round runs ours, then torch: a 0.3 s pause, one untimed step, then ``CALLS``
timed steps; the table shows medians over all rounds and ratio = ours / torch (lower is
better). Sampling (``charlm.sample``: a prime, then one character per call, batch 1) and
held-out scoring (``charlm.evaluate_bpc``) are timed per character the same way, against the
same loops written in torch. float32, ``--threads`` threads everywhere (set before NumPy loads).

``--budget SECONDS`` then races the two from the same weights on the same batches: each trains
until its own steps have taken ``SECONDS`` in all (turns of 25 steps, so that a
change in the machine's load falls on both), and the held-out bits/char of each is printed
with its step count.
"""
import argparse
import itertools
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from rnn import SETTLE, THREADS, openblas_kernel  # noqa: E402  (sets the BLAS threads first)

import numpy as np  # noqa: E402
import scipy.linalg.cython_blas  # noqa: E402,F401  (the BLAS our kernels call: its kernels are printed)

from tinygrad_rnn import Tensor, nn, optim  # noqa: E402
from tinygrad_rnn.apps import charlm  # noqa: E402
from tinygrad_rnn.backend import manual_seed  # noqa: E402
from tinygrad_rnn.datasets import Vocab, pydoc_text  # noqa: E402
from tinygrad_rnn.kernels import cpu_threads  # noqa: E402
from tinygrad_rnn.nn.fused_loss import linear_cross_entropy  # noqa: E402

SIZES = {"default": dict(hidden=256, layers=2, batch_size=16),   # train-charlm's defaults
         "small": dict(hidden=128, layers=1, batch_size=32),
         "large": dict(hidden=512, layers=2, batch_size=32)}
PHASES = ("embedding fwd", "recurrent fwd", "head + loss fwd", "backward", "clip", "Adam", "step")
CALLS = 5   # timed steps in a row per round


def cpu_model():
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def torch_twin(torch, model, cell):
    """The same CharLM in torch, with ``model``'s weights (our names are torch's)."""
    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]

    class TorchCharLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            vocab, embedding = model.embedding.weight.shape
            self.embedding = torch.nn.Embedding(vocab, embedding)
            self.rnn = layer(embedding, model.rnn.hidden_size, model.rnn.num_layers)
            self.head = torch.nn.Linear(model.rnn.hidden_size, vocab)

        def forward(self, ids, state=None):
            out, state = self.rnn(self.embedding(ids), state)
            return self.head(out.reshape(-1, out.shape[-1])).reshape(*out.shape[:2], -1), state

    twin = TorchCharLM()
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    return twin


class Trainer:
    """One library's training loop, split into timed phases: ``lib`` gives the library's
    tensor from a NumPy array, the head's loss (model, hidden states (N, H), targets (N,)),
    global-norm clip and Adam (``step`` returns the loss and {phase: seconds})."""

    def __init__(self, lib, model, chunks, clip, lr):
        self.tensor, self.head_loss, self.clip_grad_norm, adam = lib
        self.model, self.chunks, self.clip, self.state = model, chunks, clip, None
        self.optimizer = adam(model.parameters(), lr=lr)

    def step(self):
        inputs, targets, restart = next(self.chunks)
        model, state = self.model, None if restart else self.state
        times, clock = {}, time.perf_counter
        start = clock()
        ids, targets = self.tensor(inputs), targets.reshape(-1)
        x = model.embedding(ids)
        times["embedding fwd"], start = clock() - start, clock()
        out, state = model.rnn(x, state)
        times["recurrent fwd"], start = clock() - start, clock()
        loss = self.head_loss(model, out.reshape(-1, out.shape[-1]), targets)
        times["head + loss fwd"], start = clock() - start, clock()
        self.optimizer.zero_grad()
        loss.backward()
        times["backward"], start = clock() - start, clock()
        self.clip_grad_norm(model.parameters(), self.clip)
        times["clip"], start = clock() - start, clock()
        self.optimizer.step()
        times["Adam"] = clock() - start
        self.state = charlm.detach_state(state)
        times["step"] = sum(times.values())
        return loss.item(), times


def torch_sample(torch, model, vocab, prime, length, temperature, seed):
    """charlm.sample's loop, in torch."""
    rng = np.random.default_rng(seed)
    out = list(prime)
    with torch.no_grad():
        logits, state = model(torch.from_numpy(vocab.encode(prime)[:, None]))
        for _ in range(length):
            z = logits.numpy()[-1, 0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            index = rng.choice(len(p), p=p / p.sum())
            out.append(vocab.itos[index])
            logits, state = model(torch.tensor([[index]]), state)
    return "".join(out)


def torch_bpc(torch, model, ids, seq_len, batch_size):
    """charlm.evaluate_bpc's loop, in torch."""
    length = (len(ids) - 1) // batch_size
    inputs, targets = charlm._side_by_side(ids, batch_size, length)
    total, state = 0.0, None
    with torch.no_grad():
        for start in range(0, length, seq_len):
            chunk = slice(start, start + seq_len)
            logits, state = model(torch.from_numpy(inputs[chunk]), state)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     torch.from_numpy(targets[chunk].reshape(-1)))
            total += loss.item() * inputs[chunk].size
    return total / (batch_size * length) / math.log(2)


def interleaved(jobs, rounds):
    """{name: [seconds...]}: each round runs every job after a pause, untimed once, then timed
    CALLS times (``jobs`` = {name: callable returning {phase: seconds} or None}). Torch's
    thread count is set again before its round: when torch is loaded first, Numba's OpenMP
    layer runs on torch's libgomp, and our kernels' calls set the OpenMP thread count that torch
    then uses (measured: torch.get_num_threads() 1 -> 2 after one fused LSTM call)."""
    import torch
    times = {name: {} for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            time.sleep(SETTLE)
            torch.set_num_threads(THREADS)
            job()
            for _ in range(CALLS):
                start = time.perf_counter()
                phases = job() or {}
                phases.setdefault("total", time.perf_counter() - start)
                for phase, seconds in phases.items():
                    times[name].setdefault(phase, []).append(seconds)
    return times


def race(runs, seconds, turn=25):
    """{name: steps}: train each of ``runs`` (Trainers) until its steps have taken ``seconds``,
    ``turn`` steps at a time in turn."""
    import torch
    spent, steps = dict.fromkeys(runs, 0.0), dict.fromkeys(runs, 0)
    while min(spent.values()) < seconds:
        for name, run in runs.items():
            time.sleep(SETTLE)
            torch.set_num_threads(THREADS)
            for _ in range(turn if spent[name] < seconds else 0):
                start = time.perf_counter()
                run.step()
                spent[name] += time.perf_counter() - start
                steps[name] += 1
    return steps


def table(rows, times):
    """Rows (label, phase, scale) of medians, ours / torch."""
    print("| phase | ours | PyTorch | ratio |\n|---|---|---|---|")
    for label, phase, scale, unit in rows:
        ours, peer = (statistics.median(times[lib][phase]) * scale for lib in ("ours", "torch"))
        print(f"| {label} | {ours:.3g} {unit} | {peer:.3g} {unit} | {ours / peer:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--cell", choices=sorted(charlm.LAYERS), default="lstm")
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10, help=f"rounds of {CALLS} timed steps each")
    parser.add_argument("--sample-length", type=int, default=200)
    parser.add_argument("--score-chars", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2, help="threads for torch, BLAS and our kernels")
    parser.add_argument("--budget", type=float, help="then race ours and torch for this many seconds of steps each")
    parser.add_argument("--quick", action="store_true", help="a tiny model, one round and a 0.5 s race (checks the script runs)")
    args = parser.parse_args()
    if args.quick:
        args.hidden, args.layers, args.batch_size, args.seq_len, args.embedding = 16, 1, 2, 10, 8
        args.rounds, args.sample_length, args.score_chars = 1, 5, 200
        args.budget = 0.5
    size = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in SIZES[args.size].items()}
    import torch
    torch.set_num_threads(THREADS)
    cpu_threads.set_num_threads(THREADS)
    config = charlm.CharLMConfig(cell=args.cell, embedding=args.embedding, seq_len=args.seq_len, **size)
    text = pydoc_text()
    vocab = Vocab(sorted(set(text)), specials=())
    ids = vocab.encode(text)
    split = int(len(ids) * (1 - config.valid_fraction))
    train_ids, valid_ids = ids[:split], ids[split:split + args.score_chars]
    print(f"{cpu_model()}, {THREADS} threads (OpenBLAS {openblas_kernel()} kernels), torch "
          f"{torch.__version__}; {config.cell.upper()} {config.layers}x{config.hidden}, embedding "
          f"{config.embedding}, vocabulary {len(vocab)}, batch {config.batch_size} x {config.seq_len}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at start")

    def trainers():
        manual_seed(config.seed)
        model = charlm.CharLM(len(vocab), config.hidden, config.layers, config.cell, config.embedding)
        twin = torch_twin(torch, model, config.cell)
        streams = charlm.TextStreams(train_ids, config.batch_size, config.seq_len)
        chunks = [map(streams.chunk, itertools.count()) for _ in range(2)]
        def torch_loss(twin, hidden, targets):
            return torch.nn.functional.cross_entropy(twin.head(hidden), torch.from_numpy(targets))

        def our_loss(model, hidden, targets):   # as CharLM.loss
            return linear_cross_entropy(hidden, model.head.weight, model.head.bias, targets)

        libs = {"ours": (Tensor, our_loss, nn.utils.clip_grad_norm_, optim.Adam),
                "torch": (torch.from_numpy, torch_loss, torch.nn.utils.clip_grad_norm_, torch.optim.Adam)}
        return {"ours": Trainer(libs["ours"], model, chunks[0], config.clip, config.lr),
                "torch": Trainer(libs["torch"], twin, chunks[1], config.clip, config.lr)}

    check = trainers()
    losses = [(check["ours"].step()[0], check["torch"].step()[0]) for _ in range(3)]
    print("first losses (ours, torch): " + ", ".join(f"({a:.5f}, {b:.5f})" for a, b in losses))
    runs = trainers()
    times = interleaved({lib: lambda run=run: run.step()[1] for lib, run in runs.items()}, args.rounds)
    table([(phase, phase, 1e3, "ms") for phase in PHASES], times)

    ours, twin = runs["ours"].model, runs["torch"].model
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    length, prime = args.sample_length, "The "
    texts, scores = {}, {}

    def sample(lib):
        generate = (lambda: charlm.sample(ours, vocab, prime, length, 0.8, 1)) if lib == "ours" else (
            lambda: torch_sample(torch, twin, vocab, prime, length, 0.8, 1))
        return lambda: texts.update({lib: generate()})

    chunking = (valid_ids, config.seq_len, config.batch_size)

    def score(lib):
        score_of = (lambda: charlm.evaluate_bpc(ours, *chunking)) if lib == "ours" else (
            lambda: torch_bpc(torch, twin, *chunking))
        return lambda: scores.update({lib: score_of()})

    sampling = interleaved({lib: sample(lib) for lib in ("ours", "torch")}, max(args.rounds // 5, 1))
    scoring = interleaved({lib: score(lib) for lib in ("ours", "torch")}, max(args.rounds // 5, 1))
    print(f"\nsamples equal: {texts['ours'] == texts['torch']}; held-out bits/char ours "
          f"{scores['ours']:.5f}, torch {scores['torch']:.5f} ({len(valid_ids)} characters)")
    characters = len(prime) + length
    table([(f"sampling, per character ({characters} a sample)", "total", 1e6 / characters, "us")], sampling)
    table([(f"held-out scoring, per character ({len(valid_ids)})", "total", 1e6 / len(valid_ids), "us")],
          scoring)
    if args.budget:
        racers = trainers()
        steps = race(racers, args.budget)
        final = {"ours": charlm.evaluate_bpc(racers["ours"].model, *chunking),
                 "torch": torch_bpc(torch, racers["torch"].model, *chunking)}
        print(f"\n| {args.budget:g} s of training steps each | steps | held-out bits/char |\n|---|---|---|")
        for lib, name in (("ours", "ours"), ("torch", "PyTorch")):
            print(f"| {name} | {steps[lib]} | {final[lib]:.4f} |")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
