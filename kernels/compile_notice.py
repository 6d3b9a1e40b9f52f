"""Say once, on stderr, when the fused kernels are being compiled rather than loaded from Numba's
cache, so that a first call's pause is explained. Numba sends a "numba:compile" event for each
real compilation (a cache hit sends none).
"""
import sys

from numba.core import event

_MESSAGE = ("tinygrad_rnn: compiling the fused recurrent kernels for this machine (the first call "
            "of each layer kind pauses for a few seconds; later runs load them "
            "from Numba's cache)")


class _FirstCompilation(event.Listener):
    said = False

    def on_start(self, event_):
        dispatcher = event_.data.get("dispatcher") if isinstance(event_.data, dict) else None
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if not self.said and module.startswith(__package__ + "."):
            self.said = True
            print(_MESSAGE, file=sys.stderr, flush=True)

    def on_end(self, event_):
        pass


event.register("numba:compile", _FirstCompilation())
