"""Replaying the CuPy kernels' per-step loops as CUDA graphs: opt-in (``cuda_graphs``), off by default.

A graph records the 2T launches of one loop once (stream capture) and replays them as one. It
replays the same kernels on the same memory, so ``LoopGraphs`` keeps buffers per loop shape:
each call copies its inputs in, replays, and copies its outputs out. The first call of a shape
runs eagerly (compiling the kernels and creating the cuBLAS handle, which a capture cannot), the
second captures, later calls replay; at most ``size`` shapes are kept (least recently used
dropped). Not yet run on a GPU: tested on the CPU with a stand-in that records and replays.
"""
from collections import OrderedDict

import cupy


class LoopGraphs:
    """Cached buffers and CUDA graphs of loops, by key."""

    def __init__(self, size=8):
        self.size = size
        self._entries = OrderedDict()

    def run(self, key, loop, arrays, inputs, outputs):
        """Do what ``loop(arrays)`` does (launch one loop on the current stream; ``arrays`` maps
        names to arrays and scalars) through the graph of ``key``: the arrays named in ``inputs``
        are copied into its buffers first, those in ``outputs`` copied back into ``arrays`` after.
        """
        entry = self._entries.pop(key, None) or _Entry(arrays)
        self._entries[key] = entry
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        for name in inputs:
            entry.buffers[name][...] = arrays[name]
        entry.run(loop)
        for name in outputs:
            arrays[name][...] = entry.buffers[name]


class _Entry:
    """The buffers of one key, and its graph once captured."""

    def __init__(self, arrays):
        self.buffers = {name: cupy.empty_like(value) if isinstance(value, cupy.ndarray) else value
                        for name, value in arrays.items()}
        self.graph, self.warm = None, False

    def run(self, loop):
        if self.graph is None and not self.warm:
            loop(self.buffers)
            self.warm = True
            return
        if self.graph is None:
            stream = cupy.cuda.Stream(non_blocking=True)   # the legacy stream cannot capture
            with stream:
                stream.begin_capture()
                try:
                    loop(self.buffers)
                finally:
                    graph = stream.end_capture()
            self.graph = graph
        self.graph.launch(stream=cupy.cuda.get_current_stream())
