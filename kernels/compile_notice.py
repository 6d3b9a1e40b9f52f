"""Say once, on stderr, when the fused kernels are being compiled rather than loaded from
Numba's cache, so that a first call's long pause is explained (issue: a learner's first
``nn.LSTM`` call otherwise seems to hang).

Numba announces each real compilation with a "numba:compile" event (a cache hit sends none);
a listener prints one line for the first one of this package's kernels in the process.
"""
import sys

from numba.core import event

_MESSAGE = ("tinygrad_rnn: compiling the fused recurrent kernels for this machine (the first call "
            "of each layer kind pauses, about 6 s for an LSTM on 2 cores; later runs load them "
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
