"""The per-step product cut into BLAS calls (numba_tiles), alone and inside the kernels."""
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


def test_tiling_is_a_valid_cut_and_measured_once():
    cut = numba_tiles.tiling(np.float32, 6, 4, 8)
    parts, rows = cut
    assert parts in numba_tiles.PARTS and 8 % parts == 0 and 1 <= rows <= 6
    assert numba_tiles.tiling(np.float32, 6, 4, 8) is cut


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
    monkeypatch.setattr(numba_tiles, "tiling", lambda *shape, measuring=None: (parts, rows))
    got = run()
    for name in (name for name in want if want[name] is not None):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-12, err_msg=name)
