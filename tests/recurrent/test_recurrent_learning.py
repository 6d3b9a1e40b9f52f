"""Evidence that the recurrent layers learn (slow): the examples' training runs, with thresholds.

Each runs one example's ``train`` function as it is, so the numbers stated in the examples are
the ones checked here.
"""
import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"


def example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_adding_problem_lstm_solves_it_and_tanh_rnn_does_not():
    adding = example("adding_problem")
    lstm_mse, _, _ = adding.train("lstm", steps=1500, length=50, log_every=0)
    rnn_mse, _, _ = adding.train("rnn", steps=1500, length=50, log_every=0)
    assert lstm_mse < 0.01
    assert rnn_mse > 0.1  # the mean predictor scores 0.167


@pytest.mark.slow
def test_digits_read_row_by_row():
    pytest.importorskip("sklearn")
    test_accuracy, _, _, _ = example("digits_rows").train(epochs=30, log=False)
    assert test_accuracy >= 0.97


@pytest.mark.slow
def test_truncated_bptt_language_model_uses_its_carried_state():
    results, _ = example("tbptt_language_model").train(epochs=2, log=False)
    assert results["valid_bits_carried"] < results["valid_bits_reset"]
    assert results["valid_bits_carried"] < results["unigram_bits"] - 1.0
