"""The team's matrix product (numba_matmul) against NumPy, one call and cut into blocks."""
import numpy as np
import pytest

from tinygrad_rnn.kernels import cpu_threads, numba_matmul


@pytest.fixture(params=[1, 2])
def threads(request):
    before = cpu_threads.get_num_threads()
    cpu_threads.set_num_threads(request.param)
    yield request.param
    cpu_threads.set_num_threads(before)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("transpose_a, transpose_b",
                         [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m, k, n", [(3, 4, 5), (1600, 256, 103), (103, 1600, 256)])
def test_equals_numpy(threads, dtype, rtol, transpose_a, transpose_b, m, k, n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if transpose_b else (k, n)).astype(dtype)
    expected = (a.T if transpose_a else a) @ (b.T if transpose_b else b)
    out = numba_matmul.matmul(a, b, transpose_a, transpose_b)
    assert out.dtype == dtype and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol * np.sqrt(k))


def test_accepts_views_of_any_layout():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((40, 30)), rng.standard_normal((30, 20))
    np.testing.assert_allclose(numba_matmul.matmul(a.T.T[::2], b), a[::2] @ b)
    np.testing.assert_allclose(numba_matmul.matmul(a.T, a.T, True, False), a @ a.T)
    np.testing.assert_allclose(numba_matmul.matmul(a[::-1], b), a[::-1] @ b)
    repeated = np.broadcast_to(a[:1], (40, 30))
    np.testing.assert_allclose(numba_matmul.matmul(repeated, b), a[:1].repeat(40, 0) @ b)
