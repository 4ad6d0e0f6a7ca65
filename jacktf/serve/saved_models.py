"""Finding and loading the SavedModel a user names: a version folder, an export folder
in TF Serving's layout (the newest version wins), a model directory holding export/,
or saved_model.pb itself; anything else is a DataError that lists what the folder holds
and what to give instead.
"""

import os

import tensorflow as tf

from jacktf.core.errors import DataError

SAVED_MODEL_FILES = ('saved_model.pb', 'saved_model.pbtxt')
EXPORT_FOLDERS = ('export', 'export_best')
# A model directory's model is its best (export_best, written when best-k kept a checkpoint
# by eval), else its final export.
BEST_FIRST = ('export_best', 'export')


def is_saved_model(path):
    """Whether ``path`` is a folder holding saved_model.pb (or .pbtxt)."""
    return any(tf.io.gfile.exists(os.path.join(path, f)) for f in SAVED_MODEL_FILES)


def _describe(path, names, limit=8):
    shown = [n + ('/' if tf.io.gfile.isdir(os.path.join(path, n)) else '')
             for n in sorted(names)[:limit]]
    more = f' and {len(names) - limit} more' if len(names) > limit else ''
    return ', '.join(shown) + more if shown else 'nothing (it is empty)'


def _newest_version(path):
    """(newest version folder, its number, the numbers of all complete versions) of an
    export base folder in TF Serving's layout, or None when it holds no numbered folder.
    """
    versions = sorted(int(n.rstrip('/')) for n in tf.io.gfile.listdir(path)
                      if n.rstrip('/').isdigit()
                      and tf.io.gfile.isdir(os.path.join(path, n.rstrip('/'))))
    if not versions:
        return None
    complete = [v for v in versions if is_saved_model(os.path.join(path, str(v)))]
    if not complete:
        raise DataError(
            f'--saved_model: {path!r} holds version folder(s) {", ".join(map(str, versions))}'
            f' but none holds {SAVED_MODEL_FILES[0]} (an interrupted or deleted export?). '
            'Export again: jacktf export --model_dir MODEL_DIR.')
    return os.path.join(path, str(complete[-1])), complete[-1], complete


def find_saved_model(path):
    """Resolves a SavedModel the way people name one, to one version folder.

    Accepted: a SavedModel folder (``MODEL_DIR/export/600``), an export base folder of
    numbered versions (``MODEL_DIR/export``, TF Serving's layout; the highest number
    wins), a model directory (its ``export_best/`` when best-k kept a checkpoint, else its
    ``export/``), or the
    ``saved_model.pb`` file itself.

    Args:
      path: what the user gave as --saved_model.

    Returns:
      (folder, note): the SavedModel folder and, when it is not ``path`` itself, one line
      saying which version was chosen (else None).

    Raises:
      DataError: ``path`` is missing, or holds no SavedModel; the message lists what it
        holds and what to give instead.
    """
    given = path
    path = path.rstrip('/') or '/'
    if not tf.io.gfile.exists(path):
        raise DataError(f'--saved_model {given!r}: no such file or folder. Give a '
                        'SavedModel folder (MODEL_DIR/export/<version>), the export folder '
                        '(MODEL_DIR/export) or the model directory.')
    if not tf.io.gfile.isdir(path):
        if os.path.basename(path) in SAVED_MODEL_FILES:
            return os.path.dirname(path) or '.', None
        raise DataError(f'--saved_model {given!r} is a file, not a SavedModel folder. Give '
                        'the folder that holds saved_model.pb (MODEL_DIR/export/<version>), '
                        'the export folder (MODEL_DIR/export) or the model directory.')
    if is_saved_model(path):
        return path, None
    candidates = [(path, None)] + [(os.path.join(path, name), name)
                                   for name in BEST_FIRST
                                   if tf.io.gfile.isdir(os.path.join(path, name))]
    for base, folder in candidates:
        found = _newest_version(base)
        if found:
            version_path, version, versions = found
            where = os.path.join(given.rstrip('/'), folder) if folder else given.rstrip('/')
            older = versions[:-1][::-1]
            others = (f'; older: {", ".join(map(str, older[:3]))}'
                      f'{" ..." if len(older) > 3 else ""}' if older else '')
            return version_path, (f'Using SavedModel version {version} ({version_path}), '
                                  f'the newest in {where}{others}.')
    names = [n.rstrip('/') for n in tf.io.gfile.listdir(path)]
    hint = ('Give a SavedModel folder (holding saved_model.pb), an export folder of '
            'numbered versions, or a model directory holding export/.')
    if 'checkpoints' in names or 'operative_config.gin' in names:
        hint = (f'It looks like a model directory that was never exported: run '
                f'jacktf export --model_dir {given} first.')
    elif is_saved_model(os.path.dirname(os.path.abspath(path))):
        hint = (f'It is a folder inside the SavedModel '
                f'{os.path.dirname(os.path.abspath(path))}: give that one.')
    elif 'checkpoint' in names or any(n.endswith('.index') for n in names):
        hint = (f'These are training checkpoints, not an export: run jacktf export '
                f'--model_dir {os.path.dirname(os.path.abspath(path))} first, or give '
                'the model directory if it holds export/.')
    searched = ''.join(f', nor in {folder}/' for _, folder in candidates[1:])
    raise DataError(f'--saved_model {given!r} holds no SavedModel: no saved_model.pb and no '
                    f'numbered version folder{searched}. It holds {_describe(path, names)}. '
                    f'{hint}')


def load_saved_model(path):
    """Loads a jacktf SavedModel; returns (module, its serving_default function).

    Raises:
      DataError: the files cannot be loaded, or it is not a jacktf classifier export.
    """
    try:
        module = tf.saved_model.load(path)
    except (OSError, ValueError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0].rstrip('.') if str(e).strip() else (
            type(e).__name__)
        raise DataError(f'Cannot load the SavedModel {path!r}: {first}. The export may be '
                        'incomplete or corrupt: export again with jacktf export '
                        '--model_dir MODEL_DIR.') from None
    serve = module.signatures.get('serving_default')
    if serve is None or 'probabilities' not in serve.structured_outputs:
        raise DataError(f'{path!r} is a SavedModel but not a jacktf classifier export: it '
                        'has no serving_default signature returning probabilities '
                        f'(signatures: {sorted(module.signatures) or "none"}).')
    return module, serve
