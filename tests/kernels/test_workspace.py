"""The kernels' array pool: arrays go out on a lease and are lent again only once it is returned."""
import gc

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.kernels import workspace


@pytest.fixture
def pool():
    return workspace.Pool()


def test_a_returned_array_is_lent_again(pool):
    lease = pool.lease()
    address = lease.empty((3, 4), np.float32).ctypes.data
    lease.give_back()
    assert pool.lease().empty((3, 4), np.float32).ctypes.data == address


def test_an_array_on_lease_is_never_lent_twice(pool):
    first = pool.lease().empty((3, 4), np.float64)   # that lease is never returned
    second = pool.lease().empty((3, 4), np.float64)
    assert not np.shares_memory(first, second)


def test_a_lease_given_back_with_its_owner_returns_when_the_owner_goes(pool):
    class Owner:
        pass

    owner, lease = Owner(), pool.lease()
    address = lease.empty((5,), np.float64).ctypes.data
    lease.give_back_with(owner)
    assert pool.held_bytes() == 0
    del owner
    gc.collect()
    assert pool.held_bytes() == 40 and pool.lease().empty((5,), np.float64).ctypes.data == address


@pytest.mark.parametrize("shape, dtype", [((3, 5), np.float32), ((2, 7, 3), np.float64)])
def test_arrays_start_on_a_cache_line(pool, shape, dtype):
    for _ in range(3):
        lease = pool.lease()
        assert lease.empty(shape, dtype).ctypes.data % workspace.ALIGNMENT == 0
        lease.give_back()


def test_other_shapes_and_dtypes_get_other_arrays(pool):
    lease = pool.lease()
    a = lease.empty((3, 4), np.float64)
    lease.give_back()
    other = pool.lease()
    assert not np.shares_memory(a, other.empty((4, 3), np.float64))
    assert not np.shares_memory(a, other.empty((3, 4), np.float32))


def test_the_pool_keeps_at_most_its_limit_and_drops_least_recent_first(pool):
    pool.set_limit(3 * 800)
    lease = pool.lease()
    old = [lease.empty((100,), np.float64) for _ in range(2)]
    newest = lease.empty((150,), np.float64)
    lease.give_back()                      # 800 + 800 + 1200 bytes: the oldest shape goes
    assert pool.held_bytes() == 800 + 1200
    again = pool.lease()
    assert again.empty((150,), np.float64) is newest
    kept = again.empty((100,), np.float64)
    assert any(kept is a for a in old)
    pool.set_limit(0)
    assert pool.held_bytes() == 0
    pool.set_limit(10_000)
    again.give_back()
    pool.clear()
    assert pool.held_bytes() == 0


def test_set_limit_rejects_negative_sizes(pool):
    with pytest.raises(ValueError, match="workspace.set_limit: expected a number of bytes >= 0, got -1"):
        pool.set_limit(-1)


@pytest.mark.parametrize("layer", [nn.LSTM, nn.GRU])
def test_outputs_kept_across_calls_are_never_overwritten(layer):
    """A layer's outputs belong to the caller: later calls reuse only the kernel's own arrays."""
    model = layer(4, 32)
    first_in, second_in = tg.randn(6, 16, 4), tg.randn(6, 16, 4)
    with tg.no_grad():
        first = model(first_in)[0]
        kept = first.numpy().copy()
        for _ in range(3):
            model(second_in)
    np.testing.assert_array_equal(first.numpy(), kept)
