"""Preemption and Ctrl-C: SIGTERM and SIGINT stop a run within seconds, in every phase.

Within ``StopRequests`` the first SIGTERM or SIGINT sets ``requested``. What happens
next depends on where the main thread is:

- in an ``interruptible()`` block (start-up, evaluation, export): ``Stopped`` is raised
  at once, and the run unwinds like after an error;
- in the training loop, which polls ``requested`` after each step, calls
  ``acknowledge()`` and writes a checkpoint;
- blocked inside TensorFlow (an input pipeline that is still filling or never yields,
  a long op), where no Python code runs: a watcher thread, woken by the signal itself
  through ``signal.set_wakeup_fd``, gives the main thread ``grace_seconds`` to reach
  one of the points above, then calls ``on_force(signal name)`` and ends the process
  with exit code 128 + the signal number.

A second signal ends the process that way at once (after ``on_force``).
"""

import contextlib
import os
import signal
import socket
import sys
import threading
import time


class Stopped(BaseException):
    """A stop was requested while the main thread was in an interruptible block.

    A BaseException (like KeyboardInterrupt), so ``except Exception`` does not swallow it.
    """

    def __init__(self, signal_name):
        super().__init__(signal_name)
        self.signal_name = signal_name


class StopRequests:
    """Turns SIGTERM/SIGINT into a clean stop, a prompt one, or a forced exit.

    Args:
      grace_seconds: how long a blocked main thread gets to reach a stopping point
        after the first signal; may be changed while the block is active.
      on_force: called with the signal name (from the watcher thread) just before a
        forced exit; it should be quick and must not rely on the main thread.
    """

    SIGNALS = ('SIGTERM', 'SIGINT')

    def __init__(self, *, grace_seconds=5.0, on_force=None):
        self.requested = None
        self.grace_seconds = grace_seconds
        self.on_force = on_force
        self._previous = {}
        self._interruptible = False
        self._acknowledged = threading.Event()
        self._signals = 0
        self._first_at = None
        self._sockets = None
        self._old_wakeup = -1
        self._watcher = None

    # -- main thread ---------------------------------------------------------------
    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self._watcher is None:  # no watcher: count here
            self._signals += 1
            if self._signals > 1:
                self._force(signum)
        self.requested = self.requested or name
        if self._interruptible and not self._acknowledged.is_set():
            raise Stopped(self.requested)

    @contextlib.contextmanager
    def interruptible(self, value=True):
        """Within the block (``value`` True) a stop request raises Stopped at once.

        A request that is already pending raises on entry. ``interruptible(False)``
        makes a block safe from Stopped inside an interruptible one (e.g. a loop that
        polls ``requested`` and saves).
        """
        if value and self.requested and not self._acknowledged.is_set():
            raise Stopped(self.requested)
        previous, self._interruptible = self._interruptible, bool(value)
        try:
            yield
        finally:
            self._interruptible = previous

    def acknowledge(self):
        """The main thread is stopping cleanly: no forced exit for the first signal."""
        self._acknowledged.set()

    # -- watcher thread --------------------------------------------------------------
    def _watch(self, reader, signums):
        first = None
        while True:
            timeout = None
            if first is not None and not self._acknowledged.is_set():
                timeout = max(0.0, self._first_at + float(self.grace_seconds) -
                              time.monotonic())
            reader.settimeout(timeout)
            try:
                data = reader.recv(64)
            except socket.timeout:
                if not self._acknowledged.is_set() and \
                        time.monotonic() >= self._first_at + float(self.grace_seconds):
                    self._force(first)
                continue
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum not in signums:
                    continue
                self._signals += 1
                if first is None:
                    first, self._first_at = signum, time.monotonic()
                    self.requested = self.requested or signal.Signals(signum).name
                else:
                    self._force(signum)

    def _force(self, signum):
        name = signal.Signals(signum).name
        try:
            if self.on_force is not None:
                self.on_force(name)
        except BaseException as e:  # noqa: BLE001  (the exit must happen)
            sys.stderr.write(f'jacktf: error while stopping: {e}\n')
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001
                    pass
            os._exit(128 + signum)

    # -- context -------------------------------------------------------------------
    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        signums = set()
        for name in self.SIGNALS:
            signum = getattr(signal, name)
            signums.add(int(signum))
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            reader, writer = socket.socketpair()
            writer.setblocking(False)
            self._old_wakeup = signal.set_wakeup_fd(writer.fileno(),
                                                    warn_on_full_buffer=False)
        except (OSError, ValueError):
            return self
        self._sockets = (reader, writer)
        self._watcher = threading.Thread(target=self._watch, args=(reader, signums),
                                         name='jacktf-stop-watcher', daemon=True)
        self._watcher.start()
        return self

    def __exit__(self, *exc):
        if self._sockets is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            reader, writer = self._sockets
            try:
                reader.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._watcher.join(timeout=5)
            reader.close()
            writer.close()
            self._sockets = self._watcher = None
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        return False
