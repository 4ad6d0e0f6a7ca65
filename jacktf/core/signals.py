"""Preemption: SIGTERM and SIGINT ask the training loop to checkpoint and stop cleanly."""

import signal
import threading


class StopRequests:
    """Within the block, SIGTERM/SIGINT set ``requested`` instead of killing the process.

    A second signal of the same kind falls through to the previous handler, so a user
    pressing Ctrl-C twice still interrupts at once.
    """

    SIGNALS = ('SIGTERM', 'SIGINT')

    def __init__(self):
        self.requested = None
        self._previous = {}

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.requested == name:
            previous = self._previous.get(signum)
            if callable(previous):
                previous(signum, frame)
            return
        self.requested = name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                signum = getattr(signal, name)
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        return False
