"""The learning-rate range test (Smith 2015, fastai's ``lr_find``).

From the run's starting weights, train a few hundred steps with the learning rate
growing exponentially from ``start_lr`` to ``end_lr``, record the loss of every step,
and stop when the loss blows up. The suggestion is the learning rate where the
(centred, moving-average) smoothed loss falls fastest per decade, before its minimum:
large enough to learn quickly, well below the rates where training diverges.

The sweep runs the real train step (jacktf.train.step: the same model, optimizer plugin,
freeze rules, learning-rate multipliers, clipping and accumulation) on weights that are
thrown away afterwards: nothing is saved.
"""

import dataclasses
import logging
import math
from typing import List, Optional

import numpy as np
import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.train import strategy as strategy_lib
from jacktf.train.step import data_errors

log = logging.getLogger('jacktf')


class ExponentialSweep(tf.keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = start * (end / start) ** (step / (steps - 1))."""

    def __init__(self, start_lr, end_lr, num_steps):
        self.start_lr, self.end_lr, self.num_steps = start_lr, end_lr, num_steps

    def rate(self, step):
        """The learning rate of optimizer step ``step`` (a Python number)."""
        return self.start_lr * (self.end_lr / self.start_lr) ** (
            step / max(1, self.num_steps - 1))

    def __call__(self, step):
        fraction = tf.cast(step, tf.float32) / float(max(1, self.num_steps - 1))
        return tf.cast(self.start_lr, tf.float32) * tf.pow(
            tf.cast(self.end_lr / self.start_lr, tf.float32), fraction)

    def get_config(self):
        return {'start_lr': self.start_lr, 'end_lr': self.end_lr,
                'num_steps': self.num_steps}


@dataclasses.dataclass
class SweepResult:
    """What one range test measured.

    Attributes:
      learning_rates / losses: per step, the rate used and the batch's cross-entropy.
      smoothed: the centred moving average of ``losses``.
      suggestion: the suggested learning rate (None when the loss never fell).
      min_loss_lr: the rate where the smoothed loss was lowest.
      stopped_at: the rate at which the loss blew up (None: the sweep ran to end_lr).
      reason: why the sweep ended, in words.
    """
    learning_rates: List[float]
    losses: List[float]
    smoothed: List[float]
    suggestion: Optional[float]
    min_loss_lr: Optional[float]
    stopped_at: Optional[float]
    reason: str

    def to_dict(self):
        return dataclasses.asdict(self)


def check_sweep(start_lr, end_lr, num_steps):
    """Raises ConfigError for a sweep that cannot work (naming the flag and the fix)."""
    if not start_lr > 0 or not end_lr > 0:
        raise ConfigError(f'--start_lr and --end_lr must be > 0, got {start_lr} and '
                          f'{end_lr}.')
    if end_lr <= start_lr:
        raise ConfigError(f'--end_lr ({end_lr}) must be larger than --start_lr '
                          f'({start_lr}): the sweep grows the learning rate.')
    if int(num_steps) < 10:
        raise ConfigError(f'--steps must be at least 10, got {num_steps}: the test needs '
                          'a few hundred steps to see where the loss falls and rises.')


def smooth(values, window):
    """Centred moving average (no lag); the ends use the points they have."""
    values = np.asarray(values, dtype=np.float64)
    half = max(0, int(window) // 2)
    sums = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(len(values))
    lo, hi = np.maximum(0, idx - half), np.minimum(len(values), idx + half + 1)
    return (sums[hi] - sums[lo]) / (hi - lo)


def suggest(learning_rates, losses):
    """(suggestion, min_loss_lr, smoothed): steepest fall of the smoothed loss per
    decade, among the steps before its minimum."""
    n = len(losses)
    if n < 3:
        return None, None, list(map(float, losses))
    smoothed = smooth(losses, max(3, n // 20))
    lowest = int(np.argmin(smoothed))
    if lowest < 2:
        return None, float(learning_rates[lowest]), smoothed.tolist()
    slopes = np.gradient(smoothed[:lowest + 1], np.log10(learning_rates[:lowest + 1]))
    steepest = int(np.argmin(slopes))
    if slopes[steepest] >= 0:
        return None, float(learning_rates[lowest]), smoothed.tolist()
    return (float(learning_rates[steepest]), float(learning_rates[lowest]),
            smoothed.tolist())


def run_sweep(train_step, iterator, schedule, *, num_steps, diverge_factor=4.0,
              beta=0.9):
    """Runs ``train_step`` up to ``num_steps`` times; stops when the loss blows up.

    The loss has blown up when it is not finite or its running average (bias-corrected
    exponential, ``beta``) exceeds ``diverge_factor`` times the lowest one so far.

    Returns:
      A SweepResult.
    """
    lrs, losses = [], []
    average, best, stopped, reason = 0.0, math.inf, None, f'ran all {num_steps} steps'
    for i in range(num_steps):
        loss, _, _ = data_errors(train_step, iterator)
        loss, lr = float(loss), schedule.rate(i)
        if not math.isfinite(loss):
            stopped, reason = lr, f'the loss was not finite at step {i + 1}'
            break
        lrs.append(lr)
        losses.append(loss)
        average = beta * average + (1 - beta) * loss
        corrected = average / (1 - beta ** (i + 1))
        best = min(best, corrected)
        if i > 0 and corrected > diverge_factor * best:
            stopped = lr
            reason = (f'the loss blew up at step {i + 1} (running average {corrected:.3g}'
                      f' > {diverge_factor:g} x the lowest, {best:.3g})')
            break
    suggestion, min_lr, smoothed = suggest(lrs, losses)
    return SweepResult(learning_rates=lrs, losses=losses, smoothed=smoothed,
                       suggestion=suggestion, min_loss_lr=min_lr, stopped_at=stopped,
                       reason=reason)


def find_learning_rate(model, trainer, iterator, *, global_batch, strategy=None,
                       start_lr=1e-7, end_lr=10.0, num_steps=200, diverge_factor=4.0,
                       seed=0, warm_started=False):
    """The range test with ``trainer``'s step on ``model``'s current weights.

    Args:
      model: a built jacktf Model holding the starting (e.g. warm-started) weights;
        they are changed by the sweep.
      trainer: the Trainer (optimizer plugin, freeze rules, multipliers, clipping,
        accumulation; a staged trainer's first stage).
      iterator: yields training batches (images, labels).
      global_batch: BATCH_SIZE.
      strategy: the tf.distribute strategy (default: the current one).
      start_lr / end_lr / num_steps: the exponential sweep.
      diverge_factor: stop when the running loss exceeds this times its lowest value.
      seed: the train step's dropout seed.
      warm_started: the weights come from a checkpoint (batch norm policy, as training).

    Returns:
      A SweepResult.
    """
    check_sweep(start_lr, end_lr, num_steps)
    strategy = strategy or tf.distribute.get_strategy()
    view = trainer.for_stage(0)
    with strategy.scope():
        model.build()
        variables, _ = view.split_variables(model)
        model.set_frozen_batch_norm(view.is_frozen, warm_started=warm_started)
        schedule = ExponentialSweep(float(start_lr), float(end_lr), int(num_steps))
        optimizer = strategy_lib.wrap_optimizer(trainer.optimizer_factory(schedule),
                                                model.precision)
        getattr(optimizer, 'inner_optimizer', optimizer).build(variables)
    train_step = view.make_train_step(model, optimizer, variables, global_batch,
                                      strategy, seed=seed)
    return run_sweep(train_step, iterator, schedule, num_steps=int(num_steps),
                     diverge_factor=diverge_factor)


def plot(result, path, title=''):
    """Writes the loss-vs-learning-rate plot (log x axis) with the suggestion marked."""
    figure(result, title).savefig(path)
    return path


def figure(result, title=''):
    """The matplotlib Figure of :func:`plot` (no pyplot: nothing global is kept)."""
    from jacktf.evaluation import figures
    fig = figures.new_figure(8, 5)
    ax = fig.subplots()
    ax.plot(result.learning_rates, result.losses, color='0.75', linewidth=1,
            label='loss per step')
    ax.plot(result.learning_rates, result.smoothed, color='tab:blue', linewidth=2,
            label='smoothed')
    ax.set_xscale('log')
    if result.suggestion is not None:
        i = result.learning_rates.index(result.suggestion)
        ax.axvline(result.suggestion, color='tab:red', linestyle='--', linewidth=1)
        ax.plot([result.suggestion], [result.smoothed[i]], 'o', color='tab:red',
                markersize=9, label=f'suggested {result.suggestion:.2g}')
    if result.stopped_at is not None:
        ax.axvline(result.stopped_at, color='0.3', linestyle=':', linewidth=1,
                   label=f'stopped (blew up) at {result.stopped_at:.2g}')
    if result.smoothed:  # keep the blow-up from squashing the interesting part
        low = min(result.smoothed)
        high = max(result.smoothed[0], low) * 1.5 + 1e-6
        ax.set_ylim(min(low, min(result.losses)) - 0.05 * abs(high - low), high)
    ax.set_xlabel('learning rate (log scale)')
    ax.set_ylabel('training loss (cross-entropy)')
    ax.set_title(title or 'learning-rate range test')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(loc='upper left')
    fig.tight_layout()
    return fig
