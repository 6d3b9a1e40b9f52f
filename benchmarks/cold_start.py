"""How long a fresh process waits for its first fused training step: each layer kind in its own
process, first with an empty Numba cache (the kernels compile), then again from that cache.

    python benchmarks/cold_start.py [--layers LSTM,GRU,RNN] [--repeats 1] [--quick]

A step is forward + backward of a one-layer float32 layer at (B, T, I, H) = (32, 50, 64, 128),
timed from just before the first call; the import of tinygrad_rnn is timed apart. Each
``--repeats`` round uses a fresh empty cache. The table names the CPU and the load average (the
cores may be shared), and is what the target "first step at most 5 s" is measured by.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile

STEP = """
import time
start = time.perf_counter()
import tinygrad_rnn as tg
from tinygrad_rnn import nn
imported = time.perf_counter()
layer = getattr(nn, "{layer}")(64, 128)
x = tg.randn(50, 32, 64)
called = time.perf_counter()
out = layer(x)[0]
out.sum().backward()
print(imported - start, time.perf_counter() - called)
"""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def first_steps(layer):
    """(import s, first step s) with an empty cache, then the same from the filled cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = [subprocess.run([sys.executable, "-c", STEP.format(layer=layer)], env=env,
                               capture_output=True, text=True, check=True) for _ in range(2)]
    return [tuple(map(float, run.stdout.split()[-2:])) for run in runs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="LSTM,GRU,RNN", help="comma-separated subset of LSTM,GRU,RNN")
    parser.add_argument("--repeats", type=int, default=1, help="rounds, each with a fresh empty cache")
    parser.add_argument("--quick", action="store_true", help="the RNN alone (checks the script runs)")
    args = parser.parse_args()
    if args.quick:
        args.layers = "RNN"
    print(f"{cpu_model()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'layer':<6}{'import s':>10}{'first step, empty cache s':>28}{'first step, cached s':>23}")
    for layer in args.layers.split(","):
        rounds = [first_steps(layer) for _ in range(args.repeats)]
        cold = statistics.median(r[0][1] for r in rounds)
        warm = statistics.median(r[1][1] for r in rounds)
        imported = statistics.median(r[1][0] for r in rounds)
        print(f"{layer:<6}{imported:>10.2f}{cold:>28.2f}{warm:>23.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
