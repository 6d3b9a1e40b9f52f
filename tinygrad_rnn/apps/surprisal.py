"""How surprised a trained character model is by each character of a text.

The surprisal of character c_t is -log2 p(c_t | c_1 … c_(t-1)) bits: the information the model
did not expect. Its mean over the text is the bits per character, and 2^mean the perplexity
(the number of equally likely choices the model hesitates between, on average). A reader of a
garden-path sentence ("The old man the boat.") is surprised where the parse breaks; a language
model's surprisal rises where its own expectation breaks, which ``plot`` shows along the text.
"""
import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..tensor import Tensor
from .plotting import save_and_show


def surprisal(model, vocab, text):
    """Bits of surprisal for characters 2 … n of ``text`` (the first has no context), as a
    (n - 1,) array."""
    if len(text) < 2:
        raise ValueError("score: the text needs at least two characters (the first is the context)")
    unknown = sorted(set(text) - set(vocab.itos))
    if unknown:
        raise ValueError(f"score: the text has characters {unknown} that are not in the model's vocabulary")
    ids = vocab.encode(text)
    model.eval()
    with no_grad():
        logits, _ = model(Tensor(ids[:-1, None]))
        log_p = F.log_softmax(logits.reshape(len(ids) - 1, -1), axis=-1).numpy()
    model.train()
    return -log_p[np.arange(len(ids) - 1), ids[1:]] / np.log(2)


def perplexity(bits):
    """2 ** (mean surprisal in bits)."""
    return float(2 ** np.mean(bits))


def plot(text, bits, path, plt):
    """Surprisal per character as bars, the characters beneath."""
    figure, axes = plt.subplots(figsize=(max(6, 0.14 * len(bits) + 1.5), 3.2))
    axes.bar(np.arange(len(bits)), bits, color="#4c72b0")
    axes.set_xticks(np.arange(len(bits)), [repr(c)[1:-1] for c in text[1:]], fontsize=7, family="monospace")
    axes.set(ylabel="surprisal (bits)", xlim=(-0.7, len(bits) - 0.3),
             title=f"{np.mean(bits):.2f} bits per character, perplexity {perplexity(bits):.1f}")
    figure.tight_layout()
    save_and_show(figure, path, dpi=110)
    return path
