"""The per-step product cut into BLAS calls (numba_tiles), alone and inside the kernels."""
import json
import os

import numpy as np
import pytest

from tinygrad_rnn import kernels
from tinygrad_rnn.kernels import numba_tiles

from kernel_support import call_kernel, make_problem

CUTS = [(parts, rows) for parts in numba_tiles.PARTS for rows in (1, 3, 5, 16)]


@pytest.mark.parametrize("parts, rows", CUTS)
@pytest.mark.parametrize("accumulate", [False, True])
def test_tiled_matmul_equals_one_product(parts, rows, accumulate):
    rng = np.random.default_rng(0)
    a, w, before = rng.standard_normal((5, 6)), rng.standard_normal((6, 8)), rng.standard_normal((5, 8))
    out = before.copy()
    numba_tiles.tiled_matmul(a, numba_tiles.split_columns(w, parts), out, accumulate, rows)
    np.testing.assert_allclose(out, a @ w + (before if accumulate else 0), rtol=1e-13, atol=1e-13)


@pytest.fixture
def new_process(tmp_path, monkeypatch):
    """The module as a new process finds it (no cut in memory), its stored cuts in ``tmp_path``;
    yields the file and a list of the shapes it measures."""
    path, measured = tmp_path / "tilings.json", []
    monkeypatch.setattr(numba_tiles, "_tilings", {})
    monkeypatch.setattr(numba_tiles, "_stored_path", lambda: str(path))
    real = numba_tiles._fastest
    monkeypatch.setattr(numba_tiles, "_fastest", lambda *shape: measured.append(shape[1:4]) or real(*shape))
    yield path, measured


def test_tiling_is_a_valid_cut_and_measured_once(new_process):
    _, measured = new_process
    cut = numba_tiles.tiling(np.float32, 6, 4, 8, 1)
    parts, rows = cut
    assert parts in numba_tiles.PARTS and 8 % parts == 0 and 1 <= rows <= 6
    assert numba_tiles.tiling(np.float32, 6, 4, 8, 1) is cut and measured == [(6, 4, 8)]


def test_a_later_process_takes_the_stored_cut_without_measuring(new_process, monkeypatch):
    path, measured = new_process
    first = numba_tiles.tiling(np.float32, 16, 32, 64, 2)
    assert measured == [(16, 32, 64)] and json.loads(path.read_text()) == {"<f4 16 32 64 2": list(first)}
    stored_cut = (4, 8) if first != (4, 8) else (2, 4)   # not what a measurement would say
    path.write_text(json.dumps({"<f4 16 32 64 2": stored_cut}))
    monkeypatch.setattr(numba_tiles, "_tilings", {})
    assert numba_tiles.tiling(np.float32, 16, 32, 64, 2) == stored_cut
    assert measured == [(16, 32, 64)]
    numba_tiles.tiling(np.float64, 16, 32, 64, 2)   # another dtype, another cut
    numba_tiles.tiling(np.float32, 16, 32, 64, 1)   # another BLAS threading, another cut
    assert measured == [(16, 32, 64)] * 3
    assert set(json.loads(path.read_text())) == {"<f4 16 32 64 2", "<f8 16 32 64 2", "<f4 16 32 64 1"}


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"<f4 16 32 64 2": [3, 8]}',
                                  '{"<f4 16 32 64 2": [2, 17]}', '{"<f4 16 32 64 2": "cut"}'])
def test_a_stored_cut_that_is_no_valid_cut_is_measured_again(new_process, text):
    path, measured = new_process
    path.write_text(text)
    parts, rows = numba_tiles.tiling(np.float32, 16, 32, 64, 2)
    assert measured == [(16, 32, 64)] and 64 % parts == 0 and 1 <= rows <= 16
    assert json.loads(path.read_text())["<f4 16 32 64 2"] == [parts, rows]


def test_a_cut_stored_by_another_process_while_this_one_measured_wins(new_process, monkeypatch):
    path, _ = new_process

    def measure_while_another_process_stores(*shape):
        path.write_text(json.dumps({"<f4 16 32 64 2": [4, 2]}))
        return 1, 16   # what this process found

    monkeypatch.setattr(numba_tiles, "_fastest", measure_while_another_process_stores)
    assert numba_tiles.tiling(np.float32, 16, 32, 64, 2) == (4, 2)
    assert json.loads(path.read_text()) == {"<f4 16 32 64 2": [4, 2]}


def test_entries_that_are_no_cut_are_dropped_and_the_others_kept(new_process):
    path, measured = new_process
    path.write_text(json.dumps({"<f4 16 32 64 2": [2, 8], "<f4 8 8 8 2": "cut", "<f4 4 4 4 2": [1, 2, 3]}))
    assert numba_tiles.tiling(np.float32, 16, 32, 64, 2) == (2, 8) and measured == []
    numba_tiles.tiling(np.float32, 8, 8, 8, 2)
    stored = json.loads(path.read_text())
    assert measured == [(8, 8, 8)] and set(stored) == {"<f4 16 32 64 2", "<f4 8 8 8 2"}
    assert stored["<f4 16 32 64 2"] == [2, 8]


def test_the_stored_cuts_live_beside_numbas_cache_and_not_without_it(monkeypatch):
    path = numba_tiles._stored_path()
    assert os.path.dirname(path) == numba_tiles.tiled_matmul._cache._cache_path
    assert os.path.basename(path).startswith("tilings-") and numba_tiles._stored_path() == path
    monkeypatch.setattr(numba_tiles.tiled_matmul._cache, "_enabled", False)
    assert numba_tiles._stored_path() is None


def test_without_a_writable_folder_the_cut_stays_in_the_process(new_process, monkeypatch):
    _, measured = new_process
    monkeypatch.setattr(numba_tiles, "_stored_path", lambda: "/nonexistent-folder/tilings.json")
    cut = numba_tiles.tiling(np.float32, 16, 32, 64, 2)
    assert numba_tiles.tiling(np.float32, 16, 32, 64, 2) is cut and measured == [(16, 32, 64)]


@pytest.mark.parametrize("parts, rows", CUTS)
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_every_mode_gives_the_same_result_with_every_cut(mode, parts, rows, monkeypatch):
    problem = make_problem(mode, 4, 5, 3, 8, peephole=mode == "lstm")
    kernel, lengths = kernels.get(mode, "cpu"), np.array([4, 1, 0, 3, 4])
    rng = np.random.default_rng(1)
    d_out, d_hn, d_cn = rng.standard_normal((4, 5, 8)), rng.standard_normal((5, 8)), rng.standard_normal((5, 8))

    def run():
        out, h_n, c_n, saved = call_kernel(kernel, problem, lengths, reverse=True)
        return {"out": out, "h_n": h_n, "c_n": c_n} | kernel.backward(
            saved, d_out, d_hn, None if c_n is None else d_cn)

    want = run()
    monkeypatch.setattr(numba_tiles, "tiling", lambda *shape: (parts, rows))
    got = run()
    for name in (name for name in want if want[name] is not None):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-12, err_msg=name)
