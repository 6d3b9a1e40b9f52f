"""A one-line progress display for training: percent done, effective words/s, alpha, loss.

Written to stderr with a carriage return, at most every ``interval`` seconds, so it costs
nothing measurable and needs no terminal library.
"""

from __future__ import annotations

import sys
import time


class ProgressLine:
    def __init__(self, total_raw_words: int, epochs: int, interval: float = 0.5, stream=None):
        self.total = max(total_raw_words, 1)
        self.epochs = epochs
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.last = 0.0
        self.raw = 0
        self.effective = 0

    def update(self, raw_words: int, effective_words: int, epoch: int, alpha: float, loss=None):
        self.raw += raw_words
        self.effective += effective_words
        now = time.perf_counter()
        if now - self.last >= self.interval:
            self.last = now
            self._draw(now, epoch, alpha, loss)

    def _draw(self, now: float, epoch: int, alpha: float, loss):
        rate = self.effective / max(now - self.start, 1e-9)
        text = (f"\rword2vec epoch {epoch + 1}/{self.epochs} {100 * self.raw / self.total:5.1f}% "
                f"{rate / 1000:7.1f}k effective words/s  alpha {alpha:.5f}")
        if loss is not None:
            text += f"  epoch loss {loss:.6g}"
        self.stream.write(text)
        self.stream.flush()

    def close(self, epoch: int, alpha: float, loss=None):
        self._draw(time.perf_counter(), epoch, alpha, loss)
        self.stream.write("\n")
        self.stream.flush()
