"""Early stopping on an eval metric; the best checkpoint is kept and exported."""

import csv
import logging
import os

import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.evaluation.operating_point import MODES as METRICS
from jacktf.train.callbacks.base import Callback
from jacktf.train.callbacks.evaluation import PeriodicEval
from jacktf.train.checkpointing import improved

log = logging.getLogger('jacktf')


class EarlyStopping(Callback):
    """Ends training when the eval ``metric`` has not improved by more than
    ``min_delta`` for ``patience`` evaluations in a row (Keras' EarlyStopping).

    Best-k then ranks by the same metric and keeps at least one checkpoint, so the
    export at the end also writes MODEL_DIR/export_best/<best step>. Needs evaluations
    (EVAL_FILES and periodic_eval.every_steps, or evaluations every epoch). Patience
    counts the evaluations of this run (a resumed run starts counting again, from the
    best kept value).

    Args:
      metric: 'accuracy', 'loss', 'macro_f1', 'balanced_accuracy' or 'min_recall' (the
        recall of the worst class), all from the one evaluation's confusion matrix; for
        multi-label models 'mAP', 'macro_f1' or 'micro_f1' (their 'accuracy' is the
        exact-match ratio).
      patience: evaluations without improvement before stopping.
      min_delta: the smallest change that counts as an improvement.
      mode: 'max', 'min' or 'auto' (min for loss, max for the others).
    """

    def __init__(self, metric='accuracy', patience=3, min_delta=0.0, mode='auto'):
        if metric not in METRICS:
            raise ConfigError(f'early_stopping.metric must be one of {sorted(METRICS)}, got '
                              f'{metric!r}.')
        if mode not in ('auto', 'max', 'min'):
            raise ConfigError(f"early_stopping.mode must be 'auto', 'max' or 'min', got "
                              f'{mode!r}.')
        if int(patience) < 1 or min_delta < 0:
            raise ConfigError(f'early_stopping needs patience >= 1 and min_delta >= 0, got '
                              f'patience={patience}, min_delta={min_delta}.')
        self.metric, self.patience, self.min_delta = metric, int(patience), float(min_delta)
        self.mode = METRICS[metric] if mode == 'auto' else mode
        self.stopped_at = None

    def on_train_begin(self, ctl):
        periodic = ctl.callbacks.find(PeriodicEval)
        if ctl.eval_dataset is None or not (periodic and periodic.interval(ctl.trainer)):
            log.warning('early_stopping has nothing to watch: it needs EVAL_FILES and '
                        'periodic_eval.every_steps (or evaluations every epoch).')
        ctl.best.rank_by(self.metric, self.mode, 1)
        top = ctl.best.entries[0] if ctl.best.entries else None
        self.best_value = top[self.metric] if top else None
        self.best_step = top['step'] if top else None
        self.wait, self.stopped_at = 0, None
        self._replay(ctl)

    def _replay(self, ctl):
        """A resumed run counts on where the stopped one was: the evaluations up to its
        start step (MODEL_DIR/metrics.csv) are replayed, so patience does not restart."""
        path = os.path.join(ctl.model_dir, 'metrics.csv')
        if not ctl.start_step or not tf.io.gfile.exists(path):
            return
        with tf.io.gfile.GFile(path) as f:
            rows = [r for r in csv.DictReader(f)
                    if int(r['step']) <= ctl.start_step and r.get(f'eval_{self.metric}')]
        if not rows:
            return
        self.best_value = self.best_step = None
        for row in rows:
            self._observe(int(row['step']), float(row[f'eval_{self.metric}']))
        log.info('early_stopping: resumed with the best eval %s %.4f at step %d and %d of '
                 '%d evaluations without improvement.', self.metric, self.best_value,
                 self.best_step, self.wait, self.patience)

    def _observe(self, step, value):
        if improved(value, self.best_value, self.mode, self.min_delta):
            self.best_value, self.best_step, self.wait = value, step, 0
        else:
            self.wait += 1

    def on_eval_end(self, ctl, step, metrics):
        self._observe(step, metrics[self.metric])
        if self.wait and self.wait >= self.patience and step < ctl.trainer.train_steps:
            log.info('Early stopping at step %d: eval %s has not improved by more than %g '
                     'for %d evaluations (best %.4f at step %d).', step, self.metric,
                     self.min_delta, self.wait, self.best_value, self.best_step)
            self.stopped_at = step
            ctl.stop_training = True
