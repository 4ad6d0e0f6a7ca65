"""Recovery in MODEL_DIR: damaged checkpoints are set aside, half-written leftovers of a
killed run are cleared, and a write that fails for lack of space or permission ends the
run with a message instead of a traceback.

- ``recover(ckpt_dir)``: the newest checkpoint that reads whole. Newer ones that do not
  (a truncated data file, a missing index, a checkpoint state file naming files that are
  gone) are named in one warning each and moved to ``checkpoints/damaged/`` (never
  deleted); the checkpoint state file is rewritten to name the readable one.
- ``clear_leftovers(model_dir)``: removes the temporary folders a killed run leaves
  (``checkpoints/ckpt-N_temp``, ``best/ckpt-N_temp``, hidden export staging folders
  ``export/.N-*``); no finished checkpoint or export is touched.
- ``disk_errors(model_dir)``: turns ENOSPC / EROFS / EACCES / EDQUOT (an OSError or a
  TensorFlow error) into DiskWriteError naming the path, the error and the checkpoint
  that still restores.
"""

import contextlib
import errno
import logging
import os
import re

import tensorflow as tf

from jacktf.core import fs_safety
from jacktf.core.checkpoint_paths import step_in_name
from jacktf.core.errors import JacktfError, RestoreError

log = logging.getLogger('jacktf')
DAMAGED = 'damaged'
EXPORT_FOLDERS = ('export', 'export_best')
_WRITE_ERRORS = {errno.ENOSPC: 'No space left on device',
                 errno.EROFS: 'Read-only file system',
                 errno.EACCES: 'Permission denied',
                 errno.EDQUOT: 'Disk quota exceeded'}
_MESSAGE_TO_ERRNO = {text: code for code, text in _WRITE_ERRORS.items()}
_TF_PATH = re.compile(r'(?:^|\s|}})\s*((?:[a-z][a-z0-9+.-]*://)?/[^\s;]+); (' +
                      '|'.join(map(re.escape, _MESSAGE_TO_ERRNO)) + ')')


class DiskWriteError(JacktfError):
    """A checkpoint, summary or export could not be written (full, read-only, denied)."""


# -- damaged checkpoints -------------------------------------------------------------
def _step(prefix):
    step = step_in_name(prefix)
    return -1 if step is None else step


def candidates(ckpt_dir):
    """Checkpoint prefixes in ``ckpt_dir``, newest first: those the state file names
    (present or not) and every ``*.index`` file."""
    prefixes = set()
    state = tf.train.get_checkpoint_state(ckpt_dir)
    if state is not None:
        for path in list(state.all_model_checkpoint_paths) + [state.model_checkpoint_path]:
            if path:
                prefixes.add(os.path.join(ckpt_dir, os.path.basename(path)))
    for index in tf.io.gfile.glob(os.path.join(ckpt_dir, '*.index')):
        prefixes.add(index[:-len('.index')])
    return sorted(prefixes, key=lambda p: (_step(p), p), reverse=True)


def unreadable(prefix):
    """Why checkpoint ``prefix`` cannot be read whole (every tensor), or None."""
    if not tf.io.gfile.exists(prefix + '.index'):
        files = tf.io.gfile.glob(prefix + '.*')
        return 'its index file is missing' if files else 'its files are gone'
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype.is_numpy_compatible:
                reader.get_tensor(name)
            else:  # e.g. the input iterator's state (a variant): read it as restore does
                tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[name],
                                     shape_and_slices=[''], dtypes=[dtype])
    except Exception as e:  # noqa: BLE001 - the reader raises IndexError, OpError, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f'{type(e).__name__}: {first[:300]}'
    return None


def _set_aside(prefix, damaged_dir):
    """Moves ``prefix``'s files into ``damaged_dir``; returns the new paths."""
    moved = []
    files = tf.io.gfile.glob(prefix + '.*')
    if not files:
        return moved
    tf.io.gfile.makedirs(damaged_dir)
    suffix = ''
    while any(tf.io.gfile.exists(os.path.join(damaged_dir, os.path.basename(f) + suffix))
              for f in files):
        suffix = f'.{int(suffix[1:] or 0) + 1}'
    for f in files:
        target = os.path.join(damaged_dir, os.path.basename(f) + suffix)
        tf.io.gfile.rename(f, target)
        moved.append(target)
    return moved


def _rewrite_state(ckpt_dir, latest, dropped):
    """Points the checkpoint state file at ``latest`` and forgets ``dropped``."""
    state = tf.train.get_checkpoint_state(ckpt_dir)
    dropped = {os.path.basename(p) for p in dropped}
    paths, stamps = [], []
    if state is not None:
        old_stamps = list(state.all_model_checkpoint_timestamps) or \
            [None] * len(state.all_model_checkpoint_paths)
        for path, stamp in zip(state.all_model_checkpoint_paths, old_stamps):
            if os.path.basename(path) not in dropped:
                paths.append(os.path.basename(path))
                stamps.append(stamp)
    if latest is None:
        path = os.path.join(ckpt_dir, 'checkpoint')
        if tf.io.gfile.exists(path):
            tf.io.gfile.remove(path)
        return
    if os.path.basename(latest) not in paths:
        paths.append(os.path.basename(latest))
        stamps.append(None)
    stamps = None if any(s is None for s in stamps) else stamps
    tf.compat.v1.train.update_checkpoint_state(
        ckpt_dir, os.path.basename(latest), all_model_checkpoint_paths=paths,
        all_model_checkpoint_timestamps=stamps,
        last_preserved_timestamp=state.last_preserved_timestamp if state else None)


def recover(ckpt_dir, repair=True):
    """The newest checkpoint of ``ckpt_dir`` that reads whole.

    Args:
      ckpt_dir: MODEL_DIR/checkpoints.
      repair: move damaged newer checkpoints to ``ckpt_dir/damaged`` and rewrite the
        state file (the writer); False only reads (another worker, an evaluator).

    Returns:
      (the prefix or None, the paths of the files moved aside).
    """
    if not tf.io.gfile.isdir(ckpt_dir):
        return None, []
    damaged, moved, latest = [], [], None
    for prefix in candidates(ckpt_dir):
        reason = unreadable(prefix)
        if reason is None:
            latest = prefix
            break
        damaged.append((prefix, reason))
    if not damaged:
        return latest, []
    if latest is None and not any(tf.io.gfile.glob(p + '.*') for p, _ in damaged):
        # Only a state file naming files that are all gone: no checkpoint at all.
        if repair:
            _rewrite_state(ckpt_dir, None, [p for p, _ in damaged])
        log.warning('The checkpoint state file in %s names %s, whose files are gone, and '
                    'no other checkpoint exists.', ckpt_dir, damaged[0][0])
        return None, []
    if latest is None:  # not one reads: more likely the disk or this reader than the files
        prefix, reason = damaged[0]
        raise RestoreError(
            f'No checkpoint in {ckpt_dir} can be read: the newest, {prefix}, fails with '
            f'{reason} (and {len(damaged) - 1} older one(s) fail too). Nothing was moved. '
            'Check the disk (dmesg, df); to start this model directory over, move its '
            'checkpoints/ folder away.')
    damaged_dir = os.path.join(ckpt_dir, DAMAGED)
    for prefix, reason in damaged:
        if repair:
            moved += _set_aside(prefix, damaged_dir)
        log.warning('Checkpoint %s cannot be read (%s): %s%s', prefix, reason,
                    f'resuming from {latest}' if repair else f'reading {latest} instead',
                    f'; its files were moved to {damaged_dir}' if repair and
                    tf.io.gfile.glob(os.path.join(damaged_dir,
                                                  os.path.basename(prefix) + '.*'))
                    else '.')
    if repair:
        _rewrite_state(ckpt_dir, latest, [p for p, _ in damaged])
    return latest, moved


def leftovers(model_dir):
    """The half-written entries a killed run leaves in ``model_dir`` (links included,
    never looked through): ``checkpoints/*_temp``, ``best/*_temp`` and hidden staging
    folders of the export folders; none when such a folder is itself a link."""
    found = []
    for folder, match in (('checkpoints', lambda n: n.endswith('_temp')),
                          ('best', lambda n: n.endswith('_temp'))) + tuple(
            (f, lambda n: n.startswith('.')) for f in EXPORT_FOLDERS):
        base = os.path.join(model_dir, folder)
        if fs_safety.is_remote(base):
            found += [p.rstrip('/') for p in tf.io.gfile.glob(os.path.join(base, '*'))
                      if match(os.path.basename(p.rstrip('/')))]
        elif os.path.isdir(base) and not os.path.islink(base):
            found += [os.path.join(base, n) for n in sorted(os.listdir(base)) if match(n)]
    return found


def clear_leftovers(model_dir):
    """Removes what a killed run left half-written: ``checkpoints/*_temp`` folders of an
    unfinished save (also of best-k) and hidden staging folders in the export folders.
    Never follows a symbolic link: a link with such a name is removed as a link, and
    nothing outside ``model_dir`` is deleted. Returns what it removed."""
    removed = [path for path in leftovers(model_dir)
               if fs_safety.remove_tree(path, model_dir)]
    if removed:
        log.info('Removed what an interrupted run left half-written: %s',
                 ', '.join(removed))
    return removed


# -- failed writes -------------------------------------------------------------------
def write_failure(error):
    """(path, errno code) when ``error`` is a write that failed for lack of space or
    permission, else None."""
    if isinstance(error, OSError) and error.errno in _WRITE_ERRORS:
        return error.filename or '?', error.errno
    if isinstance(error, tf.errors.OpError):
        match = _TF_PATH.search(error.message or '')
        if match:
            return match.group(1), _MESSAGE_TO_ERRNO[match.group(2)]
        for text, code in _MESSAGE_TO_ERRNO.items():
            if text in (error.message or ''):
                return '?', code
    return None


def _latest(model_dir):
    try:
        return recover(os.path.join(model_dir, 'checkpoints'), repair=False)[0]
    except Exception:  # noqa: BLE001 - the message must still be printed
        return None


@contextlib.contextmanager
def disk_errors(model_dir):
    """Raises DiskWriteError for a write that failed (ENOSPC, EROFS, EACCES, EDQUOT)."""
    try:
        yield
    except (OSError, tf.errors.OpError) as e:
        failure = write_failure(e)
        if failure is None:
            raise
        path, code = failure
        if code == errno.EACCES and path != '?' and not os.path.abspath(path).startswith(
                os.path.abspath(model_dir) + os.sep):
            raise  # a file the run reads (TRAIN_FILES, ...), not one it writes
        for temp in leftovers(model_dir):  # an unfinished save's parts: free the space
            fs_safety.remove_tree(temp, model_dir)
        latest = _latest(model_dir)
        fix = {errno.ENOSPC: 'Free space on that disk', errno.EDQUOT: 'Free space within '
               'your quota', errno.EROFS: 'Remount it writable',
               errno.EACCES: 'Make it writable for this user'}[code]
        raise DiskWriteError(
            f'Could not write {path}: {_WRITE_ERRORS[code]} ({errno.errorcode[code]}). '
            'Training stopped. ' + (
                f'The last good checkpoint {latest} restores: {fix.lower()} (or move '
                'MODEL_DIR to another disk) and run the same command to resume.'
                if latest else f'No checkpoint was saved yet. {fix}, then start again.')
        ) from None
