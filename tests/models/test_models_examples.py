"""The examples of tinygrad_rnn.models: quick checks by default, the learning runs as slow tests."""
import contextlib
import gzip
import importlib.util
import pathlib

import numpy as np
import pytest

from tinygrad_rnn.models import Tree

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def one_blas_thread():
    """The examples set OPENBLAS_NUM_THREADS=1 for their own process (small matrices on shared
    cores); inside pytest NumPy is already loaded, so limit its thread pool directly where
    threadpoolctl is installed (otherwise the run is only slower)."""
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(1)


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pos_reader_parses_word_tag_tokens_and_slashes(tmp_path):
    pos = load_example("pos_tagging_crf")
    path = tmp_path / "tiny.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("The/DT and&slash;or/CC 1/2/CD\n\nok/UH\n")
    assert pos.read_tagged_sentences([path]) == [[("The", "DT"), ("and/or", "CC"), ("1/2", "CD")], [("ok", "UH")]]
    bad = tmp_path / "bad.txt"
    bad.write_text("word/NN oops\n")
    with pytest.raises(ValueError, match="bad.txt:1: token 'oops' is not word/TAG"):
        pos.read_tagged_sentences([bad])


def test_arithmetic_trees_have_the_requested_depth_and_value():
    arithmetic = load_example("tree_arithmetic")
    assert arithmetic.value_mod_10(("*", ("+", 3, 4), ("-", 2, 5))) == (7 * -3) % 10
    rng = np.random.default_rng(0)
    for depth in range(5):
        assert Tree.from_nested(arithmetic.random_expression(rng, depth)).depth() == depth


@pytest.mark.slow
def test_tree_lstm_beats_bag_of_labels_on_deeper_held_out_trees():
    with one_blas_thread():
        results = load_example("tree_arithmetic").main(["--log-every", "0"])
    tree, bag = results["TreeLSTM"], results["bag of labels"]
    deeper = "depth 4 (deeper than training)"
    assert tree[deeper] >= bag[deeper] + 0.3, results
    assert tree["depth 1-3 (held out)"] >= 0.9, results


@pytest.mark.slow
def test_hopfield_capacity_example_runs(tmp_path):
    curves = load_example("hopfield_capacity").main(["--neurons", "100", "--loads", "0.05", "0.25",
                                                     "--probes", "100", "--plot", str(tmp_path / "c.png")])
    (_, light, _), (_, heavy, _) = curves[100]
    assert light >= 0.95 and heavy <= 0.3
    assert (tmp_path / "c.png").stat().st_size > 0


@pytest.mark.slow
def test_bilstm_crf_tagger_learns_part_of_speech_from_the_shipped_data():
    with one_blas_thread():
        results = load_example("pos_tagging_crf").main([])
    softmax, crf = results["BiLSTM-softmax"][0], results["BiLSTM-CRF"][0]
    assert softmax >= 0.85 and crf >= 0.85, results
