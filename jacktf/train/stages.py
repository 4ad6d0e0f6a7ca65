"""Stages: a run in phases (head only, then top blocks, then everything), each with its
own trainable scopes, learning rate, multipliers, warmup and batch-norm policy.

``Trainer.stages = [@stage(), ...]`` in gin (``stage`` is a scoped configurable, so
``head/stage.steps = 300``, or ``head/stage.epochs = 1``). A stage's unset options keep
the Trainer's. The stage index is saved in every checkpoint; a resumed run continues in
its stage.
"""

import copy

import tensorflow as tf

from jacktf.core import scopes
from jacktf.core.errors import ConfigError
from jacktf.train import step as step_lib

_UNSET = object()


class Stage:
    """One stage of training.

    Args:
      steps: optimizer steps in this stage: a whole number, or a fraction in (0, 1) of
        TRAIN_STEPS (rounded, at least 1); None for the last stage: up to TRAIN_STEPS.
      epochs: the stage's length in epochs instead (rounded to steps, at least 1; see
        Trainer.train_epochs for the length of an epoch). Not together with steps.
      trainable_scopes / freeze_scopes: the freeze rules of this stage.
      learning_rate: the stage's base learning rate (the Trainer's schedule, if any,
        restarts from it at the stage's first step).
      lr_multipliers: {scope rule: factor} of this stage (see Trainer.lr_multipliers).
      warmup_steps: linear warmup from 0 over the stage's first steps: a whole number,
        or a fraction in (0, 1) of the stage's length (so a short run is not mostly
        warmup).
      warmup_epochs: the warmup in epochs instead (capped at half the stage).
      train_batch_norm: this stage's Model.train_batch_norm (True, False or scopes).
      max_fraction: caps a stage given in epochs at this fraction of TRAIN_STEPS (at
        least 1 step), so a head-only epoch does not eat a short run.
    """

    def __init__(self, steps=None, trainable_scopes=_UNSET, freeze_scopes=_UNSET,
                 learning_rate=None, lr_multipliers=_UNSET, warmup_steps=0,
                 train_batch_norm=_UNSET, epochs=None, warmup_epochs=None,
                 max_fraction=None):
        if steps is not None and epochs is not None:
            raise ConfigError(f'stage.steps = {steps} and stage.epochs = {epochs} are both '
                              'set: give the stage\'s length one way.')
        if epochs is not None and not epochs > 0:
            raise ConfigError(f'stage.epochs must be > 0, got {epochs}.')
        self.epochs = epochs
        if steps is not None and not (steps >= 1 and steps == int(steps) or 0 < steps < 1):
            raise ConfigError(f'stage.steps must be a whole number > 0, a fraction in '
                              f'(0, 1) of TRAIN_STEPS, or None; got {steps}.')
        if learning_rate is not None and learning_rate <= 0:
            raise ConfigError(f'stage.learning_rate must be > 0, got {learning_rate}.')
        self.steps = None if steps is None else steps if steps < 1 else int(steps)
        self.trainable_scopes, self.freeze_scopes = trainable_scopes, freeze_scopes
        self.learning_rate = learning_rate
        self.lr_multipliers = lr_multipliers
        if warmup_steps < 0 or warmup_epochs is not None and warmup_epochs < 0:
            raise ConfigError(f'stage.warmup_steps and stage.warmup_epochs must be >= 0, '
                              f'got {warmup_steps} and {warmup_epochs}.')
        if max_fraction is not None and not 0 < max_fraction <= 1:
            raise ConfigError(f'stage.max_fraction must be in (0, 1], got {max_fraction}.')
        self.warmup_steps = warmup_steps if warmup_steps < 1 else int(warmup_steps)
        self.warmup_epochs = warmup_epochs
        self.max_fraction = max_fraction
        self.train_batch_norm = train_batch_norm

    def trainer_view(self, trainer):
        """A copy of ``trainer`` with this stage's freeze rules and multipliers."""
        view = copy.copy(trainer)
        if self.trainable_scopes is not _UNSET:
            view.trainable_scopes = scopes.parse_scopes(self.trainable_scopes or ())
        if self.freeze_scopes is not _UNSET:
            view.freeze_scopes = scopes.parse_scopes(self.freeze_scopes or ())
        if self.lr_multipliers is not _UNSET:
            view.lr_multipliers = dict(self.lr_multipliers or {})
        return view

    def batch_norm_policy(self, model):
        if self.train_batch_norm is _UNSET:
            return model.train_batch_norm
        value = self.train_batch_norm
        return value if value in (None, True, False) else scopes.parse_scopes(value)


def boundaries(stages, train_steps, steps_per_epoch=None):
    """[(first step index, end step index)] of each stage (indexes count from 0).

    ``steps_per_epoch`` turns the stages given in epochs into steps.

    Stages may run past TRAIN_STEPS (a run with fewer TRAIN_STEPS ends inside a stage
    and a longer one resumes there), but must not end before it.

    Raises:
      ConfigError: the stages end before TRAIN_STEPS, the last stage (steps None)
        would start after it, or a stage before the last has steps None.
    """
    spans, start = [], 0
    for i, stage in enumerate(stages):
        if stage.epochs is not None:
            if not steps_per_epoch:
                raise ConfigError(f'Stage {i} is given in epochs (epochs = {stage.epochs}) '
                                  'but the length of an epoch is unknown.')
            steps = max(1, round(stage.epochs * steps_per_epoch))
            if stage.max_fraction is not None and train_steps:
                steps = max(1, min(steps, round(stage.max_fraction * train_steps)))
            spans.append((start, start + steps))
            start += steps
            continue
        if stage.steps is None and i != len(stages) - 1:
            raise ConfigError(f'Stage {i} has steps=None: only the last stage may run '
                              'up to TRAIN_STEPS; give the others a number of steps.')
        steps = stage.steps
        if steps is not None and steps < 1:
            steps = max(1, round(steps * train_steps))
        end = train_steps if steps is None else start + steps
        if end <= start:
            raise ConfigError(f'The last stage (steps=None) would start at step {start}, '
                              f'after TRAIN_STEPS {train_steps}: raise TRAIN_STEPS or '
                              'shorten the stages before it.')
        spans.append((start, end))
        start = end
    if start < train_steps:
        raise ConfigError(f'The stages end at step {start} (steps '
                          f'{[_length(s) for s in stages]}) but TRAIN_STEPS is {train_steps}. '
                          'Make the steps add up, or give the last stage steps=None.')
    return spans


def _length(stage):
    return stage.steps if stage.epochs is None else f'{stage.epochs} epochs'


def warmup_length(stage, length, steps_per_epoch=None):
    """The stage's warmup in steps (fractions of its ``length``, epochs resolved)."""
    if stage.warmup_epochs is not None and steps_per_epoch:
        return min(round(stage.warmup_epochs * steps_per_epoch), length // 2)
    if 0 < stage.warmup_steps < 1:
        return max(1, round(stage.warmup_steps * length))
    return int(stage.warmup_steps)


def describe(stages, spans, trainable_counts=None):
    """One line naming each stage: its steps, what trains, its rate and warmup."""
    parts = []
    for i, (stage, (start, end)) in enumerate(zip(stages, spans)):
        what = 'all' if stage.trainable_scopes in (_UNSET, [], ()) else \
            '+'.join(map(str, stage.trainable_scopes))
        if trainable_counts:
            what += f' ({trainable_counts[i]} variables)'
        rate = f', lr {stage.learning_rate:.3g}' if stage.learning_rate else ''
        mult = f', multipliers {stage.lr_multipliers}' if \
            stage.lr_multipliers not in (_UNSET, None, {}) else ''
        parts.append(f'{i + 1}) steps {start}..{end} trains {what}{rate}{mult}')
    return '; '.join(parts)


def stage_at(spans, step):
    """The index of the stage that the step after ``step`` completed steps belongs to."""
    for i, (_, end) in enumerate(spans):
        if step < end:
            return i
    return len(spans) - 1


class StagedSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of each stage (its schedule restarted at the stage's start,
    with its warmup) selected by the step index."""

    def __init__(self, trainer, stages, spans):
        self.parts = []
        for stage, (start, end) in zip(stages, spans):
            rate = stage.learning_rate or trainer.learning_rate
            length = max(1, min(end, trainer.train_steps or end) - start)
            # A schedule with decay_steps None decays over the stage's own length.
            base = step_lib.schedule_for_run(trainer.lr_schedule_factory, rate, length) \
                if trainer.lr_schedule_factory else rate
            self.parts.append((start, end, base, warmup_length(
                stage, length, getattr(trainer, 'steps_per_epoch', None))))

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        value = None
        for start, _, base, warmup in self.parts:  # later stages win from their start
            local = step - start
            lr = tf.cast(base(local) if callable(base) else base, tf.float32)
            if warmup:
                lr *= tf.minimum(1.0, tf.cast(local + 1, tf.float32) / warmup)
            value = lr if value is None else tf.where(step >= start, lr, value)
        return value

    def get_config(self):
        return {'stages': len(self.parts)}
