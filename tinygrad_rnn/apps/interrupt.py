"""Ctrl-C that lets a training loop stop cleanly instead of losing the run.

Inside ``with StopRequest(message) as stop:`` the first SIGINT only sets ``stop.requested`` (and
prints ``message``), so the loop can finish its step and save its work; from then on SIGINT
raises KeyboardInterrupt again, so a second Ctrl-C aborts at once. Outside the main thread
(where Python delivers no signals) it does nothing.
"""
import os
import signal
import threading


class StopRequest:
    """Turns the first SIGINT into a request to stop; see the module docstring."""

    def __init__(self, message):
        self.message = message
        self.requested = False
        self._installed = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._first_interrupt)
            self._installed = True
        return self

    def _first_interrupt(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.write(2, f"\n{self.message}\n".encode())  # print() is not safe inside a signal handler

    def __exit__(self, *exc_info):
        if self._installed:  # None: a handler set outside Python, which cannot be put back
            signal.signal(signal.SIGINT, signal.SIG_DFL if self._previous is None else self._previous)
            self._installed = False
        return False
