"""How many patterns a Hopfield network holds: recall rate against load P/N.

For each load, random ±1 patterns are stored with the Hebbian rule and each is recalled
(asynchronous updates) from a copy with 10% of its bits flipped; a recall counts when the
network settles exactly on the stored pattern. Theory (Amit, Gutfreund & Sompolinsky 1985)
puts the capacity near P/N ≈ 0.138 for large N: below it the stored patterns are (near)
fixed points, above it they stop being attractors and recall collapses.

Run:  python examples/hopfield_capacity.py [--neurons 100 200] [--plot hopfield_capacity.png] [--quick]

It prints a table of exact-recall rates and mean overlaps and writes the plot (needs
matplotlib). Measured (seed 0, 400 probes per point, about 11 s):

    load P/N        0.05    0.10    0.14    0.20    0.25    0.30
    N=100 exact     1.000   0.948   0.730   0.237   0.080   0.015
    N=100 overlap   1.000   0.994   0.950   0.757   0.636   0.535
    N=200 exact     1.000   0.870   0.500   0.055   0.005   0.000
    N=200 overlap   1.000   0.994   0.919   0.621   0.453   0.399

The exact-recall rate falls earlier for the larger network at the same load: below capacity
the attractor sits a few bits away from the pattern, and more bits give more chances to miss
one. The overlap stays near 1 up to about 0.12 and then falls off, more steeply for N=200,
towards the sharp transition that the N → ∞ theory predicts at 0.138.
"""
import argparse
import os
import time

# small matrices: one BLAS thread is much faster than several fighting for shared cores
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from tinygrad_rnn.models import recall_statistics  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--neurons", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--loads", type=float, nargs="+",
                        default=[0.01, 0.02, 0.05, 0.08, 0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.25, 0.30])
    parser.add_argument("--probes", type=int, default=400, help="recalls per point (trials x patterns)")
    parser.add_argument("--flip", type=float, default=0.1, help="fraction of bits flipped in each probe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="hopfield_capacity.png", help="PNG path ('' for no plot)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds) that checks the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.neurons, args.loads, args.probes = [50], [0.05, 0.2], 20

    start = time.perf_counter()
    curves = {}
    print(f"exact recall rate / mean overlap ξ·s/N ({args.flip:.0%} of bits flipped; {args.probes} probes per point)")
    print("  load P/N " + "".join(f"  N={n:<13d}" for n in args.neurons))
    for load in args.loads:
        row = []
        for n in args.neurons:
            patterns = max(1, round(load * n))
            stats = recall_statistics(n, patterns, max(1, args.probes // patterns), args.flip, seed=args.seed)
            curves.setdefault(n, []).append((patterns / n, stats.exact, stats.overlap))
            row.append(f"  {stats.exact:5.3f} / {stats.overlap:5.3f}")
        print(f"  {load:8.2f} " + "".join(row))
    print(f"({time.perf_counter() - start:.1f} s)")

    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot (pip install matplotlib)")
            return curves
        figure, axes = plt.subplots(1, 2, figsize=(10, 4))
        for n, points in curves.items():
            loads, exact, overlap = np.array(points).T
            axes[0].plot(loads, exact, marker="o", label=f"N = {n}")
            axes[1].plot(loads, overlap, marker="o", label=f"N = {n}")
        for ax, label in zip(axes, ["fraction recalled exactly", "mean overlap ξ·s / N"]):
            ax.axvline(0.138, color="grey", linestyle="--", label="0.138 (theory, N → ∞)")
            ax.set_xlabel("load P / N")
            ax.set_ylabel(label)
            ax.legend()
        figure.suptitle(f"Hopfield recall from probes with {args.flip:.0%} of bits flipped")
        figure.tight_layout()
        figure.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")
    return curves


if __name__ == "__main__":
    main()
