"""Learning-rate schedules: exponential decay (the seed's), polynomial, fixed,
cosine with linear warmup, piecewise constant."""

import logging
import math

import tensorflow as tf

import jacktf

log = logging.getLogger('jacktf')


def exponential_decay(learning_rate, *, decay_steps=None, decay_rate=0.94, staircase=True,
                      num_epochs_per_decay=None, examples_per_epoch=None, batch_size=None):
    """lr * decay_rate ** (step / decay_steps); or slim's num_epochs_per_decay form.

    Give ``decay_steps``, or ``num_epochs_per_decay`` with ``examples_per_epoch`` and
    ``batch_size`` (decay_steps = examples_per_epoch / batch_size * epochs).
    """
    if decay_steps is None:
        if not (num_epochs_per_decay and examples_per_epoch and batch_size):
            raise jacktf.ConfigError(
                'exponential_decay needs decay_steps, or num_epochs_per_decay with '
                'examples_per_epoch and batch_size.')
        decay_steps = int(examples_per_epoch / batch_size * num_epochs_per_decay)
    if decay_steps <= 0:
        raise jacktf.ConfigError(f'exponential_decay.decay_steps must be > 0, '
                                 f'got {decay_steps}.')
    return tf.keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=decay_steps, decay_rate=decay_rate, staircase=staircase)


def polynomial(learning_rate, *, decay_steps=None, end_learning_rate=1e-4, power=1.0,
               cycle=False, total_steps=None):
    """Polynomial decay from learning_rate to end_learning_rate over decay_steps (None:
    the whole run, ``total_steps``)."""
    decay_steps = _run_length(decay_steps, total_steps, 'polynomial')
    return tf.keras.optimizers.schedules.PolynomialDecay(
        learning_rate, decay_steps=decay_steps, end_learning_rate=end_learning_rate,
        power=power, cycle=cycle)


def _run_length(decay_steps, total_steps, name):
    """``decay_steps``, or the run's length when it is None."""
    if decay_steps is not None:
        return decay_steps
    if not total_steps:
        raise jacktf.ConfigError(f'{name}.decay_steps is None and the run\'s length is '
                                 f'unknown: set {name}.decay_steps.')
    return int(total_steps)


class _Fixed(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def __call__(self, step):
        return tf.constant(self.learning_rate, tf.float32)

    def get_config(self):
        return {'learning_rate': self.learning_rate}


def fixed(learning_rate):
    """A constant learning rate."""
    return _Fixed(float(learning_rate))


class _WarmupCosine(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, learning_rate, decay_steps, warmup_steps, alpha):
        self.learning_rate = learning_rate
        self.decay_steps = decay_steps
        self.warmup_steps = warmup_steps
        self.alpha = alpha

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.learning_rate, tf.float32)
        warm = lr * (step + 1.0) / max(self.warmup_steps, 1)
        t = tf.clip_by_value((step - self.warmup_steps) /
                             max(self.decay_steps - self.warmup_steps, 1), 0.0, 1.0)
        cosine = lr * (self.alpha + (1 - self.alpha) * 0.5 * (1 + tf.cos(math.pi * t)))
        return tf.where(step < self.warmup_steps, warm, cosine)

    def get_config(self):
        return dict(learning_rate=self.learning_rate, decay_steps=self.decay_steps,
                    warmup_steps=self.warmup_steps, alpha=self.alpha)


def cosine(learning_rate, *, decay_steps=None, warmup_steps=0, alpha=0.0,
           total_steps=None):
    """Linear warmup over warmup_steps, then cosine decay to alpha * lr at decay_steps.

    ``warmup_steps`` below 1 is a fraction of ``decay_steps`` (``cosine.warmup_steps =
    0.05``: 5% of the run, whatever its length in steps), so a short run is not mostly
    warmup.

    ``decay_steps`` None decays over the whole run (``total_steps``, which the trainer
    passes: TRAIN_STEPS, or TRAIN_EPOCHS in steps), so ``cosine.decay_steps =
    %TRAIN_STEPS`` also fits a run given in TRAIN_EPOCHS.
    """
    decay_steps = _run_length(decay_steps, total_steps, 'cosine')
    if int(decay_steps) < 1:
        raise jacktf.ConfigError(f'cosine.decay_steps must be at least 1, got {decay_steps}.')
    if warmup_steps < 0:
        raise jacktf.ConfigError(f'cosine.warmup_steps must be >= 0, got {warmup_steps}.')
    if 0 < warmup_steps < 1:  # a fraction of the run
        warmup_steps = max(1, round(warmup_steps * decay_steps))
    if warmup_steps >= decay_steps:  # a short run (TRAIN_STEPS lowered): warm up half of it
        log.info('cosine: warmup_steps %d is not below decay_steps %d; warming up over %d '
                 'steps.', warmup_steps, decay_steps, decay_steps // 2)
        warmup_steps = decay_steps // 2
    return _WarmupCosine(float(learning_rate), int(decay_steps), int(warmup_steps),
                         float(alpha))


def piecewise_constant(learning_rate, *, boundaries, multipliers):
    """lr * multipliers[i] between boundaries (len(multipliers) = len(boundaries) + 1)."""
    if len(multipliers) != len(boundaries) + 1:
        raise jacktf.ConfigError(
            f'piecewise_constant needs one more multiplier than boundaries, got '
            f'{len(boundaries)} boundaries and {len(multipliers)} multipliers.')
    return tf.keras.optimizers.schedules.PiecewiseConstantDecay(
        list(boundaries), [learning_rate * m for m in multipliers])


@jacktf.hookimpl
def jacktf_register_lr_schedules(registry):
    """Registers the five built-in schedules."""
    for fn in (exponential_decay, polynomial, fixed, cosine, piecewise_constant):
        registry.lr_schedule(fn.__name__, fn)
