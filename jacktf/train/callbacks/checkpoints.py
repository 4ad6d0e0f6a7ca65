"""Checkpoints every N steps or seconds (hours: the manager keeps those), and best-k."""

import time

from jacktf.core.errors import ConfigError
from jacktf.evaluation.operating_point import MODES
from jacktf.train.callbacks.base import Callback
from jacktf.train.checkpointing import BestCheckpoints


class PeriodicCheckpoints(Callback):
    """Saves every ``every_steps`` steps, and also when ``every_seconds`` have passed
    since the last save (gin: ``periodic_checkpoints.every_steps = 100``); its
    ``max_to_keep`` and ``keep_every_n_hours`` are the rolling CheckpointManager's
    (the Controller makes the manager with them: ``manager_options()``).

    Args:
      every_steps: steps between checkpoints.
      every_seconds: also checkpoint when this many seconds have passed (None: off).
      max_to_keep: checkpoints kept in MODEL_DIR/checkpoints (None: all).
      keep_every_n_hours: additionally keep one checkpoint per this many hours (None:
        off).
    """

    order = 25  # saves the step before an evaluation of it

    def __init__(self, every_steps=200, every_seconds=None, max_to_keep=3,
                 keep_every_n_hours=None):
        self.every_steps = max(1, int(every_steps))
        self.every_seconds = every_seconds
        self.max_to_keep, self.keep_every_n_hours = max_to_keep, keep_every_n_hours

    def manager_options(self):
        """The keyword options of jacktf.train.checkpointing.checkpoint_manager."""
        return {'max_to_keep': self.max_to_keep,
                'keep_checkpoint_every_n_hours': self.keep_every_n_hours}

    def on_train_begin(self, ctl):
        self.last_save = time.time()

    def on_step_end(self, ctl, step, logs):
        timed = self.every_seconds and time.time() - self.last_save >= self.every_seconds
        if step % self.every_steps == 0 or timed:
            ctl.manager.save(checkpoint_number=step)
            self.last_save = time.time()


class BestK(Callback):
    """Keeps the ``keep`` checkpoints with the best eval ``metric`` in MODEL_DIR/best
    (``ctl.best``; ExportAtEnd exports the best one); gin: ``best_k.keep = 3``,
    ``best_k.metric = 'min_recall'``.

    Args:
      keep: checkpoints kept (default 1: a run with eval data keeps and exports its
        best checkpoint); 0 turns best-k off (EarlyStopping still keeps one).
      metric: what ranks them, computed by the one evaluation from its confusion
        matrix: 'accuracy', 'loss', 'macro_f1', 'balanced_accuracy' or 'min_recall'
        (the recall of the worst class); for a multi-label model 'mAP', 'macro_f1' or
        'micro_f1'. None: 'accuracy', or 'mAP' for a multi-label model. EarlyStopping,
        when used, ranks by its own metric instead.
    """

    order = 38  # sets ctl.best before EarlyStopping re-ranks it

    def __init__(self, keep=1, metric=None):
        if metric is not None and metric not in MODES:
            raise ConfigError(f'best_k.metric must be one of {sorted(MODES)}, got '
                              f'{metric!r}.')
        self.keep, self.metric = int(keep), metric

    def on_train_begin(self, ctl):
        metric = self.metric or ('mAP' if getattr(ctl.model, 'multi_label', False)
                                 else 'accuracy')
        self.best = ctl.best = BestCheckpoints(ctl.write_dir, self.keep, ctl.checkpoint)
        self.best.rank_by(metric, MODES[metric], 0)

    def on_eval_end(self, ctl, step, metrics):
        self.best.consider(step, metrics[self.best.metric])
