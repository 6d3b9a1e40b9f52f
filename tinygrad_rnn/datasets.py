"""Real data that needs no network beyond the package registries, and the plumbing to batch it.

Sources (each loader names what to install when its source is missing):

* ``pydoc_text``: the English text of Python's reference documentation, shipped with every
  CPython as ``pydoc_data.topics`` (about 465 KB);
* ``text_file``: any UTF-8 text file;
* ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 images);
* ``sunspots``, ``co2``: statsmodels' bundled yearly sunspot numbers (1700-2008) and
  weekly Mauna Loa CO2 (1958-2001);
* ``gensim_test_file``, ``lee_background``, ``pang_lee_polarity``,
  ``wikipedia_articles``, ``evaluation_file``: corpora and word-vector evaluation files
  inside the gensim package's test data.

Plumbing: ``tokenize``, ``Vocab``, ``pad`` (padding/truncation to a maximum length,
returning ``lengths``) and ``bucket_batches`` (batches of similar lengths, so little of each
batch is padding).
"""
import importlib
import re
from collections import Counter
from pathlib import Path

import numpy as np

from .textio import read_text


def _require(module, package, purpose):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{purpose} needs {package}, which is not installed: pip install {package}") from error


# ----- text ---------------------------------------------------------------------------------
def pydoc_text():
    """The topics of Python's own reference documentation joined into one English text."""
    try:
        from pydoc_data.topics import topics
    except ImportError as error:
        raise ImportError("pydoc_text needs the standard library module pydoc_data, which this Python "
                          "lacks (some distributions split it out: install the full CPython, e.g. the "
                          "python3-doc / libpython3-stdlib package, or pass a text file)") from error
    return "\n\n".join(topics[key].strip() for key in sorted(topics))


def text_file(path, encoding="utf-8"):
    """The whole content of a text file; ``TextFileError`` names the file
    and the place when it is empty, binary or not in ``encoding``."""
    return read_text(path, encoding)


_WORD = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def tokenize(text, lower=True):
    """Words and punctuation marks: ``"It's 3 o'clock!"`` -> ``["it's", "3", "o'clock", "!"]``."""
    return _WORD.findall(text.lower() if lower else text)


# ----- scikit-learn and statsmodels ----------------------------------------------------------
def digits():
    """(images, labels): float32 images (1797, 8, 8) scaled to [0, 1] and int64 labels 0-9."""
    sk = _require("sklearn.datasets", "scikit-learn", "digits")
    bunch = sk.load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def sunspots():
    """(years, counts): yearly mean sunspot numbers 1700-2008 as float64 arrays."""
    sm = _require("statsmodels.datasets.sunspots", "statsmodels", "sunspots")
    frame = sm.load_pandas().data
    return frame["YEAR"].to_numpy(np.float64), frame["SUNACTIVITY"].to_numpy(np.float64)


def co2():
    """(dates, ppm): weekly Mauna Loa CO2 1958-2001; the 59 missing weeks are linearly interpolated."""
    sm = _require("statsmodels.datasets.co2", "statsmodels", "co2")
    frame = sm.load_pandas().data
    values = frame["co2"].to_numpy(np.float64, copy=True)
    missing = np.isnan(values)
    positions = np.arange(len(values))
    values[missing] = np.interp(positions[missing], positions[~missing], values[~missing])
    return frame.index.to_numpy(), values


# ----- gensim test data ---------------------------------------------------------------------
EVALUATION_FILES = {"analogies": "questions-words.txt", "wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}


def gensim_test_file(name):
    """Path of a file in gensim's bundled test data (``gensim/test/test_data/NAME``)."""
    utils = _require("gensim.test.utils", "gensim", f"gensim_test_file('{name}')")
    path = Path(utils.datapath(name))
    if not path.exists():
        raise FileNotFoundError(f"gensim_test_file: gensim's test data has no '{name}' (looked in {path.parent})")
    return path


def evaluation_file(name):
    """Path of a word-vector evaluation file: 'analogies', 'wordsim353' or 'simlex999'."""
    if name not in EVALUATION_FILES:
        raise ValueError(f"evaluation_file: unknown name '{name}', expected one of {sorted(EVALUATION_FILES)}")
    return gensim_test_file(EVALUATION_FILES[name])


def lee_background():
    """The 300 news articles of the Lee background corpus, one string each."""
    return [line.strip() for line in gensim_test_file("lee_background.cor").read_text("utf-8").splitlines()
            if line.strip()]


def pang_lee_polarity():
    """(sentences, labels): 200 movie-review sentences (Pang & Lee), label 1 = positive, 0 = negative."""
    sentences, labels = [], []
    # The file is Windows-1252 (its dashes are byte 0x97), not UTF-8.
    for line in gensim_test_file("pang_lee_polarity.cor").read_text("cp1252").splitlines():
        label, _, sentence = line.partition(" ")
        if label in ("__label__pos", "__label__neg"):
            sentences.append(sentence.strip())
            labels.append(int(label == "__label__pos"))
    return sentences, np.array(labels, dtype=np.int64)


def wikipedia_articles(limit=None):
    """(title, plain text) pairs from gensim's shortened English Wikipedia dump (markup removed)."""
    wiki = _require("gensim.corpora.wikicorpus", "gensim", "wikipedia_articles")
    import bz2
    path = gensim_test_file("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    articles = []
    with bz2.open(path, "rb") as dump:
        for title, markup, _ in wiki.extract_pages(dump):
            text = wiki.filter_wiki(markup).replace("'''", "").replace("''", "").strip()  # bold/italic marks
            if text and not text.lower().startswith("#redirect"):
                articles.append((title, text))
                if limit is not None and len(articles) >= limit:
                    break
    return articles


# ----- vocabulary, padding, batching --------------------------------------------------------
class Vocab:
    """Token <-> index. Specials come first (by default ``<pad>`` = 0, ``<unk>`` = 1), then
    tokens by decreasing frequency (ties in first-seen order)."""

    def __init__(self, tokens, specials=("<pad>", "<unk>")):
        self.itos = list(specials) + [t for t in tokens if t not in specials]
        self.stoi = {token: index for index, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("Vocab: tokens must be unique")
        self.unk_index = self.stoi.get("<unk>")
        self.pad_index = self.stoi.get("<pad>")

    @classmethod
    def build(cls, token_lists, min_freq=1, max_size=None, specials=("<pad>", "<unk>")):
        counts = Counter(token for tokens in token_lists for token in tokens)
        kept = [t for t, n in counts.most_common() if n >= min_freq and t not in specials]
        return cls(kept[:max_size] if max_size is not None else kept, specials)

    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def encode(self, tokens):
        """Token indices (int64); unknown tokens map to ``<unk>`` (a KeyError without one)."""
        if self.unk_index is None:
            missing = [t for t in tokens if t not in self.stoi]
            if missing:
                raise KeyError(f"Vocab.encode: tokens {missing[:5]} are not in the vocabulary (and it has no <unk>)")
        return np.array([self.stoi.get(t, self.unk_index) for t in tokens], dtype=np.int64)

    def decode(self, indices):
        return [self.itos[int(i)] for i in indices]

    def state_dict(self):
        return {"itos": list(self.itos)}

    @classmethod
    def from_state_dict(cls, state):
        return cls(state["itos"], specials=())


def pad(sequences, max_len=None, pad_value=0, truncate="post", dtype=np.int64):
    """(batch (N, L), lengths (N,)): sequences padded with ``pad_value`` after their end.

    ``max_len`` truncates longer sequences (``truncate="post"`` keeps the start, ``"pre"`` the
    end); L is the longest (truncated) length. Empty sequences are refused: a recurrent layer
    has no last step for them.
    """
    if truncate not in ("post", "pre"):
        raise ValueError(f"pad: truncate must be 'post' or 'pre', got {truncate!r}")
    sequences = [np.asarray(s) for s in sequences]
    if max_len is not None:
        sequences = [s[:max_len] if truncate == "post" else s[max(len(s) - max_len, 0):] for s in sequences]
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if len(sequences) == 0 or lengths.min() == 0:
        raise ValueError("pad: need at least one sequence and no empty sequences")
    batch = np.full((len(sequences), int(lengths.max())) + sequences[0].shape[1:], pad_value, dtype=dtype)
    for row, sequence in zip(batch, sequences):
        row[:len(sequence)] = sequence
    return batch, lengths


def bucket_indices(lengths, batch_size, shuffle, rng, pool=50):
    """The batches of ``bucket_batches`` as arrays of positions: shuffled (by the NumPy
    Generator ``rng``), sorted by length within pools of ``pool`` batches, cut, and the batches
    shuffled again."""
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    batches = []
    for start in range(0, len(order), batch_size * pool):
        chunk = order[start:start + batch_size * pool]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))] if shuffle else batches


def bucket_batches(sequences, batch_size, labels=None, max_len=None, shuffle=True, seed=0, pool=50):
    """Yield ``(batch, lengths, labels, indices)`` with sequences of similar length together.

    The order is shuffled, then sorted by length within pools of ``pool`` batches, cut into
    batches, and the batches shuffled: each batch is nearly padding-free while the epoch stays
    random. ``indices`` are the positions of the batch's sequences in ``sequences``.
    """
    batches = bucket_indices([len(s) for s in sequences], batch_size, shuffle, np.random.default_rng(seed), pool)
    labels = None if labels is None else np.asarray(labels)  # converted once, not per batch
    for indices in batches:
        batch, batch_lengths = pad([sequences[i] for i in indices], max_len)
        yield batch, batch_lengths, (None if labels is None else labels[indices]), indices
