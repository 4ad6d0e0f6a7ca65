"""The model directory is never a path to something else.

What jacktf deletes, it deletes inside the folder it owns, and never through a symbolic
link: a link named like a leftover (``checkpoints/ckpt-7_temp`` -> /data) is removed as
a link, the folder it points to is not read. What it creates follows the user's umask,
and what it keeps on a local disk for a remote MODEL_DIR lives in a private folder of
the user (0700), never at a predictable shared path.

- ``remove_tree(path, root)``: deletes ``path`` (a folder, file or link) without
  following links, and only when it lies inside ``root``;
- ``inside(path, root)``: whether ``path`` (its folder resolved, the last part not)
  lies inside ``root``;
- ``private_dir(*parts)``: ~/.cache/jacktf/<parts> (XDG_CACHE_HOME honoured), 0700,
  owned by this user;
- ``follow_umask(path)``: gives a file or folder made with mkstemp/mkdtemp (0600/0700)
  the mode the user's umask gives new files;
- ``check_model_dir(path)``: ConfigError for a MODEL_DIR that is a dangling link, a
  file, or not writable.
"""

import logging
import os
import shutil
import stat

from jacktf.core.errors import ConfigError

log = logging.getLogger('jacktf')


def is_remote(path):
    return '://' in str(path)


def _resolved(path):
    """``path`` with its folder resolved and its last part kept (a link stays a link)."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def inside(path, root):
    """Whether ``path`` lies strictly inside ``root`` once links in its folders are
    resolved (its last part is not followed)."""
    if is_remote(path) or is_remote(root):
        root = str(root).rstrip('/') + '/'
        return str(path).startswith(root) and '/../' not in str(path)[len(root) - 1:]
    real_root = os.path.realpath(root)
    return _resolved(path).startswith(real_root.rstrip(os.sep) + os.sep)


def remove_tree(path, root):
    """Deletes ``path`` without following symbolic links; refuses (a warning, False)
    when ``path`` is not inside ``root``.

    A link is unlinked, never followed; a folder's links are unlinked too (shutil.rmtree
    does not follow them). Returns whether something was deleted.
    """
    if not inside(path, root):
        log.warning('Not deleting %s: it is not inside %s (a link to somewhere else?).',
                    path, root)
        return False
    if is_remote(path):
        import tensorflow as tf
        if not tf.io.gfile.exists(path):
            return False
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)
        else:
            tf.io.gfile.remove(path)
        return True
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)  # a file, or a link (to a folder or not): the link only
    return True


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path):
    """Sets ``path``'s mode to what the umask gives a new file (0666) or folder (0777)."""
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~current_umask())
    return path


def private_dir(*parts):
    """A folder only this user can enter: $XDG_CACHE_HOME/jacktf/<parts> (default
    ~/.cache). Created 0700; an existing one must be a real folder of this user, and
    is made 0700 when it is not.

    Raises:
      ConfigError: the folder is a link, not a folder, or another user's.
    """
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'),
                                                             '.cache')
    path = os.path.join(base, 'jacktf', *parts)
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or (
            hasattr(os, 'getuid') and info.st_uid != os.getuid()):
        raise ConfigError(f'{path} must be a folder of this user (it is a link, a file or '
                          'another user\'s): move it away, or set XDG_CACHE_HOME to a '
                          'private folder.')
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def check_model_dir(path):
    """Raises ConfigError when MODEL_DIR ``path`` cannot hold a run: a dangling link, a
    file, or a folder (or the nearest existing parent) this user cannot write."""
    if is_remote(path):
        return
    if os.path.islink(path) and not os.path.exists(path):
        raise ConfigError(f'MODEL_DIR {path} is a symbolic link to {os.readlink(path)!r}, '
                          'which does not exist. Create that folder, or give another '
                          '--model_dir.')
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f'MODEL_DIR {path} is a file, not a folder. Give another '
                          '--model_dir, or move the file away.')
    existing = path
    while not os.path.exists(existing):
        parent = os.path.dirname(os.path.abspath(existing))
        if parent == existing:
            break
        existing = parent
    if not os.access(existing, os.W_OK | os.X_OK):
        what = 'MODEL_DIR' if existing == path else f'MODEL_DIR {path}: its parent'
        raise ConfigError(f'{what} {existing} is not writable for this user (read-only '
                          'file system or permissions). Make it writable, or give '
                          'another --model_dir.')
