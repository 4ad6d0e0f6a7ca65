"""Checkpoint paths as users give them, resolved to the prefix TensorFlow reads.

A TensorFlow checkpoint is a prefix (``model.ckpt``) naming several files
(``model.ckpt.index``, ``model.ckpt.data-00000-of-00001``, maybe ``model.ckpt.meta``).
Users give any of those files, a folder (an unpacked slim tarball holds one checkpoint
and no ``checkpoint`` state file), or a folder whose state file was written on another
machine. ``resolve_checkpoint`` turns each into the prefix, logging one line when it
had to interpret the path, or raises a RestoreError naming the path, what is wrong and
what exists there.
"""

import difflib
import logging
import os
import re

import tensorflow as tf

from jacktf.core.errors import RestoreError

log = logging.getLogger('jacktf')
_FILE_SUFFIX = re.compile(r'^(?P<prefix>.+)\.(?P<kind>index|meta|data-\d+-of-\d+)$')
_STATE_FILE = 'checkpoint'
_SHOWN = 10


def step_in_name(prefix):
    """The step number in a checkpoint name ('.../ckpt-600' -> 600), or None."""
    tail = os.path.basename(str(prefix or '')).rsplit('-', 1)[-1]
    return int(tail) if tail.isdigit() else None


def _join(folder, name):
    return folder.rstrip('/') + '/' + name if '://' in folder else os.path.join(folder, name)


def _is_prefix(path):
    return tf.io.gfile.exists(path + '.index')


def checkpoints_in(folder):
    """Prefixes of the checkpoints directly in ``folder``, in natural order.

    V2 checkpoints are found by their ``.index`` file; a V1 checkpoint (one file named
    ``*.ckpt``, as in the oldest slim tarballs) counts too.
    """
    try:
        names = tf.io.gfile.listdir(folder)
    except tf.errors.OpError:
        return []
    names = [n.rstrip('/') for n in names]
    found = [n[:-len('.index')] for n in names if n.endswith('.index')]
    found += [n for n in names if n.endswith('.ckpt') and n not in found and
              not tf.io.gfile.isdir(_join(folder, n))]
    return [_join(folder, n) for n in sorted(set(found), key=_natural)]


def _natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', text)]


def _listing(paths):
    shown = ', '.join(os.path.basename(p) for p in paths[:_SHOWN])
    return shown + (f' and {len(paths) - _SHOWN} more' if len(paths) > _SHOWN else '')


def _folder_contents(folder):
    """One phrase on what ``folder`` holds: its checkpoints, else its entries."""
    ckpts = checkpoints_in(folder)
    if ckpts:
        return f'the folder {folder} holds the checkpoint(s) {_listing(ckpts)}'
    try:
        entries = sorted(n.rstrip('/') for n in tf.io.gfile.listdir(folder))
    except tf.errors.OpError:
        entries = []
    if not entries:
        return f'the folder {folder} is empty'
    nested = [c for n in entries if tf.io.gfile.isdir(_join(folder, n))
              for c in checkpoints_in(_join(folder, n))][:_SHOWN]
    hint = (f'; checkpoints one level down: {", ".join(nested)}' if nested else '')
    shown = ', '.join(entries[:_SHOWN]) + (
        f' and {len(entries) - _SHOWN} more' if len(entries) > _SHOWN else '')
    return f'the folder {folder} holds no checkpoint (no *.index file), only: {shown}{hint}'


def _as_setting(setting, path):
    return f'{setting} {path}' if setting.startswith('--') else f'{setting} = {path!r}'


def _pick_hint(setting, ckpts):
    return (f'Give one of them as {setting}, e.g. {_as_setting(setting, ckpts[-1])} (the '
            'prefix, without .index or .data-*).')


def _resolve_folder(folder, setting):
    state_path = _join(folder, _STATE_FILE)
    if tf.io.gfile.exists(state_path):
        try:
            state = tf.train.get_checkpoint_state(folder)
        except Exception as e:  # a malformed state file: protobuf text errors
            raise RestoreError(
                f'The checkpoint state file {state_path} cannot be read ({e}). Delete it '
                f'or give a checkpoint prefix as {setting}; {_folder_contents(folder)}.'
            ) from None
        target = state.model_checkpoint_path if state else ''
        if target:
            if _is_prefix(target) or (tf.io.gfile.exists(target) and
                                      not tf.io.gfile.isdir(target)):
                return target
            local = _join(folder, os.path.basename(target))
            if _is_prefix(local):
                log.info('%s points to %s, which is not on this machine (written '
                         'elsewhere); using %s of the same name in that folder.',
                         state_path, target, local)
                return local
            raise RestoreError(
                f'{setting} {folder!r}: its state file {state_path} points to {target}, '
                'which does not exist here (the folder was written on another machine '
                f'or the files were moved), and {_folder_contents(folder)}. '
                + (_pick_hint(setting, checkpoints_in(folder)) if checkpoints_in(folder)
                   else f'Copy the checkpoint files into {folder}, or give the prefix '
                        f'of a checkpoint as {setting}.'))
    ckpts = checkpoints_in(folder)
    if len(ckpts) == 1:
        log.info('%s %s is a folder without a checkpoint state file; using its only '
                 'checkpoint %s.', setting, folder, ckpts[0])
        return ckpts[0]
    if ckpts:
        raise RestoreError(
            f'{setting} {folder!r} is a folder holding {len(ckpts)} checkpoints and no '
            f'`checkpoint` state file to say which one to use: {_listing(ckpts)}. '
            + _pick_hint(setting, ckpts))
    raise RestoreError(f'{setting} {folder!r} holds no checkpoint: '
                       f'{_folder_contents(folder)}. Give a checkpoint prefix (e.g. '
                       f'{_join(folder, "model.ckpt")!r}) or a folder holding one.')


def _nearest_folder(path):
    folder = os.path.dirname(path.rstrip('/')) or '.'
    while folder and not tf.io.gfile.isdir(folder):
        parent = os.path.dirname(folder.rstrip('/'))
        if parent == folder:
            return None
        folder = parent or '.'
    return folder


def _not_found(path, setting):
    folder = _nearest_folder(path)
    if folder is None:
        raise RestoreError(f'{setting} {path!r} does not exist, nor does any folder above '
                           'it. Check the path (download the checkpoint first).')
    where = ('' if folder == (os.path.dirname(path.rstrip('/')) or '.')
             else f' (nor does {os.path.dirname(path)}; the nearest existing folder is '
                  f'{folder})')
    try:
        entries = [n.rstrip('/') for n in tf.io.gfile.listdir(folder)]
    except tf.errors.OpError:
        entries = []
    options = [os.path.basename(c) for c in checkpoints_in(folder)] + [
        n for n in entries if not _FILE_SUFFIX.match(n)]
    rest = os.path.relpath(path, folder) if '://' not in path else path[len(folder):]
    base = rest.strip('/').split('/')[0]  # the first part of the path that is missing
    close = difflib.get_close_matches(base, sorted(set(options)), n=3, cutoff=0.6)
    hint = f' Did you mean {" or ".join(repr(_join(folder, c)) for c in close)}?' \
        if close else ''
    raise RestoreError(f'{setting} {path!r} does not exist{where}: '
                       f'{_folder_contents(folder)}.{hint}')


def resolve_checkpoint(path, setting='CHECKPOINT_PATH', registry=None, resolve_uri=None):
    """The checkpoint prefix a user's path means.

    Args:
      path: 'builtin://NAME' (weights shipped with jacktf), 'slim://NAME' (the official
        checkpoint, fetched into the cache once), a checkpoint prefix, one of its files (``.index``, ``.meta``, any
        ``.data-*`` shard), or a folder holding a checkpoint.
      setting: how the user gave the path, for messages ('CHECKPOINT_PATH',
        '--checkpoint').
      registry: the Registry a downloaded checkpoint is verified against.
      resolve_uri: ``fn(path, registry) -> path`` turning 'builtin://NAME' and
        'slim://NAME' into a local prefix (jacktf.pretrained.resolve_checkpoint; the
        layers above core pass it, core does not import pretrained).

    Returns:
      The prefix (or V1 checkpoint file) to read.

    Raises:
      RestoreError: the path does not exist, a folder holds no checkpoint or several
        without a state file, or a state file points to a checkpoint that is not there.
    """
    path = os.path.expanduser(str(path).strip())
    if resolve_uri is not None:
        path = resolve_uri(path, registry)
    elif path.startswith(('builtin://', 'slim://')):
        raise RestoreError(f'{setting} {path!r} names pretrained weights, which '
                           'jacktf.pretrained resolves: call jacktf.restore_from_'
                           'checkpoint, or pass resolve_uri=jacktf.pretrained.'
                           'resolve_checkpoint.')
    if len(path) > 1 and path.endswith('/'):
        path = path.rstrip('/')
    if tf.io.gfile.isdir(path):
        return _resolve_folder(path, setting)
    if _is_prefix(path):
        return path
    match = _FILE_SUFFIX.match(path)
    if match:
        prefix = match.group('prefix')
        if _is_prefix(prefix):
            log.info('%s %s is one file of the checkpoint %s; reading that checkpoint '
                     '(give the prefix to silence this line).', setting, path, prefix)
            return prefix
        if tf.io.gfile.exists(path):
            raise RestoreError(
                f'{setting} {path!r} is a {match.group("kind")} file, but its checkpoint '
                f'{prefix} has no {os.path.basename(prefix)}.index next to it, so it holds '
                f'no readable weights; {_folder_contents(os.path.dirname(path) or ".")}.')
    if tf.io.gfile.exists(path):
        return path  # a V1 checkpoint file, or something the reader will reject by name
    _not_found(path, setting)
