"""Streaming corpora and their integer batches."""
import pytest

from tinygrad_rnn.word2vec.corpus import LineCorpus, check_reiterable, encode_batches


def test_batches_cut_long_sentences_and_mark_unknown_words():
    batches = encode_batches([["a", "b", "zz"], ["b"] * 7, []], {"a": 0, "b": 1}, batch_words=9,
                             max_sentence_words=3)
    assert [(w.tolist(), e.tolist(), r) for w, e, r in batches] == [
        ([0, 1, -1] + [1] * 7, [3, 6, 9, 10], 10), ([], [0], 0)]


def test_line_corpus_restarts_on_every_pass(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b  c\n\nd\n")
    corpus = check_reiterable(LineCorpus(path))
    assert list(corpus) == list(corpus) == [["a", "b", "c"], [], ["d"]]
    with pytest.raises(TypeError, match="one-shot list_iterator"):
        check_reiterable(iter([["a"]]))
