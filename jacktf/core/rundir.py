"""What a run created in its model directory, so a failed start can take it back.

``CreatedFiles(model_dir)`` notes what exists before the run writes anything;
``remove()`` deletes what appeared since: the whole directory when the run created it,
otherwise only the new files and folders. It never deletes a pre-existing entry.
"""

import os

import tensorflow as tf

from jacktf.core import fs_safety


def _entries(directory):
    """Every file and folder below ``directory``, as paths relative to it."""
    out = set()
    for root, dirs, files in tf.io.gfile.walk(directory):
        rel = os.path.relpath(root, directory)
        for name in list(dirs) + list(files):
            out.add(os.path.normpath(os.path.join(rel, name)))
    return out


class CreatedFiles:
    """A snapshot of ``directory`` (which may not exist yet)."""

    def __init__(self, directory):
        self.directory = directory
        self.existed = tf.io.gfile.isdir(directory)
        self.before = _entries(directory) if self.existed else set()

    def new_entries(self):
        """Top-most entries created since the snapshot (relative paths), sorted."""
        if not tf.io.gfile.isdir(self.directory):
            return []
        new = _entries(self.directory) - self.before
        return sorted(p for p in new if os.path.dirname(p) not in new)

    def keep(self, paths):
        """Counts ``paths`` (and their folders) as pre-existing: remove() keeps them."""
        for path in paths:
            rel = os.path.normpath(os.path.relpath(path, self.directory))
            while rel not in ('', '.') and not rel.startswith('..'):
                self.before.add(rel)
                rel = os.path.dirname(rel)

    def remove(self):
        """Deletes what was created since the snapshot; returns what it deleted."""
        if not tf.io.gfile.isdir(self.directory):
            return []
        if not self.existed:
            parent = os.path.dirname(os.path.abspath(self.directory)) if not \
                fs_safety.is_remote(self.directory) else self.directory.rsplit('/', 1)[0]
            fs_safety.remove_tree(self.directory, parent)
            return [self.directory]
        removed = []
        for rel in self.new_entries():
            path = os.path.join(self.directory, rel)
            try:  # a link is removed as a link, never followed
                if not fs_safety.remove_tree(path, self.directory):
                    continue
            except (tf.errors.NotFoundError, FileNotFoundError):
                continue
            removed.append(path)
        return removed
