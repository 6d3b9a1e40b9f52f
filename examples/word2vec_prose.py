"""Train skip-gram word2vec on English prose, query it, and plot a 2-D PCA map of some words.

    python examples/word2vec_prose.py [CORPUS] [--epochs 5] [--workers 2] [--out word2vec_prose.png]

CORPUS is a text file (``.gz`` allowed), one whitespace-tokenised sentence per line; the
default is the 3.4M-token ``../shared/data/w2v-prose.txt.gz`` (Wikipedia extracts, the King
James Bible, Jane Austen, movie reviews). Settings are word2vec's defaults (skip-gram,
negative 5, window 5, 100 dimensions, sample 1e-3, min_count 5, 5 epochs).

Measured on that corpus (workers=2 on 2 CPU cores shared with other jobs, load ~5, so the
speed is only indicative: 12.7M effective words in 72 s, 177k words/s):

          king: judah 0.76, ahab 0.76, jehoshaphat 0.76, babylon 0.76, zedekiah 0.76, assyria 0.76
     jerusalem: judah 0.82, gibeah 0.82, ekron 0.81, samaria 0.80, keilah 0.80, zidon 0.80
        sister: mother 0.85, aunt 0.82, brother 0.82, uncle 0.80, cousin 0.79, daughter 0.78
          film: movie 0.92, picture 0.74, films 0.72, flick 0.71, comedy 0.70, premise 0.70
          love: dearly 0.64, hewitt 0.61, sweetest 0.61, obsessed 0.60, hatred 0.60, hate 0.59
    man : king = woman : ?  ->  queen, ahab, esther

(the King James Bible dominates "king" and "jerusalem"). The PCA plot puts the family words
together, film/movie/story/plot/actor apart from them, the numbers two..five in a group, and
king/lord/god/prince beside israel/egypt/jerusalem.
"""

import argparse
from pathlib import Path

import numpy as np

from tinygrad_rnn.word2vec import Word2Vec

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "w2v-prose.txt.gz"
QUERIES = ["king", "jerusalem", "sister", "film", "love"]
ANALOGY = ("man", "king", "woman")  # man : king = woman : ?
PLOTTED = ["king", "queen", "prince", "lord", "god", "man", "woman", "father", "mother", "son",
           "daughter", "brother", "sister", "husband", "wife", "film", "movie", "actor", "story",
           "plot", "one", "two", "three", "four", "five", "egypt", "israel", "jerusalem", "london",
           "england"]


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project rows onto their first two principal components (SVD of the centred matrix)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T


def plot(words, points, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6))
    ax.scatter(points[:, 0], points[:, 1], s=12)
    for word, (x, y) in zip(words, points):
        ax.annotate(word, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
    ax.set_title("word2vec (skip-gram) vectors, first two principal components")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("word2vec_prose.png"))
    args = parser.parse_args()

    model = Word2Vec(corpus_file=args.corpus, epochs=args.epochs, workers=args.workers)
    report = model.last_report
    print(f"{model}: {report.effective_words:,} effective words in {report.seconds:.1f} s "
          f"({report.words_per_second:,.0f} words/s)")
    wv = model.wv
    for word in QUERIES:
        if word in wv:
            neighbours = ", ".join(f"{w} {s:.2f}" for w, s in wv.most_similar(word, topn=6))
            print(f"{word:>10}: {neighbours}")
    a, b, c = ANALOGY
    if all(w in wv for w in ANALOGY):
        answers = ", ".join(w for w, _ in wv.most_similar(positive=[b, c], negative=[a], topn=3))
        print(f"{a} : {b} = {c} : ?  ->  {answers}")
    words = [w for w in PLOTTED if w in wv]
    plot(words, pca_2d(wv[words]), args.out)
    print(f"saved the PCA plot of {len(words)} words to {args.out}")


if __name__ == "__main__":
    main()
