"""A character-level LSTM language model on Python's own documentation, in about four minutes.

The same job as ``python -m tinygrad_rnn train-charlm``, written out with the library calls:
a 2-layer LSTM (256 units) reads ``pydoc_data``'s English text in 100-character chunks with
truncated BPTT and gradient clipping, for the default 240-second budget; then it writes
``charlm-example/{charlm.npz, loss.png, samples.txt}``, reports held-out bits per character
and samples at three temperatures.

Measured here (2 CPU cores shared with other jobs, load average ~7, fused Numba LSTM kernels):
749 steps of 16x100 characters in 241 s (4 min 9 s wall in all), held-out 1.650 bits per
character on 20,000 characters (uniform guessing: 6.69). The sample at temperature 0.5:

    The dictionary for example, the contains the subject to all the case base class to the
    code but name is not representation is not a class that may be calling "__hash__()"
    method is done an string in a class instance of the class and its prode an exception in
    the case value will be an exceptions that

Run: ``python examples/charlm.py [--quick]``
"""
import argparse

from tinygrad_rnn import datasets
from tinygrad_rnn.apps import charlm

QUICK_CONFIG = dict(hidden=32, layers=1, seq_len=20, steps=3, valid_chars=2000, sample_length=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds) that checks the script works")
    quick = parser.parse_args().quick
    config = charlm.CharLMConfig(**QUICK_CONFIG) if quick else charlm.CharLMConfig()
    # overwrite: each run of the example replaces the previous one (the command refuses by default)
    model, vocab, results = charlm.train(datasets.pydoc_text(), config, out_dir="charlm-example", overwrite=True)
    for temperature in (0.5, 0.8, 1.0):
        print(f"--- temperature {temperature} ---")
        print(charlm.sample(model, vocab, "The ", 30 if quick else 300, temperature, seed=1))


if __name__ == "__main__":
    main()
