"""Checkpoint policy: the rolling CheckpointManager and the best-k by an eval metric.

best.json names its checkpoints relative to MODEL_DIR (``best/ckpt-N``), so a copy of a
run (``cp -r``) reads its own files; an absolute path an older jacktf wrote is read as
the file of that name in this run's best/ folder. Best-k deletes only inside MODEL_DIR.
"""

import json
import logging
import os

import tensorflow as tf

from jacktf.core import fs_safety
from jacktf.core.files import write_atomic

log = logging.getLogger('jacktf')


def improved(value, best, mode='max', min_delta=0.0):
    """True when ``value`` beats ``best`` by more than ``min_delta`` (Keras' rule):
    higher for ``mode`` 'max' (accuracy), lower for 'min' (loss); anything beats None."""
    if best is None:
        return True
    gain = value - best if mode == 'max' else best - value
    return gain > min_delta


def checkpoint_manager(checkpoint, model_dir, max_to_keep=3,
                       keep_checkpoint_every_n_hours=None):
    """The rolling CheckpointManager of MODEL_DIR/checkpoints (its options are
    PeriodicCheckpoints': ``periodic_checkpoints.max_to_keep``, ...)."""
    return tf.train.CheckpointManager(
        checkpoint, os.path.join(model_dir, 'checkpoints'), max_to_keep=max_to_keep,
        keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours)


def best_entry(model_dir):
    """The best checkpoint best-k kept in MODEL_DIR/best (its best.json entry: 'step', the
    metric, 'checkpoint' as a full prefix), or None when there is none whole."""
    entries = BestCheckpoints(model_dir, 1, None).entries
    return entries[0] if entries else None


class BestCheckpoints:
    """Keeps the k checkpoints with the best eval ``metric`` in MODEL_DIR/best.

    ``mode`` 'max' (accuracy) or 'min' (loss) says which is better.
    """

    def __init__(self, model_dir, k, checkpoint, metric='accuracy', mode='max'):
        self.k, self.checkpoint = k, checkpoint
        self.metric, self.mode = metric, mode
        self.model_dir = model_dir
        self.directory = os.path.join(model_dir, 'best')
        self.index = os.path.join(self.directory, 'best.json')
        self.entries = self._load() if k else []

    def _load(self):
        """best.json's entries whose checkpoint is still whole (a run killed while it
        saved or dropped one leaves the others)."""
        if not tf.io.gfile.exists(self.index):
            return []
        try:
            with tf.io.gfile.GFile(self.index) as f:
                entries = json.load(f)
        except ValueError:
            log.warning('%s is not valid JSON: best-k starts again.', self.index)
            return []
        if not isinstance(entries, list):
            log.warning('%s holds no list of checkpoints: best-k starts again.', self.index)
            return []
        kept = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get('checkpoint'), str):
                continue
            entry = dict(entry, checkpoint=self._here(entry['checkpoint']))
            if tf.io.gfile.exists(entry['checkpoint'] + '.index'):
                kept.append(entry)
        return kept

    def _here(self, path):
        """The checkpoint ``path`` of best.json in this run's best/ folder: relative
        paths from MODEL_DIR; absolute ones (older files, or the run this one was copied
        from) by their file name."""
        if os.path.isabs(path) or '://' in path:
            return os.path.join(self.directory, os.path.basename(path))
        return os.path.join(self.model_dir, path)

    def _relative(self, path):
        return os.path.join('best', os.path.basename(path))

    def _save_index(self):
        """Writes best.json whole or not at all, with paths relative to MODEL_DIR."""
        entries = [dict(e, checkpoint=self._relative(e['checkpoint'])) for e in self.entries]
        write_atomic(self.index, json.dumps(entries, indent=2))

    def rank_by(self, metric, mode, k):
        """Ranks by ``metric`` (``mode`` 'max' or 'min') and keeps at least ``k``; entries
        of an earlier run ranked by another metric are forgotten (their files stay)."""
        self.metric, self.mode, self.k = metric, mode, max(self.k, k)
        if not self.entries:
            self.entries = self._load()
        self.entries = [e for e in self.entries if metric in e]

    def _rank(self, value):
        return -value if self.mode == 'max' else value

    def consider(self, step, value):
        """Keeps the current state as ckpt-``step`` when ``value`` is among the k best;
        of equal values the later step ranks first."""
        metric = self.metric
        if not self.k or any(e['step'] == step for e in self.entries):
            return
        # A tie goes to the later step (more training): on a small validation set many
        # evaluations tie, and the first of them can be the head-only stage's.
        if len(self.entries) >= self.k and \
                self._rank(value) > self._rank(self.entries[-1][metric]):
            return
        path = self.checkpoint.write(os.path.join(self.directory, f'ckpt-{step}'))
        self.entries.append({'step': step, metric: float(value), 'checkpoint': path})
        self.entries.sort(key=lambda e: (self._rank(e[metric]), -e['step']))
        dropped, self.entries = self.entries[self.k:], self.entries[:self.k]
        self._save_index()  # first: best.json never names a deleted checkpoint
        for entry in dropped:  # only this run's files, never through a link
            for f in tf.io.gfile.glob(entry['checkpoint'] + '.*'):
                fs_safety.remove_tree(f, self.directory)
        log.info('best checkpoints by eval %s: %s', metric, ', '.join(
            f"step {e['step']} ({e[metric]:.4f})" for e in self.entries))
