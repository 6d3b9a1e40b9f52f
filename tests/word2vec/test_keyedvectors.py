"""KeyedVectors queries and the word-pair / analogy evaluations (against scipy and gensim)."""
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn.word2vec import KeyedVectors

WORDS = {"man": (1, 0, 0), "woman": (1, 1, 0), "king": (1, 0, 1), "queen": (1, 1, 1),
         "apple": (0, 0, -1), "pear": (0.1, 0, -1), "plum": (0, 0.2, -1)}


@pytest.fixture
def kv():
    return KeyedVectors(list(WORDS), np.array(list(WORDS.values()), np.float32))


def test_lookup_and_unknown_words(kv):
    assert np.array_equal(kv["queen"], [1, 1, 1]) and kv[["man", "king"]].shape == (2, 3)
    assert kv.key_to_index["king"] == 2 and kv.index_to_key[3] == "queen" and "pear" in kv
    for query in (lambda: kv["prince"], lambda: kv.similarity("man", "prince"),
                  lambda: kv.most_similar("prince"), lambda: kv.doesnt_match(["man", "prince"])):
        with pytest.raises(KeyError, match="'prince' not in vocabulary"):
            query()


def test_bad_keys_and_shapes():
    with pytest.raises(ValueError, match=r"duplicate keys, e.g. \['a'\]"):
        KeyedVectors(["a", "b", "a"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"2 keys but vectors of shape \(3, 2\)"):
        KeyedVectors(["a", "b"], np.zeros((3, 2)))


def test_similarity_is_cosine(kv):
    assert kv.similarity("man", "woman") == pytest.approx(1 / np.sqrt(2))
    assert kv.similarity("king", "apple") == pytest.approx(-1 / np.sqrt(2))


def test_most_similar_and_analogy(kv):
    neighbours = kv.most_similar("apple", topn=2)
    assert [w for w, _ in neighbours] == ["pear", "plum"]
    assert neighbours[0][1] == pytest.approx(kv.similarity("apple", "pear"))
    assert kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"
    assert len(kv.most_similar("man", topn=100)) == len(kv) - 1  # the query word is excluded
    assert kv.most_similar(positive=[np.array([0, 0, -1.0])], topn=1)[0][0] == "apple"


def test_doesnt_match(kv):
    assert kv.doesnt_match(["apple", "pear", "plum", "king"]) == "king"


def test_word_pairs_match_scipy(tmp_path, kv):
    stats = pytest.importorskip("scipy.stats")
    path = tmp_path / "pairs.tsv"
    rows = [("man", "woman", 7), ("king", "queen", 8), ("apple", "pear", 9), ("apple", "king", 1),
            ("plum", "woman", 1), ("man", "dragon", 5), ("KING", "Man", 6)]
    path.write_text("# word1\tword2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    scores = kv.evaluate_word_pairs(path)
    known = [r for r in rows if r[1] != "dragon"]
    model = [kv.similarity(a.lower(), b.lower()) for a, b, _ in known]
    gold = [s for _, _, s in known]
    assert scores.pairs == 6 and scores.oov_percent == pytest.approx(100 / 7)
    assert scores.pearson == pytest.approx(stats.pearsonr(gold, model)[0], abs=1e-12)
    assert scores.spearman == pytest.approx(stats.spearmanr(gold, model)[0], abs=1e-12)
    with pytest.raises(ValueError, match="pairs.tsv:2: expected"):
        path.write_text("a\tb\t1\nc d 2\n" * 2)
        kv.evaluate_word_pairs(path)


def test_analogies_per_section(tmp_path, kv):
    path = tmp_path / "questions.txt"
    path.write_text(": royals\nman woman king queen\nman king woman queen\n"
                    ": fruit\napple pear man woman\napple dragon man woman\n")
    scores = kv.evaluate_word_analogies(path)
    assert (scores.covered, scores.questions) == (3, 4)
    assert [(s.name, s.correct, s.incorrect) for s in scores.sections] == [("royals", 2, 0), ("fruit", 0, 1)]
    assert scores.accuracy == pytest.approx(2 / 3)


def _gensim_data():
    gensim = pytest.importorskip("gensim")
    return Path(gensim.__file__).parent / "test" / "test_data"


def _structured_vectors(questions: Path, noise: float):
    """Vectors where a:b = c:d holds up to noise for the capital/country sections."""
    rng = np.random.default_rng(0)
    offset, vectors = rng.standard_normal(20), {}
    for line in questions.read_text().splitlines()[1:1000]:
        if line.startswith(":"):
            break
        for capital, country in (line.split()[:2], line.split()[2:]):
            vectors.setdefault(capital, rng.standard_normal(20))
            vectors.setdefault(country, vectors[capital] + offset + noise * rng.standard_normal(20))
    return list(vectors), np.array(list(vectors.values()), np.float32)


def test_evaluations_agree_with_gensim():
    data = _gensim_data()
    from gensim.models import KeyedVectors as GensimKeyedVectors

    keys, vectors = _structured_vectors(data / "questions-words.txt", noise=1.2)
    ours = KeyedVectors(keys, vectors)
    theirs = GensimKeyedVectors(vectors.shape[1])
    theirs.add_vectors(keys, vectors)
    analogies = ours.evaluate_word_analogies(data / "questions-words.txt")
    accuracy, sections = theirs.evaluate_word_analogies(str(data / "questions-words.txt"))
    assert 0.1 < analogies.accuracy < 0.9  # a test that can tell right from wrong answers
    assert analogies.accuracy == pytest.approx(accuracy)
    assert [(s.name, s.correct, s.incorrect) for s in analogies.sections if s.correct + s.incorrect] == \
        [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections[:-1]
         if s["correct"] or s["incorrect"]]

    wordsim = data / "wordsim353.tsv"
    words = sorted({w.lower() for line in wordsim.read_text().splitlines() if not line.startswith("#")
                    for w in line.split("\t")[:2]})[::2]
    random = np.random.default_rng(1).standard_normal((len(words), 10)).astype(np.float32)
    ours, theirs = KeyedVectors(words, random), GensimKeyedVectors(10)
    theirs.add_vectors(words, random)
    pairs = ours.evaluate_word_pairs(wordsim)
    (pearson, _), (spearman, _), oov = theirs.evaluate_word_pairs(str(wordsim))
    expected = (pearson, spearman, oov)
    assert (pairs.pearson, pairs.spearman, pairs.oov_percent) == pytest.approx(expected, abs=1e-6)
