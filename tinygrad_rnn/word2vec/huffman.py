"""The Huffman tree of hierarchical softmax: a binary code and a path of inner nodes per word.

Built as word2vec.c and gensim do: repeatedly merge the two least frequent nodes into a new inner
node (numbered ``0, 1, ...`` in merge order, so the root is ``V - 2``); the first one popped
becomes the left child (code bit 0), the second the right (bit 1).  Nodes of equal count pop in
the order of gensim's heap, which compares counts alone (``heapq`` over the words in index order,
so its sift order decides ties): the codes equal gensim's exactly.  word2vec.c's two-queue merge
breaks ties otherwise, so its codes can differ where counts repeat (equally good trees: the
expected code length is the same).

A word's ``points`` are the inner nodes from the root down to its parent and its ``codes`` the
turns taken at each of them; frequent words get short paths.  The arrays are flattened for the
kernel: word ``w``'s path is ``points[offsets[w]:offsets[w + 1]]`` (the same slice of ``codes``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np


class _Node:
    """A heap entry ordered by count alone (gensim's ``Heapitem``), so ties keep heap order."""

    __slots__ = ("count", "index")

    def __init__(self, count: int, index: int):
        self.count, self.index = count, index

    def __lt__(self, other: "_Node") -> bool:
        return self.count < other.count


@dataclass(frozen=True)
class HuffmanTree:
    points: np.ndarray   # int64: inner-node indices (rows of syn1), root first, all words concatenated
    codes: np.ndarray    # uint8: the bit of each step, 1 = right child
    offsets: np.ndarray  # int64 (V + 1,): word w's path is [offsets[w], offsets[w + 1])

    def path(self, word: int) -> tuple[list[int], list[int]]:
        """``(points, codes)`` of one word as lists."""
        lo, hi = self.offsets[word], self.offsets[word + 1]
        return self.points[lo:hi].tolist(), self.codes[lo:hi].tolist()


def huffman_tree(counts) -> HuffmanTree:
    """The tree over ``counts`` (one per word index; V - 1 inner nodes)."""
    counts = [int(c) for c in counts]
    vocab_size = len(counts)
    if vocab_size == 0:
        raise ValueError("huffman_tree: empty vocabulary")
    heap = [_Node(c, i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent = np.zeros(2 * vocab_size - 1, np.int64)  # node -> its inner node's number + V
    bit = np.zeros(2 * vocab_size - 1, np.uint8)
    for inner in range(vocab_size, 2 * vocab_size - 1):
        left, right = heapq.heappop(heap), heapq.heappop(heap)
        parent[left.index], parent[right.index], bit[right.index] = inner, inner, 1
        heapq.heappush(heap, _Node(left.count + right.count, inner))
    root = 2 * vocab_size - 2
    points, codes, offsets = [], [], [0]
    for word in range(vocab_size):
        up = []  # (inner node, bit) from the word up to the root's child
        node = word
        while node != root:
            up.append((parent[node] - vocab_size, bit[node]))
            node = parent[node]
        points.extend(p for p, _ in reversed(up))
        codes.extend(b for _, b in reversed(up))
        offsets.append(len(points))
    return HuffmanTree(np.array(points, np.int64), np.array(codes, np.uint8), np.array(offsets, np.int64))
