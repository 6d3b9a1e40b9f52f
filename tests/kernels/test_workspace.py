"""The kernels' array pool: reuse only when nothing else refers to an array, bounded size."""
import numpy as np
import pytest

from tinygrad_rnn.kernels import workspace


@pytest.fixture
def pool():
    return workspace.Pool()


def test_a_free_array_is_handed_out_again(pool):
    first = pool.empty((3, 4), np.float32)
    address = first.ctypes.data
    del first
    assert pool.empty((3, 4), np.float32).ctypes.data == address


def test_an_array_in_use_is_never_handed_out_twice(pool):
    first = pool.empty((3, 4), np.float64)
    view = first[1:]                       # a view alone keeps the memory in use
    del first
    second = pool.empty((3, 4), np.float64)
    assert not np.shares_memory(second, view)


def test_a_view_of_a_view_keeps_the_memory_in_use(pool):
    first = pool.empty((3, 4), np.float64)
    view = first.reshape(12)[2:].view(np.int64)   # refers to the memory's owner, not to first
    del first
    assert not np.shares_memory(pool.empty((3, 4), np.float64), view)


@pytest.mark.parametrize("shape, dtype", [((3, 5), np.float32), ((2, 7, 3), np.float64)])
def test_arrays_start_on_a_cache_line(pool, shape, dtype):
    for _ in range(3):
        assert pool.empty(shape, dtype).ctypes.data % workspace.ALIGNMENT == 0


def test_other_shapes_and_dtypes_get_other_arrays(pool):
    a = pool.empty((3, 4), np.float64)
    assert not np.shares_memory(a, pool.empty((4, 3), np.float64))
    assert not np.shares_memory(a, pool.empty((3, 4), np.float32))


def test_zeros_are_zero_even_when_reused(pool):
    pool.empty((5,), np.float64)[:] = 7
    assert not pool.zeros((5,), np.float64).any()


def test_the_pool_holds_at_most_its_limit_and_releases_least_recent_first(pool):
    pool.set_limit(3 * 800)
    kept = [pool.empty((100,), np.float64) for _ in range(2)]
    assert pool.held_bytes() == 1600
    del kept
    pool.empty((50,), np.float64)          # 400 more bytes fit
    big = pool.empty((150,), np.float64)   # 1200 more: the free (100,) arrays make room
    assert pool.held_bytes() == 400 + 1200
    pool.set_limit(0)
    assert pool.held_bytes() == 1200       # only the array in use stays
    del big
    pool.clear()
    assert pool.held_bytes() == 0


def test_set_limit_rejects_negative_sizes(pool):
    with pytest.raises(ValueError, match="workspace.set_limit: expected a number of bytes >= 0, got -1"):
        pool.set_limit(-1)
