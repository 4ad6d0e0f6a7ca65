"""Atomic writes that also work on gs:// and other tf.io.gfile paths.

A file a crash or a full disk must never leave half-written (best.json, metrics.csv,
labels.txt, operative_config.gin, metrics.json, ...) is written whole to a temporary
name next to it, then renamed over the target: readers see the old file or the new one.
On object stores (gs://) the rename is a copy and delete, which readers see only once
it is complete.
"""

import os
import uuid

import tensorflow as tf


def write_atomic(path, data):
    """Writes ``data`` (str or bytes) to ``path`` whole or not at all.

    The folder is created when missing. The temporary file (``.tmp-<id>-<name>``, next to
    the target) is removed when the write fails.
    """
    path = os.fspath(path)
    directory, name = os.path.split(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    tmp = os.path.join(directory, f'.tmp-{uuid.uuid4().hex[:8]}-{name}') if directory \
        else f'.tmp-{uuid.uuid4().hex[:8]}-{name}'
    try:
        with tf.io.gfile.GFile(tmp, 'wb' if isinstance(data, bytes) else 'w') as f:
            f.write(data)
        tf.io.gfile.rename(tmp, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(tmp):
            tf.io.gfile.remove(tmp)
        raise
    return path
