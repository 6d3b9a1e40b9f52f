"""The two standard intrinsic evaluations of word vectors, computed as gensim does.

* Word pairs (wordsim353 format: ``word1<TAB>word2<TAB>score``, ``#`` comments): Pearson and
  Spearman correlation between the human scores and the cosine similarities, over the pairs whose
  two words are in the vocabulary, and the percentage of pairs left out for that reason.
* Analogies (questions-words format: ``: section`` lines, then ``a b c d`` meaning a:b = c:d):
  3CosAdd, the answer is ``argmax_w cos(w, b - a + c)`` over unit vectors, excluding a, b and c;
  accuracy per section and overall, over the questions whose four words are in the vocabulary.

Matching is case-insensitive by default (upper-cased; the most frequent word wins when several
map to one form), and only the ``restrict_vocab`` most frequent words take part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairScores:
    pearson: float
    spearman: float
    oov_percent: float
    pairs: int  # pairs evaluated (both words known)


@dataclass(frozen=True)
class AnalogySection:
    name: str
    correct: int
    incorrect: int

    @property
    def accuracy(self) -> float:
        total = self.correct + self.incorrect
        return self.correct / total if total else float("nan")


@dataclass(frozen=True)
class AnalogyScores:
    accuracy: float  # over all covered questions
    covered: int
    questions: int  # in the file, including those with unknown words
    sections: tuple  # AnalogySection per section, in file order


def _lookup(index_to_key, restrict_vocab: int, case_insensitive: bool) -> dict:
    keys = index_to_key[:restrict_vocab]
    if not case_insensitive:
        return {k: i for i, k in enumerate(keys)}
    return {k.upper(): i for i, k in reversed(list(enumerate(keys)))}


def _rank(values: np.ndarray) -> np.ndarray:
    """Ranks starting at 1, ties getting their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    first = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = ((starts + ends + 1) / 2.0)[group]
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    return float((x @ y) / np.sqrt((x @ x) * (y @ y)))


def evaluate_word_pairs(kv, path, delimiter: str = "\t", restrict_vocab: int = 300_000,
                        case_insensitive: bool = True) -> PairScores:
    """Correlate ``kv``'s cosine similarities with the human scores in ``path``."""
    lookup = _lookup(kv.index_to_key, restrict_vocab, case_insensitive)
    unit = kv.unit_vectors()
    gold, model, oov = [], [], 0
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.startswith("#"):
                continue
            try:
                a, b, score = line.rstrip("\n").split(delimiter)
                score = float(score)
            except ValueError:
                raise ValueError(f"evaluate_word_pairs: {path}:{number}: expected "
                                 f"'word1{delimiter}word2{delimiter}score', got {line.strip()!r}") from None
            if case_insensitive:
                a, b = a.upper(), b.upper()
            if a not in lookup or b not in lookup:
                oov += 1
                continue
            gold.append(score)
            model.append(float(unit[lookup[a]] @ unit[lookup[b]]))
    if len(gold) < 2:
        raise ValueError(f"evaluate_word_pairs: {path}: fewer than 2 pairs with known words "
                         f"({oov} pairs out of vocabulary)")
    gold, model = np.array(gold), np.array(model)
    return PairScores(pearson=_pearson(gold, model), spearman=_pearson(_rank(gold), _rank(model)),
                      oov_percent=100.0 * oov / (len(gold) + oov), pairs=len(gold))


def _read_analogies(path, lookup: dict, case_insensitive: bool):
    """Yield (section, indices (a, b, c, d) or None when a word is unknown)."""
    section = None
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.startswith(":"):
                section = line[1:].strip()
                continue
            words = line.split()
            if not words:
                continue
            if len(words) != 4 or section is None:
                raise ValueError(f"evaluate_word_analogies: {path}:{number}: expected four words "
                                 f"after a ': section' line, got {line.strip()!r}")
            if case_insensitive:
                words = [w.upper() for w in words]
            known = all(w in lookup for w in words)
            yield section, ([lookup[w] for w in words] if known else None)


def evaluate_word_analogies(kv, path, restrict_vocab: int = 300_000, case_insensitive: bool = True,
                            batch: int = 2048) -> AnalogyScores:
    """3CosAdd accuracy on the analogy questions in ``path``."""
    lookup = _lookup(kv.index_to_key, restrict_vocab, case_insensitive)
    unit = kv.unit_vectors()[:restrict_vocab]
    names, section_of, questions, total = [], [], [], 0
    for section, indices in _read_analogies(path, lookup, case_insensitive):
        total += 1
        if not names or names[-1] != section:
            names.append(section)
        if indices is not None:
            section_of.append(len(names) - 1)
            questions.append(indices)
    q = np.array(questions, np.int64).reshape(-1, 4)
    correct = np.zeros(len(q), bool)
    rows = np.arange(min(batch, len(q)))
    for start in range(0, len(q), batch):
        a, b, c, d = q[start:start + batch].T
        scores = (unit[b] - unit[a] + unit[c]) @ unit.T
        r = rows[:len(a)]
        scores[r, a] = scores[r, b] = scores[r, c] = -np.inf
        correct[start:start + batch] = scores.argmax(axis=1) == d
    section_of = np.array(section_of, np.int64)
    sections = tuple(AnalogySection(name, int(correct[section_of == i].sum()),
                                    int((~correct[section_of == i]).sum()))
                     for i, name in enumerate(names))
    accuracy = float(correct.mean()) if len(q) else float("nan")
    return AnalogyScores(accuracy=accuracy, covered=len(q), questions=total, sections=sections)
