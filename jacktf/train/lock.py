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

from jacktf.core.errors import JacktfError

log = logging.getLogger('jacktf')
LOCK_NAME = 'train.lock'


class LockedError(JacktfError):
    """Another training run holds the model directory."""


def _process_start(pid):
    """Seconds since the epoch at which process ``pid`` started, or None (not Linux)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        ticks = int(fields[19])  # field 22 (starttime), counted after the comm field
        with open('/proc/uptime') as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + ticks / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid, since=None):
    """Whether process ``pid`` runs on this host (and, when ``since`` is given, started
    no later than ``since``: a process started after the lock was written is another
    process that got a reused PID)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except (OverflowError, ValueError, TypeError):
        return False
    if since is not None:
        started = _process_start(pid)
        if started is not None and started > float(since) + 2.0:
            return False
    return True


def describe(holder):
    """One line naming a lock's holder."""
    started = holder.get('start_time')
    when = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started)) if \
        isinstance(started, (int, float)) else '?'
    return (f"PID {holder.get('pid', '?')} on host {holder.get('host', '?')}, started "
            f"{when}: {holder.get('command', '?')}")


def read_holder(model_dir):
    """The lock's record, {} for an unreadable lock file, or None when unlocked."""
    path = os.path.join(model_dir, LOCK_NAME)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def is_held(model_dir):
    """Whether a live training run holds ``model_dir`` (False for a stale lock)."""
    holder = read_holder(model_dir)
    if holder is None:
        return False
    if holder.get('host') == socket.gethostname():
        return pid_alive(holder.get('pid'), holder.get('start_time'))
    return True


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

    def _record(self):
        return {'host': socket.gethostname(), 'pid': os.getpid(), 'start_time': time.time(),
                'command': ' '.join([os.path.basename(sys.executable)] + sys.argv),
                'token': uuid.uuid4().hex}

    def _write(self, record):
        tmp = f'{self.path}.{record["token"]}.tmp'
        with open(tmp, 'w') as f:
            json.dump(record, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _takeover_reason(self, holder):
        """Why the existing lock may be replaced, or None when it may not."""
        if not holder:
            return 'it is unreadable'
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
        os.makedirs(self.model_dir, exist_ok=True)
        record = self._record()
        with _dir_flock(self.model_dir):
            holder = read_holder(self.model_dir)
            if holder is not None:
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
            self._write(record)
        self.token = record['token']
        return self

    def release(self):
        """Removes the lock file if it is still this run's (a --force_unlock may have
        handed it to another run)."""
        if self.token is None:
            return
        token, self.token = self.token, None
        holder = read_holder(self.model_dir)
        if holder and holder.get('token') == token:
            try:
                os.remove(self.path)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    log.warning('Could not remove the lock %s: %s', self.path, e)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
