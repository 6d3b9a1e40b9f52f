"""Engine overhead and throughput against PyTorch eager on the CPU, in one run.

    python benchmarks/engine.py [--repeats 15] [--quick]

Both libraries use 2 BLAS threads (torch.set_num_threads(2); OMP/OPENBLAS/MKL_NUM_THREADS=2
for NumPy, set before NumPy loads). Each row is the median over ``--repeats`` timed runs
(after warm-up) of one forward+backward (and, for the MLPs, an SGD update); the ratio is
ours / torch, so lower is better. Targets: per-op overhead <= 3x, large MLP <= 1.2x.
"""
import argparse
import os
import statistics
import time

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "2")

import numpy as np  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402

CHAIN_LENGTH = 100


def median_seconds(steps, repeats, warmup=3):
    """Median time of each step; the steps alternate, so background load hits them alike."""
    for step in steps:
        for _ in range(warmup):
            step()
    times = [[] for _ in steps]
    for _ in range(repeats):
        for step, record in zip(steps, times):
            start = time.perf_counter()
            step()
            record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]


def elementwise_chain(lib, x):
    """100 elementwise ops (25 rounds of tanh, *, +, sigmoid) then a sum, forward+backward."""
    def step():
        y = x
        for _ in range(CHAIN_LENGTH // 4):
            y = (y.tanh() * 0.9 + 0.1).sigmoid()
        y.sum().backward()
        x.grad = None
    return step


def mlp_step(lib, sizes, batch, rng):
    """One SGD step of an MLP with tanh hidden layers and a cross-entropy loss."""
    weights = [(rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32) for m, n in zip(sizes, sizes[1:])]
    inputs = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], batch)
    if lib == "torch":
        import torch
        import torch.nn.functional as TF
        params = [torch.tensor(w, requires_grad=True) for w in weights]
        x, y, cross_entropy = torch.tensor(inputs), torch.tensor(labels), TF.cross_entropy
        no_grad = torch.no_grad
    else:
        params = [tg.Tensor(w, requires_grad=True) for w in weights]
        x, y, cross_entropy = tg.Tensor(inputs), tg.Tensor(labels), tg.functional.cross_entropy
        no_grad = tg.no_grad

    def step():
        h = x
        for w in params[:-1]:
            h = (h @ w).tanh()
        cross_entropy(h @ params[-1], y).backward()
        with no_grad():
            for p in params:
                p.data -= 0.01 * p.grad.data
                p.grad = None
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="one timed run per case, to check that the script works")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    import torch
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    host = rng.standard_normal((4, 4)).astype(np.float32)
    cases = [
        ("per-op overhead, 4x4 (us/op)", 1e6 / CHAIN_LENGTH,
         elementwise_chain("torch", torch.tensor(host, requires_grad=True)),
         elementwise_chain("tg", tg.Tensor(host, requires_grad=True))),
        ("MLP step 64x(32-64-10) (ms)", 1e3,
         mlp_step("torch", (32, 64, 10), 64, np.random.default_rng(1)),
         mlp_step("tg", (32, 64, 10), 64, np.random.default_rng(1))),
        ("MLP step 512x(1024-1024-1024-10) (ms)", 1e3,
         mlp_step("torch", (1024, 1024, 1024, 10), 512, np.random.default_rng(2)),
         mlp_step("tg", (1024, 1024, 1024, 10), 512, np.random.default_rng(2))),
    ]
    print(f"{'case':40s} {'torch':>10s} {'ours':>10s} {'ours/torch':>11s}")
    for name, scale, torch_step, our_step in cases:
        torch_time, our_time = median_seconds([torch_step, our_step], args.repeats)
        print(f"{name:40s} {torch_time * scale:10.2f} {our_time * scale:10.2f} {our_time / torch_time:10.2f}x")


if __name__ == "__main__":
    main()
