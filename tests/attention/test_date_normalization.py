"""The date-normalisation example: its data is unambiguous, and a shortened run learns."""
import contextlib
import datetime
import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "date_normalization.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("date_normalization", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_string_has_one_reading_and_encodes(example):
    rng = np.random.default_rng(0)
    readings = {}
    for offset in rng.choice((example.LAST - example.FIRST).days + 1, 3000, replace=False):
        day = example.FIRST + datetime.timedelta(days=int(offset))
        for fmt in example.FORMATS:
            assert readings.setdefault(fmt(day), day) == day, fmt(day)
    src, lengths, tgt = example.encode_batch(example.make_examples(np.arange(100), 50, rng))
    assert src.shape == (50, lengths.max()) and tgt.shape == (50, 11) and np.all(tgt[:, -1] == example.EOS)
    train_days, test_days = example.split_days()
    assert not set(train_days) & set(test_days)


def one_blas_thread():
    """What the example's environment settings do for a script: here BLAS is already loaded."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@pytest.mark.slow
def test_a_short_training_run_normalises_unseen_dates(example, tmp_path):
    with one_blas_thread():
        model, test, _ = example.train(steps=300, test_size=500, log_every=0)
        accuracy = example.exact_match(model, test)
    assert accuracy > 0.8, accuracy  # chance is ~10⁻⁸ (8 digits); the full run reaches 1.0
    example.plot_attention(model, "Nov 26 2026", tmp_path / "attention.png")
    assert (tmp_path / "attention.png").stat().st_size > 0
