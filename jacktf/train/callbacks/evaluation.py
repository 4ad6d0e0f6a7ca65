"""Periodic evaluation and the batch-norm hint after an evaluation."""

import logging

from jacktf.core.errors import ConfigError
from jacktf.train.callbacks.base import Callback
from jacktf.train.signals import Stopped

log = logging.getLogger('jacktf')
BN_GAP_WARNING = 0.25  # train minus eval accuracy that triggers the batch-norm hint


class PeriodicEval(Callback):
    """Evaluates every ``every_steps``, or every ``every_epochs`` (by default every
    epoch of a run given in TRAIN_EPOCHS); the last step is evaluated by the controller
    at the end (gin: ``periodic_eval.every_steps = 500``). A stop signal during the
    evaluation ends it; the step is then saved by StopSignals.

    Args:
      every_steps: steps between evaluations (None: see every_epochs).
      every_epochs: epochs between evaluations; None: every epoch when the run is
        given in TRAIN_EPOCHS and every_steps is None, else only at the end; 0: only at
        the end. Setting both every_steps and every_epochs is an error.

    Raises:
      ConfigError: both options set, or a negative every_epochs.
    """

    order = 30  # after the checkpoint of the step

    def __init__(self, every_steps=None, every_epochs=None):
        if every_steps and every_epochs:
            raise ConfigError(
                f'periodic_eval.every_steps = {every_steps} and periodic_eval.'
                f'every_epochs = {every_epochs} are both set: keep one.')
        if every_epochs is not None and every_epochs < 0:
            raise ConfigError(f'periodic_eval.every_epochs must be >= 0 or None, got '
                              f'{every_epochs}.')
        self.every_steps, self.every_epochs = every_steps, every_epochs

    @property
    def needs_epoch_length(self):
        """True when the interval is given in epochs (the training set is counted)."""
        return bool(self.every_epochs)

    def interval(self, trainer):
        """Steps between evaluations of a run with ``trainer``'s length and epoch
        (None: only at the end of training)."""
        if self.every_steps:
            return int(self.every_steps)
        epochs = self.every_epochs
        if epochs is None and trainer.train_epochs is not None:
            epochs = 1
        if not epochs or not trainer.steps_per_epoch:
            return None
        return max(1, round(epochs * trainer.steps_per_epoch))

    def on_step_end(self, ctl, step, logs):
        every = self.interval(ctl.trainer)
        if ctl.eval_dataset is None or not every or step % every or \
                step >= ctl.trainer.train_steps or ctl.stop.requested:
            return
        try:
            ctl.evaluate(step, interruptible=True)
        except Stopped:
            pass


class BatchNormGapHint(Callback):
    """Warns when eval accuracy trails train accuracy by more than BN_GAP_WARNING while
    batch norm trains: the moving statistics may not fit the network."""

    order = 32  # reads Progress's logs['train']

    def __init__(self):
        self.train_accuracy = 0.0

    def on_step_end(self, ctl, step, logs):
        if 'train' in logs:
            self.train_accuracy = logs['train']['accuracy']

    def on_eval_end(self, ctl, step, metrics):
        gap = self.train_accuracy - metrics['accuracy']
        if ctl.model.batch_norm_trains and gap > BN_GAP_WARNING:
            log.warning(
                'eval accuracy %.3f trails train accuracy %.3f by %.2f while batch norm '
                'trains: the moving statistics from small batches of your data may not fit '
                'the network. Keep the checkpoint\'s statistics with Model.train_batch_norm '
                '= False (the default for warm-started runs), or train fewer: '
                "Model.train_batch_norm = ['<top scope>'].", metrics['accuracy'],
                self.train_accuracy, gap)
