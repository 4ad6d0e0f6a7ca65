"""Who holds a model directory's lock: the lock file's record (host, PID, start time,
command line), whether that process is alive on this host (a reused PID is not), and
whether a live process holds the kernel lock on it (see jacktf.train.lock)."""

import fcntl
import json
import os
import socket
import time

LOCK_NAME = 'train.lock'


def process_start(pid):
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
        started = process_start(pid)
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


def valid_record(record):
    """Whether ``record`` is a lock record (host, PID, start time of the right types)."""
    return isinstance(record, dict) and isinstance(record.get('host'), str) and \
        isinstance(record.get('pid'), int) and not isinstance(record.get('pid'), bool) \
        and isinstance(record.get('start_time'), (int, float)) and \
        not isinstance(record.get('start_time'), bool)


def parse_record(data):
    """The record in ``data`` (bytes): None when empty, {} when it is no lock record."""
    if not data.strip():
        return None
    try:
        record = json.loads(data.decode('utf-8'))
    except ValueError:
        return {}
    return record if valid_record(record) else {}


def read_holder(model_dir):
    """The lock's record, {} for an unreadable lock file, or None when unlocked."""
    path = os.path.join(model_dir, LOCK_NAME)
    try:
        with open(path, 'rb') as f:
            record = parse_record(f.read())
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    return {} if record is None else record


def kernel_locked(path):
    """True when a live process holds the kernel lock on ``path``; None: cannot tell."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)


def is_held(model_dir):
    """Whether a live training run holds ``model_dir`` (False for a stale lock)."""
    holder = read_holder(model_dir)
    if holder is None:
        return False
    kernel = kernel_locked(os.path.join(model_dir, LOCK_NAME))
    if kernel:
        return True
    if holder.get('host') == socket.gethostname():
        return pid_alive(holder.get('pid'), holder.get('start_time'))
    return True
