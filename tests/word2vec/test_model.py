"""Word2Vec end to end on a small synthetic corpus: learning, determinism, persistence, bad input."""
import gzip

import numpy as np
import pytest

from tinygrad_rnn.word2vec import LineCorpus, Word2Vec

FAST = dict(vector_size=16, window=3, min_count=1, negative=3, sample=0, epochs=3, progress=False)


@pytest.mark.parametrize("sg, cbow_mean", [(1, True), (0, True), (0, False)])
def test_learns_topics_and_the_loss_falls(sg, cbow_mean, topic_corpus):
    model = Word2Vec(topic_corpus(), sg=sg, cbow_mean=cbow_mean, compute_loss=True, **FAST)
    within = model.wv.similarity("fruit0", "fruit1")
    across = model.wv.similarity("fruit0", "tool1")
    assert within > across + 0.5
    assert model.wv.most_similar("tool3", topn=5)[0][0].startswith("tool")
    losses = model.loss_history
    assert len(losses) == 3 and losses[-1] < losses[0] and np.isfinite(losses).all()
    assert model.get_latest_training_loss() == losses[-1]
    effective, raw = model.last_report.effective_words, model.last_report.raw_words
    assert raw == 3 * 600 * 8 and effective == raw  # sample=0 keeps every word


def test_one_worker_is_deterministic_and_two_workers_train(topic_corpus):
    corpus = topic_corpus(300)
    a, b = (Word2Vec(corpus, seed=3, **FAST).wv.vectors for _ in range(2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, Word2Vec(corpus, seed=4, **FAST).wv.vectors)
    two = Word2Vec(corpus, seed=3, workers=2, **FAST)
    assert two.wv.similarity("fruit0", "fruit1") > two.wv.similarity("fruit0", "tool1")


def test_corpus_file_equals_sentences(tmp_path, topic_corpus):
    corpus = topic_corpus(200)
    path = tmp_path / "corpus.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(" ".join(s) + "\n" for s in corpus)
    from_file = Word2Vec(corpus_file=path, **FAST)
    assert list(LineCorpus(path)) == corpus
    assert np.array_equal(from_file.wv.vectors, Word2Vec(corpus, **FAST).wv.vectors)


def test_save_load_round_trip_and_training_continues(tmp_path, topic_corpus):
    model = Word2Vec(topic_corpus(200) + [["naïve", "café"]], compute_loss=True, **FAST)
    model.save(tmp_path / "m.npz")
    loaded = Word2Vec.load(tmp_path / "m.npz")
    assert loaded.wv.index_to_key == model.wv.index_to_key
    assert np.array_equal(loaded.wv.vectors, model.wv.vectors)
    assert np.array_equal(loaded.syn1neg, model.syn1neg)
    assert loaded.settings == model.settings and loaded.loss_history == model.loss_history
    assert np.array_equal(loaded.vocab.cum_table, model.vocab.cum_table)
    loaded.train(topic_corpus(200), epochs=1)
    assert loaded.epochs_trained == 4


def test_paper_sample_formula_reaches_the_vocabulary_and_survives_save_load(tmp_path, topic_corpus):
    corpus = topic_corpus(200)
    settings = {**FAST, "sample": 1e-2}
    code = Word2Vec(corpus, **settings)
    paper = Word2Vec(corpus, sample_formula="paper", **settings)
    assert paper.vocab.sample_formula == "paper" and code.vocab.sample_formula == "code"
    # the paper's formula keeps fewer of the frequent words: fewer effective words were trained
    assert paper.last_report.effective_words < code.last_report.effective_words
    paper.save(tmp_path / "paper.npz")
    loaded = Word2Vec.load(tmp_path / "paper.npz")
    assert loaded.settings.sample_formula == "paper"
    assert np.array_equal(loaded.vocab.keep_threshold, paper.vocab.keep_threshold)
    with pytest.raises(ValueError, match="Word2Vec: sample_formula must be 'code'.*got 'Code'"):
        Word2Vec(sample_formula="Code")


def test_progress_line_reports_rate_and_alpha(capsys, topic_corpus):
    Word2Vec(topic_corpus(100), **{**FAST, "progress": True})
    err = capsys.readouterr().err
    assert "effective words/s" in err and "alpha 0.00010" in err and "100.0%" in err


@pytest.mark.parametrize("option, message", [
    (dict(window=0), "window must be >= 1, got 0"),
    (dict(negative=-1), "negative must be >= 0, got -1"),
    (dict(negative=0), "no objective: set hs=1 .* or negative >= 1"),
    (dict(hs=2), "hs must be 0 or 1 .1: hierarchical softmax., got 2"),
    (dict(sg=2), "sg must be 0 .CBOW. or 1 .skip-gram., got 2"),
    (dict(vector_size=0), "vector_size must be >= 1"),
    (dict(min_alpha=0.1), "min_alpha <= alpha"),
])
def test_bad_settings(option, message):
    with pytest.raises(ValueError, match=message):
        Word2Vec(**option)


def test_settings_must_be_integers():
    with pytest.raises(TypeError, match="window must be an int, got 2.5"):
        Word2Vec(window=2.5)


def test_bad_corpora(tmp_path):
    with pytest.raises(ValueError, match="corpus is empty"):
        Word2Vec([[], []], **FAST)
    with pytest.raises(ValueError, match="min_count=50 leaves an empty vocabulary"):
        Word2Vec([["a", "b"]] * 3, **{**FAST, "min_count": 50})
    with pytest.raises(TypeError, match="tokens must be str, got 7"):
        Word2Vec([["a", 7]], **FAST)
    with pytest.raises(TypeError, match="re-iterable.*generator"):
        Word2Vec((s for s in [["a"]]), **FAST)
    with pytest.raises(ValueError, match="exactly one of sentences and corpus_file"):
        Word2Vec(progress=False).build_vocab([["a"]], corpus_file="x.txt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        Word2Vec(corpus_file=tmp_path / "missing.txt", **FAST)
    with pytest.raises(RuntimeError, match="build_vocab first"):
        Word2Vec(progress=False).train([["a"]])
    with pytest.raises(RuntimeError, match="no loss recorded"):
        Word2Vec(progress=False).get_latest_training_loss()


def test_max_vocab_size_bounds_the_vocabulary(topic_corpus):
    model = Word2Vec(topic_corpus(50) + [[f"rare{i}" for i in range(40)]], max_vocab_size=20, **FAST)
    assert len(model.wv) <= 20 and not any(w.startswith("rare") for w in model.wv.index_to_key)


def test_a_corpus_error_during_training_reaches_the_caller(topic_corpus):
    class FailsOnSecondPass:
        passes = 0

        def __iter__(self):
            self.passes += 1
            if self.passes > 1:
                raise OSError("disk gone")
            return iter(topic_corpus(50))

    with pytest.raises(OSError, match="disk gone"):
        Word2Vec(FailsOnSecondPass(), workers=2, **FAST)
