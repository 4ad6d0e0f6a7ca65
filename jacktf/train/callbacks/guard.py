"""The divergence guard: a NaN/Inf loss restores the last checkpoint at a lower rate."""

import logging

from jacktf.core import compat
from jacktf.core.errors import ConfigError, JacktfError
from jacktf.train.callbacks.base import Callback

log = logging.getLogger('jacktf')


class TrainingDiverged(JacktfError):
    """The loss stayed non-finite after the configured retries."""


class DivergenceGuard(Callback):
    """On a NaN/Inf loss restores the last checkpoint and scales the learning rate by
    ``lr_factor``, up to ``retries`` times; then raises TrainingDiverged naming the
    first variable with a non-finite gradient (gin: ``divergence_guard.retries = 3``).

    Args:
      retries: restores before giving up.
      lr_factor: the learning rate's factor at each retry, in (0, 1).
    """

    order = 5  # before Progress, which re-reads the restored step

    def __init__(self, retries=2, lr_factor=0.5):
        if not 0 < lr_factor < 1:
            raise ConfigError(f'divergence_guard.lr_factor must be in (0, 1), got '
                              f'{lr_factor}.')
        self.max_retries, self.lr_factor = int(retries), float(lr_factor)
        self.retries = 0

    def on_loss_nonfinite(self, ctl, step):
        trainer = ctl.trainer
        if self.retries >= self.max_retries:
            inputs = ctl.inputs
            images, labels = next(iter(inputs.dataset(inputs.train_files, training=True)))
            culprit = trainer.first_nonfinite_gradient(ctl.model, ctl.variables, images,
                                                       labels)
            raise TrainingDiverged(
                f'The loss became NaN/Inf at step {step} and stayed so after '
                f'{self.retries} retries with the learning rate lowered by '
                f'{self.lr_factor} each time. First variable with a non-finite '
                f'gradient: {culprit or "none found on a fresh batch"}. Lower '
                'LEARNING_RATE, set Trainer.clip_gradient_norm, or check the data.')
        latest = ctl.manager.latest_checkpoint
        scale = float(ctl.lr_scale.numpy()) * self.lr_factor
        ctl.checkpoint.restore(latest)
        ctl.lr_scale.assign(scale)
        compat.refresh_learning_rate(ctl.optimizer)
        log.warning('Loss became NaN/Inf at step %d: restored %s and retrying with the '
                    'learning rate scaled by %.3g (retry %d of %d).', step, latest, scale,
                    self.retries + 1, self.max_retries)
        self.retries += 1
