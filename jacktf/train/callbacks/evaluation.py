"""Periodic evaluation and the batch-norm hint after an evaluation."""

import logging

from jacktf.train.callbacks.base import Callback
from jacktf.train.signals import Stopped

log = logging.getLogger('jacktf')
BN_GAP_WARNING = 0.25  # train minus eval accuracy that triggers the batch-norm hint


class PeriodicEval(Callback):
    """Evaluates every ``Trainer.eval_every_steps``, or every ``eval_every_epochs`` (by
    default every epoch of a run given in TRAIN_EPOCHS; see Trainer.eval_interval); the
    last step is evaluated by the controller at the end. A stop signal during the
    evaluation ends it; the step is then saved by StopSignals."""

    order = 30  # after the checkpoint of the step

    def on_step_end(self, ctl, step, logs):
        every = ctl.trainer.eval_interval()
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
