"""Arrays the CPU kernels reuse from one call to the next, so that a training loop does not fault
in fresh memory at every step.

A recurrent layer allocates the same large arrays at every step of a training loop: the gate
activations saved for backward, their gradients, the output. A fresh large allocation comes from
the operating system, which maps the pages in one by one as they are first written: at small
sizes the page faults and unmaps were a third of a training step.

:func:`empty` keeps the arrays it hands out and gives one out again, for the same shape and
dtype, once nothing else refers to it. "Nothing else" is exact: every NumPy view of an array
holds a reference to the array that owns the memory (``view.base``), so an array is free when
only the pool holds it (its reference count says so). A kernel's output that the caller keeps,
or the activations that a graph keeps for backward, are therefore never handed out twice.

The pool holds at most ``limit`` bytes (default 512 MiB); beyond that, :func:`empty` returns
plain new arrays. :func:`set_limit` changes it (0 turns the pool off); :func:`clear` lets go of
every free array. The module's functions are those of one process-wide :class:`Pool`.
"""
import sys
import threading
from collections import OrderedDict

import numpy as np

_FREE = 4          # references to a free array while _is_free checks it: the pool's list, the
                   # caller's loop variable, _is_free's parameter and getrefcount's argument
_FREE_BUFFER = 2   # references to its memory then: the array's base and getrefcount's argument
ALIGNMENT = 64     # bytes: a cache line


class Pool:
    """Arrays by (shape, dtype), handed out again once free; thread-safe."""

    def __init__(self, limit=512 * 2**20):
        self._lock = threading.Lock()
        self._arrays = OrderedDict()   # (shape, dtype) -> arrays, most recently used key last
        self._limit = limit
        self._held = 0                 # bytes of the arrays in _arrays

    def empty(self, shape, dtype):
        """An uninitialised C-contiguous array, reused from an earlier call when one is free."""
        key = (tuple(shape), np.dtype(dtype))
        with self._lock:
            arrays = self._arrays.get(key)
            if arrays is not None:
                self._arrays.move_to_end(key)
                for array in arrays:
                    if _is_free(array):
                        return array
            array = _aligned_empty(*key)
            if array.nbytes and self._make_room(array.nbytes):
                self._arrays.setdefault(key, []).append(array)
                self._held += array.nbytes
            return array

    def zeros(self, shape, dtype):
        """:meth:`empty`, filled with zeros."""
        array = self.empty(shape, dtype)
        array.fill(0)
        return array

    def set_limit(self, nbytes):
        """Hold at most ``nbytes`` bytes of arrays (0: no reuse); frees arrays over the new limit."""
        if int(nbytes) < 0:
            raise ValueError(f"workspace.set_limit: expected a number of bytes >= 0, got {nbytes}")
        with self._lock:
            self._limit = int(nbytes)
            self._make_room(0)

    def clear(self):
        """Let go of every free array (arrays in use stay with their users)."""
        with self._lock:
            self._release(list(self._arrays))

    def held_bytes(self):
        """Bytes of the arrays the pool holds, free or in use."""
        return self._held

    def _make_room(self, nbytes):
        """Release free arrays, least recently used shapes first, until ``nbytes`` more fit under
        the limit; whether they fit. Called with the lock held."""
        for key in [None] + list(self._arrays):
            if key is not None:
                self._release([key])
            if self._held + nbytes <= self._limit:
                return True
        return False

    def _release(self, keys):
        for key in keys:
            kept = []
            for array in self._arrays[key]:
                if _is_free(array):
                    self._held -= array.nbytes
                else:
                    kept.append(array)
            if kept:
                self._arrays[key] = kept
            else:
                del self._arrays[key]


def _aligned_empty(shape, dtype):
    """``np.empty(shape, dtype)`` starting on a cache line: threads that write neighbouring
    parts of an array (numba_team) then never share a line at a part's edge."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    memory = np.empty(nbytes + ALIGNMENT, np.uint8)
    offset = -memory.ctypes.data % ALIGNMENT
    return memory[offset:offset + nbytes].view(dtype).reshape(shape)


def _is_free(array):
    """Nothing but the pool refers to ``array`` or its memory. (A view of a view refers to the
    memory's owner directly, ``array.base``, not to ``array``, so both counts are needed.)"""
    return sys.getrefcount(array) == _FREE and sys.getrefcount(array.base) == _FREE_BUFFER


_pool = Pool()
empty, zeros, set_limit, clear, held_bytes = (_pool.empty, _pool.zeros, _pool.set_limit,
                                              _pool.clear, _pool.held_bytes)
