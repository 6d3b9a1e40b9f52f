"""word2vec text/binary formats: round trips, gensim in both directions, damaged files."""
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn.word2vec import KeyedVectors
from tinygrad_rnn.word2vec.formats import load_word2vec_format, save_word2vec_format

KEYS = ["the", "naïve", "café", "x", "über"]
FIXTURES = Path(__file__).parent / "fixtures"  # written by gensim: fixtures/make_gensim_vectors.py


@pytest.fixture
def vectors():
    return np.random.default_rng(0).standard_normal((len(KEYS), 7)).astype(np.float32)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("suffix", [".txt", ".bin.gz"])
def test_round_trip_is_exact(tmp_path, vectors, binary, suffix):
    path = tmp_path / f"v{suffix}"
    save_word2vec_format(path, KEYS, vectors, binary=binary)
    keys, loaded = load_word2vec_format(path, binary=binary)
    assert keys == KEYS and loaded.dtype == np.float32
    assert np.array_equal(loaded, vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_ours_and_we_read_gensims(tmp_path, vectors, binary):
    gensim_models = pytest.importorskip("gensim.models")
    ours = tmp_path / "ours"
    KeyedVectors(KEYS, vectors).save_word2vec_format(ours, binary=binary)
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert theirs.index_to_key == KEYS and np.array_equal(theirs.vectors, vectors)

    gensim_file = tmp_path / "gensim"
    theirs.save_word2vec_format(str(gensim_file), binary=binary)
    back = KeyedVectors.load_word2vec_format(gensim_file, binary=binary)
    assert back.index_to_key == KEYS and np.array_equal(back.vectors, vectors)


@pytest.mark.parametrize("name, binary", [("gensim_vectors.txt", False), ("gensim_vectors.bin", True)])
def test_reads_files_written_by_gensim(vectors, name, binary):
    keys, loaded = load_word2vec_format(FIXTURES / name, binary=binary)
    assert keys == KEYS and np.array_equal(loaded, vectors)


def test_keys_that_the_format_cannot_hold(tmp_path, vectors):
    with pytest.raises(ValueError, match="'two words'.*whitespace"):
        save_word2vec_format(tmp_path / "v", ["two words"] + KEYS[1:], vectors)
    with pytest.raises(ValueError, match="5 keys but vectors of shape"):
        save_word2vec_format(tmp_path / "v", KEYS, vectors[:3])


@pytest.mark.parametrize("binary", [False, True])
def test_truncated_file(tmp_path, vectors, binary):
    path = tmp_path / "v"
    save_word2vec_format(path, KEYS, vectors, binary=binary)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError, match=r"file ends after \d of the 5 vectors"):
        load_word2vec_format(path, binary=binary)


def test_corrupt_files(tmp_path, vectors):
    path = tmp_path / "v"
    path.write_bytes(b"five 7\n")
    with pytest.raises(ValueError, match="bad header"):
        load_word2vec_format(path)
    path.write_bytes(b"1 3\nword 1.0 2.0\n")
    with pytest.raises(ValueError, match=r"entry 0 \('word'\) has 2 values, expected 3"):
        load_word2vec_format(path)
    path.write_bytes(b"1 2\nword 1.0 abc\n")
    with pytest.raises(ValueError, match="not a number"):
        load_word2vec_format(path)
    path.write_bytes(b"2 1\nw 1.0\nw 2.0\n")
    with pytest.raises(ValueError, match=r"duplicate words in the file, e.g. \['w'\]"):
        load_word2vec_format(path)
    save_word2vec_format(path, KEYS, vectors, binary=False)
    with pytest.raises(ValueError, match="binary=True"):
        load_word2vec_format(path, binary=True)
