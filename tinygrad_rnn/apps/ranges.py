"""The allowed values of a numeric option, stated once and checked in two places: by argparse
when the command line is parsed (so a bad value stops the command before any work) and by the
configuration a library caller builds (so ``charlm.train`` refuses the same values).

Floats must be finite: NaN compares false with every bound and would slip through otherwise.
"""
import argparse
import math
import numbers
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """Numbers of type ``kind`` (int or float) between ``low`` and ``high``; ``open_low`` and
    ``open_high`` exclude the bound itself."""

    kind: type
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False

    def __str__(self):
        what = "an integer" if self.kind is int else "a finite number"
        if self.low > -math.inf and self.high < math.inf:
            return f"{what} in {'(' if self.open_low else '['}{self.low}, {self.high}{')' if self.open_high else ']'}"
        if self.low > -math.inf:
            return f"{what} {'>' if self.open_low else '>='} {self.low}"
        if self.high < math.inf:
            return f"{what} {'<' if self.open_high else '<='} {self.high}"
        return what

    def contains(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral if self.kind is int else numbers.Real):
            return False
        if not math.isfinite(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def check(self, name, value):
        """``value``, or a ValueError saying that ``name`` must be in this range."""
        if not self.contains(value):
            raise ValueError(f"{name} must be {self}, got {value!r}")
        return value

    def parse(self, text):
        """The argparse ``type=`` of an option in this range: argparse reports the error as
        ``argument --NAME: must be ..., got 'TEXT'`` and exits with code 2."""
        try:
            value = self.kind(text)
        except ValueError:
            value = None
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"must be {self}, got {text!r}")
        return value


def at_least(low, kind=int):
    return Range(kind, low)


def above(low, kind=float):
    return Range(kind, low, open_low=True)


ANY_NUMBER = Range(float)
