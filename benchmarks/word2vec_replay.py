"""Our update rules driven by gensim's random choices: is the gap to gensim only dice?

    python benchmarks/word2vec_replay.py [--corpus FILE] [--variant sg-ns] [--seeds 3] [--epochs 5] [--quick]

For each seed gensim trains as ``word2vec.py --decay words`` does (one worker), and a
replay starts from gensim's initial vectors and repeats gensim's every random choice: its jobs of
at most 10,000 words with one learning rate each, the subsampling and negative draws of its
linear congruential generator (``(r >> 16) % cum_table[-1]``), and the reduced windows of its
``RandomState``.  Each word pair (skip-gram) or window (CBOW) is then trained by our kernel's
``sg_pair_update`` or ``cbow_update``, on gensim's Huffman tree for hierarchical softmax: the
only difference left is our exact sigmoid against gensim's 1000-entry table (whose index uses
the integer factor 1000 // 6 // 2 = 83, not 83.3, and which skips rows with |f| >= 6).  Our own
model trains too (``Word2Vec``, decay by words, its own random stream).  If the replay scores
what gensim scores seed by seed while our model's scores scatter around gensim's, the gap is
the dice, not the rule.
``--variant`` as in ``word2vec.py`` (sg-ns: skip-gram, negative 5; sg-hs, cbow-hs: hierarchical
softmax alone); window 5, 100 dimensions, sample 1e-3, min_count 5.
"""

import argparse
import copy
import statistics
import tempfile
from pathlib import Path

import numpy as np
from numba import njit

from tinygrad_rnn.kernels import numba_word2vec as kernel
from tinygrad_rnn.word2vec import KeyedVectors, LineCorpus, Word2Vec
from word2vec import DEFAULT_CORPUS, QUICK_LINES, SETTINGS, VARIANTS, evaluation_files, first_lines, scores

_MUL, _ADD, _MASK = np.uint64(25214903917), np.uint64(11), np.uint64(2**48 - 1)
BATCH_WORDS = 10_000  # gensim's batch_words


@njit(cache=True)
def _subsample(indexes, sample_int, state):
    """gensim's draw: keep word w unless ``sample_int[w] < state >> 16``; the state steps per word."""
    kept = np.empty(indexes.shape[0], np.int64)
    n = 0
    for w in indexes:
        random = state >> np.uint64(16)
        state = (state * _MUL + _ADD) & _MASK
        if sample_int[w] >= random:
            kept[n] = w
            n += 1
    return kept[:n], state


@njit(cache=True)
def _train_job(syn0, syn1, syn1neg, words, ends, reduced, tree, cum_table, alpha, state, window, negative, sg):
    """gensim's ``train_batch_sg`` or ``train_batch_cbow`` loop and negative draws, each update
    made by our kernel; ``tree`` = (points, codes, offsets) of every word, empty without hs."""
    size = syn0.shape[1]
    grad_h, h = np.empty(size, syn0.dtype), np.empty(size, syn0.dtype)
    negatives, contexts = np.empty(negative, np.int64), np.empty(2 * window, np.int64)
    points, codes, offsets = tree
    top = np.uint64(cum_table[-1]) if negative else np.uint64(1)
    start = 0
    for end in ends:
        for i in range(start, end):
            target = words[i]
            path = slice(offsets[target], offsets[target + 1]) if offsets.shape[0] else slice(0, 0)
            lo, hi = max(start, i - window + reduced[i]), min(end, i + window + 1 - reduced[i])
            c = 0
            for j in range(lo, hi):
                if j == i:
                    continue
                if not sg:
                    contexts[c] = words[j]
                    c += 1
                    continue
                state = _negatives(cum_table, top, state, negatives)
                kernel.sg_pair_update(syn0, syn1, syn1neg, words[j], points[path], codes[path], target,
                                      negatives, alpha, grad_h, False)
            if not sg:
                state = _negatives(cum_table, top, state, negatives)   # drawn even without context
                if c:
                    kernel.cbow_update(syn0, syn1, syn1neg, contexts[:c], points[path], codes[path], target,
                                       negatives, alpha, True, h, grad_h, False)
        start = end
    return state


@njit(cache=True)
def _negatives(cum_table, top, state, negatives):
    """gensim's negative draws into ``negatives``; the state steps per draw."""
    for k in range(negatives.shape[0]):
        negatives[k] = np.searchsorted(cum_table, (state >> np.uint64(16)) % top)
        state = (state * _MUL + _ADD) & _MASK
    return state


def _tree(model):
    """gensim's Huffman paths as (points, codes, offsets) arrays, all empty without hs."""
    if not model.hs:
        return np.empty(0, np.int64), np.empty(0, np.uint8), np.empty(0, np.int64)
    points, codes = model.wv.expandos["point"], model.wv.expandos["code"]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in points])]).astype(np.int64)
    return (np.concatenate(points).astype(np.int64), np.concatenate(codes).astype(np.uint8), offsets)


def _jobs(sentences):
    """gensim's ``_job_producer`` grouping: sentences while the job stays within BATCH_WORDS."""
    job, size = [], 0
    for sentence in sentences:
        if job and size + len(sentence) > BATCH_WORDS:
            yield job, size
            job, size = [], 0
        job.append(sentence)
        size += len(sentence)
    if job:
        yield job, size


def replay(model, sentences, epochs):
    """Train copies of gensim ``model``'s untrained weights with its random choices; returns syn0."""
    syn0, random = model.wv.vectors.copy(), copy.deepcopy(model.random)
    empty = np.empty((0, syn0.shape[1]), syn0.dtype)
    syn1 = model.syn1.copy() if model.hs else empty
    syn1neg = model.syn1neg.copy() if model.negative else empty
    tree, cum_table = _tree(model), model.cum_table if model.negative else np.zeros(1, np.uint32)
    lookup, sample_int = model.wv.key_to_index, model.wv.expandos["sample_int"]
    window, total = model.window, model.corpus_total_words
    for epoch in range(epochs):
        pushed = 0
        for job, size in _jobs(sentences):
            alpha = max(model.min_alpha, model.alpha - (model.alpha - model.min_alpha) * (epoch + pushed / total) / epochs)
            pushed += size
            state = np.uint64(2**24 * random.randint(0, 2**24) + random.randint(0, 2**24))
            parts, ends = [], []
            for sentence in job:
                indexes = np.array([lookup[w] for w in sentence if w in lookup], np.int64)
                kept, state = _subsample(indexes, sample_int, state)
                parts.append(kept)
                ends.append(ends[-1] + len(kept) if ends else len(kept))
            words = np.concatenate(parts)
            reduced = random.randint(0, window, len(words)).astype(np.int64)
            state = _train_job(syn0, syn1, syn1neg, words, np.array(ends, np.int64), reduced, tree,
                               cum_table, alpha, state, window, model.negative, bool(model.sg))
    return syn0


def one_seed(corpus, variant, seed, epochs):
    """(gensim, replay, ours) scores and the largest |gensim - replay| vector component."""
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.models.word2vec import LineSentence

    model = GensimWord2Vec(seed=seed, workers=1, epochs=epochs, **SETTINGS, **VARIANTS[variant])
    sentences = LineSentence(str(corpus))
    model.build_vocab(sentences)
    replayed = replay(model, sentences, epochs)
    model.train(sentences, total_words=model.corpus_total_words, epochs=epochs)
    ours = Word2Vec(seed=seed, workers=1, epochs=epochs, progress=False, alpha_decay="words", **SETTINGS,
                    **VARIANTS[variant])
    ours.build_vocab(LineCorpus(corpus))
    ours.train(LineCorpus(corpus))
    pairs, analogies = evaluation_files()
    keys = model.wv.index_to_key
    return ([scores(kv, pairs, analogies) for kv in (KeyedVectors(keys, model.wv.vectors),
                                                     KeyedVectors(keys, replayed), ours.wv)],
            float(np.abs(model.wv.vectors - replayed).max()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--variant", choices=list(VARIANTS), default="sg-ns")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help=f"one seed, one epoch, first {QUICK_LINES} lines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.quick:
            args.corpus, args.seeds, args.epochs = first_lines(args.corpus, QUICK_LINES, folder), 1, 1
        print(f"corpus {args.corpus.resolve()}, {args.variant}, {args.epochs} epochs; wordsim353 Spearman / "
              f"analogy accuracy")
        print(f"{'seed':>4} {'gensim':>15} {'replay':>15} {'ours':>15} {'max|gensim-replay|':>19}")
        gaps = {"replay": [], "ours": []}
        for seed in range(1, args.seeds + 1):
            (g, r, o), largest = one_seed(args.corpus, args.variant, seed, args.epochs)
            gaps["replay"].append(r[0] - g[0])
            gaps["ours"].append(o[0] - g[0])
            print(f"{seed:4d} {g[0]:7.4f} {g[1]:7.4f} {r[0]:7.4f} {r[1]:7.4f} {o[0]:7.4f} {o[1]:7.4f} {largest:19.2e}")
    for name, gap in gaps.items():
        spread = statistics.stdev(gap) if len(gap) > 1 else float("nan")
        print(f"{name} - gensim Spearman: mean {statistics.mean(gap):+.4f}, std over seeds {spread:.4f}")


if __name__ == "__main__":
    main()
