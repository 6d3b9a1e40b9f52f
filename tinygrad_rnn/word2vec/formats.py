"""word2vec.c's vector file formats (the ones gensim's ``load_word2vec_format`` reads).

Both start with an ASCII header ``"<count> <dimension>\\n"``.  Text: then one line per word,
``word v_1 ... v_d``.  Binary: then per word the UTF-8 word, a space, ``d`` little-endian float32
values and a newline (word2vec.c writes the newline, gensim does not; both are read).
Files ending in ``.gz`` are gzip-compressed.  A file that is empty, truncated or malformed raises
``ValueError`` naming the file, the entry and its line (text) or byte offset (binary).
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import numpy as np

from tinygrad_rnn.textio import TextFileError, decode_text

_FLOAT32_LE = np.dtype("<f4")


def _open(path: Path, mode: str):
    return gzip.open(path, mode) if path.suffix == ".gz" else open(path, mode)


def save_word2vec_format(path, keys: list, vectors: np.ndarray, binary: bool = False) -> None:
    """Write ``keys`` and their rows of ``vectors`` (shape ``(len(keys), d)``)."""
    path = Path(path)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(keys):
        raise ValueError(f"save_word2vec_format: {len(keys)} keys but vectors of shape {vectors.shape}")
    for key in keys:
        if not key or any(ch.isspace() for ch in key):
            raise ValueError(f"save_word2vec_format: key {key!r} is empty or contains whitespace, "
                             "which the word2vec format cannot store")
    with _open(path, "wb") as out:
        out.write(f"{len(keys)} {vectors.shape[1]}\n".encode())
        if binary:
            rows = vectors.astype(_FLOAT32_LE)
            for key, row in zip(keys, rows):
                out.write(key.encode("utf-8") + b" " + row.tobytes() + b"\n")
        else:
            for key, row in zip(keys, vectors.astype(np.float32)):
                out.write(f"{key} {' '.join(repr(float(v)) for v in row)}\n".encode("utf-8"))


def load_word2vec_format(path, binary: bool = False) -> tuple[list[str], np.ndarray]:
    """Read a word2vec file; returns ``(keys, vectors)`` with float32 vectors."""
    path = Path(path)
    with _open(path, "rb") as src:
        data = src.read()
    if not data:
        raise TextFileError(f"load_word2vec_format: {path}: the file is empty; expected the header "
                            "'<count> <dimension>'")
    newline = data.find(b"\n")
    header = data[:newline].split() if newline >= 0 else []
    if len(header) != 2 or not all(part.isdigit() for part in header):
        raise ValueError(f"load_word2vec_format: {path}: bad header {data[:max(newline, 0)][:60]!r}; "
                         "expected '<count> <dimension>'")
    count, dim = int(header[0]), int(header[1])
    body = (_parse_binary if binary else _parse_text)(path, data, newline + 1, count, dim)
    keys, vectors = body
    if len(set(keys)) != len(keys):
        duplicates = [key for key, n in Counter(keys).items() if n > 1]
        raise ValueError(f"load_word2vec_format: {path}: duplicate words in the file, e.g. {duplicates[:3]}")
    return keys, vectors


def _truncated(path, found: int, count: int) -> ValueError:
    return ValueError(f"load_word2vec_format: {path}: file ends after {found} of the {count} "
                      "vectors its header announces (truncated or wrong header?)")


def _parse_text(path, data: bytes, start: int, count: int, dim: int):
    text = decode_text(data[start:], path, line=2, offset=start)
    lines = [(number, line) for number, line in enumerate(text.split("\n"), 2) if line.strip()]
    if len(lines) < count:
        raise _truncated(path, len(lines), count)
    if len(lines) > count:
        raise ValueError(f"load_word2vec_format: {path}: {len(lines)} vector lines but the header "
                         f"announces {count}")
    keys = []
    vectors = np.empty((count, dim), np.float32)
    for i, (number, line) in enumerate(lines):
        parts = line.rstrip().split(" ")
        if len(parts) != dim + 1:
            raise ValueError(f"load_word2vec_format: {path}: entry {i} ({parts[0]!r}) has "
                             f"{len(parts) - 1} values, expected {dim} (line {number})")
        try:
            vectors[i] = [float(v) for v in parts[1:]]
        except ValueError:
            raise ValueError(f"load_word2vec_format: {path}: entry {i} ({parts[0]!r}) has a "
                             f"value that is not a number (line {number})") from None
        keys.append(parts[0])
    return keys, vectors


def _parse_binary(path, data: bytes, start: int, count: int, dim: int):
    row_bytes = dim * _FLOAT32_LE.itemsize
    keys = []
    vectors = np.empty((count, dim), np.float32)
    pos = start
    for i in range(count):
        while data[pos:pos + 1] == b"\n":  # word2vec.c's newline after the previous vector
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + row_bytes > len(data):
            raise _truncated(path, i, count)
        try:
            keys.append(data[pos:space].decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"load_word2vec_format: {path}: entry {i} (byte offset {pos}) is not UTF-8 "
                             "text (corrupt file, or a text file read with binary=True?)") from None
        vectors[i] = np.frombuffer(data, _FLOAT32_LE, dim, space + 1)
        pos = space + 1 + row_bytes
    if data[pos:].strip(b"\n"):
        raise ValueError(f"load_word2vec_format: {path}: {len(data) - pos} unexpected bytes after "
                         f"the {count} vectors (wrong header or a text file read with binary=True?)")
    return keys, vectors
