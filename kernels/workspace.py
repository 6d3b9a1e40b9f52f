"""Arrays the CPU kernels reuse from one call to the next, so that a training loop does not fault
in fresh memory at every step.

A kernel call borrows its arrays through a ``Lease`` and returns them with it: at the end of the
call for scratch, or, for what a training forward saves, when the object holding them is
collected (``Lease.give_back_with``). An array is lent again only after its lease was returned;
arrays that leave a kernel (outputs, gradients) are never borrowed. The pool keeps at most
``limit`` bytes of returned arrays (512 MiB), the least recently used shapes going first;
``set_limit`` (0 turns reuse off) and ``clear`` act on the one process-wide ``Pool``.
"""
import threading
import weakref
from collections import OrderedDict

import numpy as np

ALIGNMENT = 64     # bytes: a cache line


class Pool:
    """Returned arrays by (shape, dtype), lent out again through leases; thread-safe."""

    def __init__(self, limit=512 * 2**20):
        self._lock = threading.Lock()
        self._free = OrderedDict()   # (shape, dtype) -> returned arrays, most recently used key last
        self._limit = limit
        self._held = 0               # bytes of the arrays in _free

    def lease(self):
        """A new ``Lease`` on this pool."""
        return Lease(self)

    def set_limit(self, nbytes):
        """Keep at most ``nbytes`` bytes of returned arrays (0: no reuse)."""
        if int(nbytes) < 0:
            raise ValueError(f"workspace.set_limit: expected a number of bytes >= 0, got {nbytes}")
        with self._lock:
            self._limit = int(nbytes)
            self._trim()

    def clear(self):
        """Let go of every returned array (arrays on lease stay with their borrowers)."""
        with self._lock:
            self._free.clear()
            self._held = 0

    def held_bytes(self):
        """Bytes of the returned arrays the pool keeps for reuse."""
        return self._held

    def _take(self, shape, dtype):
        key = (tuple(map(int, shape)), np.dtype(dtype))
        with self._lock:
            arrays = self._free.get(key)
            if arrays:
                self._free.move_to_end(key)
                array = arrays.pop()
                if not arrays:
                    del self._free[key]
                self._held -= array.nbytes
                return array
        return _aligned_empty(*key)

    def _put(self, arrays):
        with self._lock:
            for array in arrays:
                key = (array.shape, array.dtype)
                self._free.setdefault(key, []).append(array)
                self._free.move_to_end(key)
                self._held += array.nbytes
            self._trim()

    def _trim(self):
        """Drop returned arrays, least recently used shapes first, until within the limit."""
        while self._held > self._limit:
            key, arrays = next(iter(self._free.items()))
            self._held -= arrays.pop(0).nbytes
            if not arrays:
                del self._free[key]


class Lease:
    """The arrays one owner borrowed from a pool; ``give_back`` returns them all."""

    def __init__(self, pool):
        self._pool = pool
        self._arrays = []
        self._lock = threading.Lock()   # the threads of one call borrow through one lease

    def empty(self, shape, dtype):
        """An uninitialised C-contiguous array starting on a cache line, reused when one is free."""
        array = self._pool._take(shape, dtype)
        with self._lock:
            self._arrays.append(array)
        return array

    def give_back(self):
        """Return every borrowed array to the pool; the borrower must hold none of them after."""
        with self._lock:
            arrays, self._arrays = self._arrays, []
        self._pool._put(arrays)

    def give_back_with(self, owner):
        """Return the arrays once ``owner`` (the object that holds them) is collected."""
        weakref.finalize(owner, self.give_back)


def _aligned_empty(shape, dtype):
    """``np.empty(shape, dtype)`` starting on a cache line: threads that write neighbouring
    parts of an array (numba_team) then never share a line at a part's edge."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    memory = np.empty(nbytes + ALIGNMENT, np.uint8)
    offset = -memory.ctypes.data % ALIGNMENT
    return memory[offset:offset + nbytes].view(dtype).reshape(shape)


_pool = Pool()
lease, set_limit, clear, held_bytes = _pool.lease, _pool.set_limit, _pool.clear, _pool.held_bytes
