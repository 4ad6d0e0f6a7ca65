"""One writer per model directory: MODEL_DIR/train.lock, held for the life of a run.

The lock file records who holds it (host, PID, start time, command line). A second
training run on the same MODEL_DIR is refused with a message naming the holder. A lock
left by a process that is gone (same host, PID not alive, or alive but started after
the lock was written: a reused PID) is taken over with one warning line;
``--force_unlock`` takes over any other lock (a holder on another host that crashed).

Read-only commands (eval, export, predict, inspect, continuous evaluation) never take
it. In a multi-worker run only the chief holds it. The file is read and written only
while the directory itself is flock()ed, so two starting runs cannot both win. Model
directories on remote file systems (gs://, s3://, ...) are not locked.

The run holds a kernel lock (flock) on train.lock for its life: no process takes over a
live holder, not one in another PID namespace (where its PID looks gone), not with
--force_unlock. A linked or garbage lock file, and a dangling, file or read-only
MODEL_DIR, are refused with a message (docs/guides/model-dir-safety.md).
"""

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
import uuid

from jacktf.core import fs_safety
from jacktf.core.errors import ConfigError, JacktfError
# Re-exported: the lock's holder, by the paths callers and tests use.
from jacktf.train.lock_holder import (  # noqa: F401
    LOCK_NAME, describe, is_held, parse_record, pid_alive, read_holder)

log = logging.getLogger('jacktf')


class LockedError(JacktfError):
    """Another training run holds the model directory."""


def _remote(path):
    return '://' in path


@contextlib.contextmanager
def _dir_flock(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without flock: the lock file alone decides
            pass
        yield
    finally:
        os.close(fd)  # releases the flock


class RunLock:
    """The writer lock of ``model_dir``; ``acquire()`` then ``release()``.

    Args:
      model_dir: the model directory (created if missing).
      force: take over a lock held by a live process or another host.
    """

    def __init__(self, model_dir, force=False):
        self.model_dir, self.force = model_dir, bool(force)
        self.path = os.path.join(model_dir, LOCK_NAME)
        self.token = None
        self.fd = None  # the open lock file whose kernel lock this run holds

    def _record(self):
        return {'host': socket.gethostname(), 'pid': os.getpid(), 'start_time': time.time(),
                'command': ' '.join([os.path.basename(sys.executable)] + sys.argv),
                'token': uuid.uuid4().hex}

    def _write(self, fd, record):
        """Writes ``record`` into the locked file in place (renaming a new file over it
        would drop the kernel lock)."""
        data = json.dumps(record, indent=2).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)

    def _open_locked(self):
        """(fd, whether this process got the kernel lock: True, False (a live process
        holds it) or None (the file system has no flock))."""
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise ConfigError(
                        f'{self.path} is a symbolic link: the lock file of a model '
                        'directory is never followed elsewhere. Remove the link (no '
                        'run uses it), then start again.') from None
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
            except BlockingIOError:
                got = False
            except OSError:
                got = None
            if got and os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                os.close(fd)  # a releasing run removed the file meanwhile: open anew
                continue
            return fd, got

    def _takeover_reason(self, holder):
        """Why the existing lock may be replaced, or None when it may not."""
        same_host = holder.get('host') == socket.gethostname()
        if same_host and holder.get('pid') == os.getpid():
            return 'it was left by this process'
        if same_host and not pid_alive(holder.get('pid'), holder.get('start_time')):
            return f"its process (PID {holder.get('pid')}) is gone"
        if self.force:
            return '--force_unlock was given'
        return None

    def acquire(self):
        """Takes the lock.

        Raises:
          LockedError: a live run holds it (or one on another host), naming the holder.
        """
        if _remote(self.model_dir):
            log.info('MODEL_DIR %s is not on a local file system: it is not locked; run '
                     'one training at a time on it.', self.model_dir)
            return self
        fs_safety.check_model_dir(self.model_dir)
        try:
            os.makedirs(self.model_dir, exist_ok=True)
            with _dir_flock(self.model_dir):
                self._acquire()
        except OSError as e:
            raise ConfigError(
                f'Could not take the lock {self.path}: {e.strerror or e} '
                f'({errno.errorcode.get(e.errno, e.errno)}). Make MODEL_DIR '
                f'{self.model_dir} writable for this user, or give another '
                '--model_dir.') from None
        return self

    def _acquire(self):
        record = self._record()
        fd, kernel = self._open_locked()
        try:
            with os.fdopen(os.dup(fd), 'rb') as f:
                holder = parse_record(f.read())
            if kernel is False:
                raise LockedError(
                    f'{self.model_dir} is in use by another training run: '
                    f'{describe(holder or {})} (lock {self.path}); that process is alive: '
                    'it holds the kernel lock on the file (also when its PID is not '
                    'visible from here, e.g. in another container). Wait for it to end or '
                    'stop it, or give another --model_dir. Evaluate, export or predict '
                    'from this directory meanwhile: those commands need no lock.')
            if holder == {} and not self.force:
                raise LockedError(
                    f'{self.path} is not a jacktf lock record (it holds no JSON object '
                    'with host, pid and start_time: damaged or written by something '
                    'else). If no training run uses this directory, delete the file or '
                    'give --force_unlock.')
            if holder:
                reason = self._takeover_reason(holder)
                if reason is None:
                    same_host = holder.get('host') == socket.gethostname()
                    raise LockedError(
                        f'{self.model_dir} is in use by another training run: '
                        f'{describe(holder)} (lock {self.path}). Wait for it to end, or '
                        'give another --model_dir. Evaluate, export or predict from this '
                        'directory meanwhile: those commands need no lock. ' + (
                            'If that run is gone, give --force_unlock.' if not same_host
                            else 'If that process is not a jacktf run, give '
                                 '--force_unlock.'))
                log.warning('Took over the lock of %s from %s: %s.', self.model_dir,
                            describe(holder), reason)
            elif holder == {}:
                log.warning('Took over the lock of %s: %s held no lock record '
                            '(--force_unlock was given).', self.model_dir, self.path)
            self._write(fd, record)
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.token = fd, record['token']

    def release(self):
        """Removes the lock file if it is still this run's (a --force_unlock may have
        handed it to another run), then drops the kernel lock."""
        if self.token is None:
            return
        token, self.token = self.token, None
        fd, self.fd = self.fd, None
        try:
            holder = read_holder(self.model_dir)
            if holder and holder.get('token') == token:
                try:
                    os.remove(self.path)
                except OSError as e:
                    if e.errno != errno.ENOENT:
                        log.warning('Could not remove the lock %s: %s', self.path, e)
        finally:
            if fd is not None:
                os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
