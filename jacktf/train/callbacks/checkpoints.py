"""Checkpoints every N steps or seconds (hours: the manager keeps those), and best-k."""

import time

from jacktf.train.callbacks.base import Callback
from jacktf.train.checkpointing import BestCheckpoints


class PeriodicCheckpoints(Callback):
    """Saves every ``Trainer.checkpoint_every_steps`` steps, and also when
    ``Trainer.checkpoint_every_seconds`` have passed since the last save."""

    order = 25  # saves the step before an evaluation of it

    def on_train_begin(self, ctl):
        self.last_save = time.time()

    def on_step_end(self, ctl, step, logs):
        trainer = ctl.trainer
        timed = trainer.checkpoint_every_seconds and \
            time.time() - self.last_save >= trainer.checkpoint_every_seconds
        if step % trainer.checkpoint_every_steps == 0 or timed:
            ctl.manager.save(checkpoint_number=step)
            self.last_save = time.time()


class BestK(Callback):
    """Keeps the ``Trainer.keep_best`` checkpoints with the best eval accuracy in
    MODEL_DIR/best (``ctl.best``; ExportAtEnd exports the best one)."""

    order = 38  # sets ctl.best before EarlyStopping re-ranks it

    def on_train_begin(self, ctl):
        self.best = ctl.best = BestCheckpoints(ctl.write_dir, ctl.trainer.keep_best,
                                               ctl.checkpoint)

    def on_eval_end(self, ctl, step, metrics):
        self.best.consider(step, metrics['accuracy'])
