"""Fused recurrent kernels against our reference path and PyTorch on the CPU, in one run.

    python benchmarks/rnn.py [--threads 2] [--repeats 7] [--reference-repeats 3] [--no-reference]
                             [--no-memory] [--layers LSTM,GRU,RNN] [--device cpu|cuda] [--quick]

float32, 2 threads everywhere (``--threads``): torch.set_num_threads(2), our kernels' threads,
and OPENBLAS/OMP/MKL_NUM_THREADS=2 set before NumPy loads (our GEMMs all go through SciPy's
OpenBLAS, called from the Numba kernels).
Every layer gets PyTorch's weights. A *train* step is forward + backward of out.sum() with the
parameters requiring gradients (the input does not); *infer* is the forward under no_grad.
Times are medians over ``--repeats`` rounds of ``CALLS`` calls (the reference path, which
records ~15 engine ops per step, gets ``--reference-repeats`` rounds); each round runs every
library in turn: a 0.3 s pause, one untimed call, then ``CALLS`` timed calls in a row, as inside
a training loop. Interleaving the libraries makes load changes hit all alike, and the pause keeps
one library's spinning idle threads from slowing the next. The ratio (lower is better) is paired:
the median over rounds of fused / torch within a round, whose calls are a second apart at most,
so that the machine changing speed between rounds cancels (on these 2-core VMs a process's calls
switch between two speeds, the slower up to twice as slow, for PyTorch and for our kernels on one
thread or two alike); the last column is the 1-minute load average (the cores may be shared). GFLOP/s counts the GEMMs only: 2·T·B·G·H·(I + H) forward, 3x that for a train step.
Peak memory (MiB) is the peak resident set during one train step above the resident set just
before it, in a fresh process per cell after a warm-up on a small problem (so every library's
allocator is seen the same way; Linux only: it resets VmHWM through /proc/self/clear_refs). The GEMM rate is
float32 (2048 x 2048 x 2048) through the same BLAS our kernels call, in this process.
Compile times come from fresh processes with an empty NUMBA_CACHE_DIR (first call compiles)
and then the same directory again (cached start), as benchmarks/cold_start.py measures them.

Our LSTM kernel cuts every step into 2 blocks of hidden units on a team of 2 threads
(tinygrad_rnn.kernels.numba_team), the GRU and RNN kernels run the batch as 2 shards on 2
threads (tinygrad_rnn.kernels.cpu_threads), all with single-threaded BLAS calls. The header prints the kernel OpenBLAS chose: OpenBLAS 0.3.30/0.3.31
(in the SciPy and NumPy wheels) does not recognize AMD Zen 5 and falls back to its Haswell
(AVX2) kernels; ``OPENBLAS_CORETYPE=SKYLAKEX`` in the environment selects its AVX-512 kernels
(measured here: single-thread 1024^3 sgemm 109 -> 208 GFLOP/s). PyTorch uses its own BLAS.
With ``--device cuda`` ours runs on CuPy (kernels/cupy_recurrent) and torch on cuDNN, every
call followed by waiting for the GPU, and the rows add (64, 100, 256, 512); the GEMM rate is
cuBLAS's, and the memory and compile-time measures (CPU ones) are skipped. The GPU path has not
yet been run on a GPU.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def _threads_option():
    """--threads, read before NumPy loads (BLAS reads its thread count from the environment)."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--threads", type=int, default=2)
    return early.parse_known_args()[0].threads


THREADS = _threads_option()
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, str(THREADS))

import numpy as np  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
from cold_start import first_steps  # noqa: E402  (this folder's script)
from tinygrad_rnn import nn  # noqa: E402

SIZES = [(32, 50, 64, 128), (64, 100, 128, 256), (16, 200, 32, 64)]   # (B, T, I, H)
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
ROWS = [(name, size, 1, False) for size in SIZES for name in GATES] + [("LSTM", SIZES[0], 2, True)]
WARM_UP = (16, 16, 32, 64)   # (B, T, I, H): small, but shared by 2 threads in our kernels
GPU_ROWS = [(name, (64, 100, 256, 512), 1, False) for name in GATES]   # the GPU target size


def median_seconds(step, repeats, warmup=2):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


SETTLE = 0.3   # s: OpenBLAS's idle threads spin ~0.1 s after a call before they sleep
CALLS = 5      # timed calls in a row per round


def interleaved_medians(steps):
    """({name: median seconds}, {name: [median seconds of each round]}) for ``steps`` = {name:
    (callable, rounds)}. Each round runs every
    library in turn: a pause, one untimed call, then CALLS timed calls in a row. Interleaving
    makes a change of the machine's load hit every library alike; the pause lets the previous
    library's idle threads stop spinning (measured: right after our reference path, NumPy's
    spinning OpenBLAS threads made the next fused LSTM call 2x slower); the untimed call wakes
    the library's own threads, and the calls in a row are timed as in a training loop."""
    times = {name: [] for name in steps}
    for round_ in range(max(rounds for _, rounds in steps.values())):
        for name, (step, rounds) in steps.items():
            if round_ < rounds:
                time.sleep(SETTLE)
                step()
                calls = []
                for _ in range(CALLS):
                    start = time.perf_counter()
                    step()
                    calls.append(time.perf_counter() - start)
                times[name].append(calls)
    medians = {name: statistics.median(sum(rounds, [])) for name, rounds in times.items()}
    return medians, {name: [statistics.median(calls) for calls in rounds] for name, rounds in times.items()}


def paired_ratio(ours, peer):
    """The median over rounds of ours / peer, each round's median times."""
    return statistics.median(a / b for a, b in zip(ours, peer))


def gemm_flops(name, size, layers, bidirectional):
    batch, steps, inputs, hidden = size
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(layers):
        layer_inputs = inputs if layer == 0 else directions * hidden
        total += directions * 2 * steps * batch * GATES[name] * hidden * (layer_inputs + hidden)
    return total


def build(name, size, layers, bidirectional, impl, seed=0, device="cpu"):
    """(train_step, infer) closures for impl "fused", "reference" or "torch", with torch's weights,
    on ``device`` ("cpu", or "cuda": ours on CuPy, torch on cuDNN; each closure then waits for
    the GPU to finish)."""
    import torch
    batch, steps, inputs, hidden = size
    torch.manual_seed(seed)
    peer = getattr(torch.nn, name)(inputs, hidden, num_layers=layers, bidirectional=bidirectional)
    x = np.random.default_rng(seed).standard_normal((steps, batch, inputs)).astype(np.float32)
    if impl == "torch":
        peer, tx = peer.to(device), torch.from_numpy(x).to(device)

        def train():
            peer.zero_grad(set_to_none=True)
            peer(tx)[0].sum().backward()

        def infer():
            with torch.no_grad():
                return peer(tx)[0]
        return _synchronized(train, device, torch), _synchronized(infer, device, torch)
    ours = getattr(nn, name)(inputs, hidden, num_layers=layers, bidirectional=bidirectional, impl=impl)
    ours.load_state_dict({k: v.detach().numpy() for k, v in peer.state_dict().items()})
    ours.to(device)
    tx = tg.Tensor(x, device=device)
    params = list(ours.parameters())

    def train():
        for p in params:
            p.grad = None
        ours(tx)[0].sum().backward()

    def infer():
        with tg.no_grad():
            return ours(tx)[0]
    return _synchronized(train, device), _synchronized(infer, device)


def _synchronized(step, device, torch=None):
    """``step`` followed by waiting for the GPU (torch's queue, or CuPy's) when on "cuda"."""
    if device == "cpu":
        return step
    if torch is not None:
        wait = torch.cuda.synchronize
    else:
        import cupy
        wait = cupy.cuda.Device().synchronize

    def synchronized():
        step()
        wait()
    return synchronized


def gemm_rate(n=2048, repeats=5, device="cpu"):
    """float32 GFLOP/s of the BLAS the kernels use: SciPy's OpenBLAS through Numba, or cuBLAS
    through CuPy (n = 8192)."""
    rng = np.random.default_rng(0)
    if device == "cuda":
        import cupy
        n = 8192
        a = cupy.asarray(rng.standard_normal((n, n)), dtype=cupy.float32)
        step = _synchronized(lambda: cupy.matmul(a, a), device)
    else:
        from tinygrad_rnn.kernels.numba_blas import gemm
        a, c = rng.standard_normal((n, n)).astype(np.float32), np.empty((n, n), np.float32)
        step = lambda: gemm(a, a, c)   # noqa: E731
    return 2 * n**3 / median_seconds(step, repeats) / 1e9


def openblas_kernel():
    """The CPU kernel set (e.g. Haswell, SkylakeX) that SciPy's OpenBLAS runs, if known."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    return next((lib.get("architecture", "unknown") for lib in threadpool_info()
                 if "scipy_openblas" in lib.get("filepath", "") and "numpy" not in lib["filepath"]),
                "unknown")


def peak_memory_mib(name, size, layers, bidirectional, impl):
    """Peak resident memory above the resting level during one train step, in a fresh process
    (Linux: the peak counter VmHWM is reset through /proc/self/clear_refs just before)."""
    code = (f"import sys; sys.argv = ['rnn.py']; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "import rnn, torch\n"
            "torch.set_num_threads(rnn.THREADS)\n"
            # warm up on a small problem: imports, kernel compilation or loading (the size makes
            # our kernels take their multi-thread paths, so those compile here), allocator pools
            f"rnn.build({name!r}, rnn.WARM_UP, {layers}, {bidirectional}, {impl!r})[0]()\n"
            f"train, _ = rnn.build({name!r}, {size!r}, {layers}, {bidirectional}, {impl!r})\n"
            "status = lambda key: next(int(line.split()[1]) for line in open('/proc/self/status')\n"
            "                          if line.startswith(key))\n"
            "open('/proc/self/clear_refs', 'w').write('5')\n"
            "before = status('VmRSS')\n"
            "train()\n"
            "print((status('VmHWM') - before) / 1024)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for torch, BLAS and our kernels")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--reference-repeats", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true", help="skip our (slow) reference path")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    parser.add_argument("--layers", default="LSTM,GRU,RNN", help="comma-separated subset of LSTM,GRU,RNN")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: our CuPy kernels against cuDNN, adding the size (64,100,256,512)")
    parser.add_argument("--quick", action="store_true",
                        help="the small warm-up size only, one round, no memory or compile-time processes: "
                             "checks that the script works (seconds)")
    args = parser.parse_args()
    if args.quick:
        args.repeats = args.reference_repeats = 1
        args.no_memory = True
    import torch
    from tinygrad_rnn.kernels import cpu_threads
    torch.set_num_threads(THREADS)
    cpu_threads.set_num_threads(THREADS)
    device = args.device
    rate = gemm_rate(n=256 if args.quick else 2048, device=device)
    if device == "cuda":
        import cupy
        args.no_memory = True   # peak resident memory is a CPU measure
        print(f"float32 GEMM rate (cuBLAS via CuPy): {rate:.0f} GFLOP/s; "
              f"{cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}; torch {torch.__version__}, "
              f"cuDNN {torch.backends.cudnn.version()}")
    else:
        print(f"float32 GEMM rate (SciPy OpenBLAS via Numba, {THREADS} threads, {openblas_kernel()} "
              f"kernels): {rate:.0f} GFLOP/s; torch {torch.__version__}, {THREADS} threads; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    if device == "cpu" and not args.quick:
        (import_cold, first), (import_warm, cached) = first_steps("LSTM")
        print(f"LSTM train step in a fresh process: import {import_cold:.2f} s + first call "
              f"{first:.2f} s with an empty Numba cache (compiles); import {import_warm:.2f} s + "
              f"first call {cached:.2f} s from the cache (benchmarks/cold_start.py)")
    header = (f"{'layer':<14}{'B,T,I,H':<16}{'mode':<6}{'fused ms':>9}{'ref ms':>9}{'torch ms':>9}"
              f"{'ratio':>7}{'GFLOP/s':>9}{'%GEMM':>7}{'mem MiB f/r/t':>17}{'load':>6}")
    print(header)
    rows = ROWS + (GPU_ROWS if device == "cuda" else [])
    if args.quick:
        rows = [(name, WARM_UP, 1, False) for name in GATES]
    for name, size, layers, bidirectional in (row for row in rows if row[0] in args.layers.split(",")):
        label = name + (f" {layers}L bi" if bidirectional else "")
        impls = ("fused", "torch") + (() if args.no_reference else ("reference",))
        steps = {impl: build(name, size, layers, bidirectional, impl, device=device) for impl in impls}
        memory = "" if args.no_memory else "/".join(
            f"{peak_memory_mib(name, size, layers, bidirectional, impl):.0f}"
            for impl in ("fused", "reference", "torch") if impl in impls)
        for mode, index, factor in (("train", 0, 3), ("infer", 1, 1)):
            times, rounds = interleaved_medians({
                impl: (steps[impl][index], args.reference_repeats if impl == "reference" else args.repeats)
                for impl in impls})
            flops = factor * gemm_flops(name, size, layers, bidirectional) / times["fused"] / 1e9
            ref = f"{times['reference'] * 1e3:9.1f}" if "reference" in times else f"{'-':>9}"
            print(f"{label:<14}{','.join(map(str, size)):<16}{mode:<6}{times['fused'] * 1e3:9.2f}{ref}"
                  f"{times['torch'] * 1e3:9.2f}{paired_ratio(rounds['fused'], rounds['torch']):7.2f}{flops:9.1f}"
                  f"{100 * flops / rate:7.0f}{memory if mode == 'train' else '':>17}{os.getloadavg()[0]:6.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
