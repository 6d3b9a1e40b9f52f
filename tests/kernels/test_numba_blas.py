"""numba_blas.gemm: every transpose, strided row views, adding into the output, both dtypes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_rnn.kernels.numba_blas import gemm


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 7), n=st.integers(1, 7), k=st.integers(0, 7), transpose_a=st.booleans(),
       transpose_b=st.booleans(), accumulate=st.booleans(), pad=st.integers(0, 3),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_gemm_equals_numpy_on_strided_views(m, n, k, transpose_a, transpose_b, accumulate, pad, dtype,
                                             seed):
    rng = np.random.default_rng(seed)

    def view(rows, cols):   # a row-major view whose rows are ``pad`` elements apart beyond its width
        return rng.standard_normal((rows, cols + pad)).astype(dtype)[:, pad:]

    a = view(k, m) if transpose_a else view(m, k)
    b = view(n, k) if transpose_b else view(k, n)
    c = view(m, n)
    before = c.copy()
    gemm(a, b, c, accumulate, transpose_a, transpose_b)
    want = (a.T if transpose_a else a).astype(np.float64) @ (b.T if transpose_b else b) + (before if accumulate else 0)
    tolerance = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance)


def test_gemm_leaves_memory_outside_the_view_alone():
    whole = np.zeros((4, 6))
    gemm(np.ones((4, 3)), np.ones((3, 2)), whole[:, 2:4])
    assert np.array_equal(whole[:, 2:4], np.full((4, 2), 3.0))
    assert not whole[:, :2].any() and not whole[:, 4:].any()


@pytest.mark.parametrize("m, n", [(0, 3), (3, 0)])
def test_gemm_with_an_empty_output_does_nothing(m, n):
    gemm(np.ones((m, 2)), np.ones((2, n)), np.empty((m, n)))
