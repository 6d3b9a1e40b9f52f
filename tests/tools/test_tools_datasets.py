"""Dataset loaders (real bundled data) and the tokenise / vocabulary / pad / bucket plumbing."""
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_rnn import datasets


def test_pydoc_text_is_the_english_reference_docs():
    text = datasets.pydoc_text()
    assert 400_000 < len(text) < 1_000_000 and 'The "assert" statement' in text


def test_text_file_reads_and_names_a_missing_path(tmp_path):
    (tmp_path / "a.txt").write_text("héllo", encoding="utf-8")
    assert datasets.text_file(tmp_path / "a.txt") == "héllo"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        datasets.text_file(tmp_path / "nope.txt")


def test_tokenize_keeps_contractions_and_punctuation():
    assert datasets.tokenize("It's 3 o'clock, Bob!") == ["it's", "3", "o'clock", ",", "bob", "!"]


def test_digits_shapes_and_range():
    pytest.importorskip("sklearn")
    images, labels = datasets.digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32 and 0 <= images.min() and images.max() <= 1
    assert set(labels) == set(range(10))


def test_statsmodels_series():
    pytest.importorskip("statsmodels")
    years, counts = datasets.sunspots()
    assert years[0] == 1700 and len(years) == len(counts) == 309
    _, ppm = datasets.co2()
    assert len(ppm) == 2284 and not np.isnan(ppm).any() and 310 < ppm.min() < ppm.max() < 380


def test_gensim_corpora_and_evaluation_files():
    pytest.importorskip("gensim")
    assert len(datasets.lee_background()) == 300
    sentences, labels = datasets.pang_lee_polarity()
    assert len(sentences) == 200 and labels.sum() == 100
    assert datasets.evaluation_file("analogies").name == "questions-words.txt"
    with pytest.raises(FileNotFoundError, match="no-such-file"):
        datasets.gensim_test_file("no-such-file")
    articles = datasets.wikipedia_articles(limit=2)
    assert len(articles) == 2 and all(len(text) > 100 for _, text in articles)


def test_missing_package_error_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        datasets.digits()
    monkeypatch.setitem(sys.modules, "gensim.test.utils", None)
    with pytest.raises(ImportError, match="pip install gensim"):
        datasets.lee_background()


def test_vocab_orders_by_frequency_and_maps_unknowns():
    vocab = datasets.Vocab.build([["b", "a", "b"], ["c", "b", "a"]], min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "b", "a"]
    assert vocab.encode(["a", "zzz"]).tolist() == [3, 1]
    assert vocab.decode([2, 3]) == ["b", "a"]
    again = datasets.Vocab.from_state_dict(vocab.state_dict())
    assert again.itos == vocab.itos and again.unk_index == 1
    strict = datasets.Vocab(["x"], specials=())
    with pytest.raises(KeyError, match="'y'"):
        strict.encode(["y"])


def test_pad_truncates_from_either_end():
    batch, lengths = datasets.pad([[1, 2, 3, 4], [5]], max_len=3)
    assert batch.tolist() == [[1, 2, 3], [5, 0, 0]] and lengths.tolist() == [3, 1]
    batch, _ = datasets.pad([[1, 2, 3, 4], [5]], max_len=3, truncate="pre", pad_value=-1)
    assert batch.tolist() == [[2, 3, 4], [5, -1, -1]]
    with pytest.raises(ValueError, match="empty"):
        datasets.pad([[1], []])


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 30), min_size=1, max_size=60), batch_size=st.integers(1, 8),
       shuffle=st.booleans())
def test_bucket_batches_cover_every_sequence_once_with_exact_lengths(lengths, batch_size, shuffle):
    sequences = [np.full(n, i + 1) for i, n in enumerate(lengths)]
    seen = []
    for batch, batch_lengths, labels, indices in datasets.bucket_batches(
            sequences, batch_size, labels=np.arange(len(lengths)), shuffle=shuffle, pool=2):
        assert len(indices) <= batch_size and labels.tolist() == list(indices)
        for row, n, i in zip(batch, batch_lengths, indices):
            assert n == lengths[i] and (row[:n] == i + 1).all() and (row[n:] == 0).all()
        seen.extend(indices.tolist())
    assert sorted(seen) == list(range(len(lengths)))


def test_bucketing_reduces_padding():
    rng = np.random.default_rng(0)
    sequences = [np.ones(n) for n in rng.integers(1, 100, size=400)]
    padded = sum(b.size for b, *_ in datasets.bucket_batches(sequences, 16, pool=25))
    unsorted = sum(b.size for b, *_ in datasets.bucket_batches(sequences, 16, pool=1))
    assert padded < 0.7 * unsorted
