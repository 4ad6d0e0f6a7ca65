"""The training loop: an inner tf.function step and an outer controller.

The step (``_make_train_step``) computes the loss under tf.GradientTape on each replica
and applies gradients to the trainable variables only. The controller (``Trainer.fit``)
owns the checkpoints, TensorBoard summaries, progress lines and periodic evaluation, and
resumes from the model directory's latest checkpoint.
"""

import contextlib
import logging
import math
import time

import tensorflow as tf

from jacktf.core import scopes
from jacktf.core.errors import ConfigError
from jacktf.data import pipeline

log = logging.getLogger('jacktf')


class Trainer:
    """Trains a Model with a custom loop.

    Args:
      train_steps: total optimizer steps of the run.
      optimizer: optimizer factory ``fn(learning_rate) -> optimizer`` (a plugin).
      lr_schedule: schedule factory ``fn(learning_rate) -> schedule`` or None (fixed).
      learning_rate: the initial learning rate.
      freeze_scopes: variables under these scopes do not train; their batch norm runs
        in inference mode.
      trainable_scopes: when set, only variables under these scopes train.
      label_smoothing: cross-entropy label smoothing.
      aux_loss_weight: weight of the auxiliary logits' loss when the network has them
        (inception_v3 with create_aux_logits=True and the native head); slim's 0.4.
      clip_gradient_norm: clip gradients by this global norm (None: no clipping).
      log_every_steps: steps between progress lines and train summaries.
      eval_every_steps: steps between evaluations (None: only at the end).
      checkpoint_every_steps: steps between checkpoints.
      checkpoint_every_seconds: also checkpoint when this many seconds have passed.
      max_to_keep: checkpoints kept.
      keep_checkpoint_every_n_hours: additionally keep one checkpoint per this many hours.
      lr_multipliers: {scope rule: factor} scaling the gradients (and so, for SGD and
        momentum, the learning rate) of the variables under the scope, e.g.
        {'resnet_v1_50': 0.1} trains the backbone at a tenth of the head's rate. The
        rule 'backbone' means the backbone's own root scope, whichever backbone it is
        ({'backbone': 0.1}: the discriminative rate of fastai's fine_tune). A rule that
        matches no variable is an error.
      nan_retries: on a non-finite loss, how many times to restore the last checkpoint
        and retry with the learning rate multiplied by ``nan_lr_factor``.
      moving_average_decay: keep an exponential moving average of the trainable weights
        (saved in checkpoints, used for evaluation and export); None turns it off.
      keep_best: also keep the k checkpoints with the best eval accuracy (MODEL_DIR/best)
        and export the best one at the end; 0 turns it off.
      jit_compile: compile each replica's forward and backward pass with XLA.
    """

    def __init__(self, *, train_steps, optimizer, lr_schedule=None, learning_rate=0.01,
                 freeze_scopes=(), trainable_scopes=(), label_smoothing=0.0,
                 aux_loss_weight=0.4, clip_gradient_norm=None, log_every_steps=20, eval_every_steps=None,
                 checkpoint_every_steps=200, checkpoint_every_seconds=None, max_to_keep=3,
                 keep_checkpoint_every_n_hours=None, lr_multipliers=None, nan_retries=2,
                 nan_lr_factor=0.5, moving_average_decay=None, keep_best=0,
                 jit_compile=False):
        if int(train_steps) <= 0:
            raise ConfigError(f'TRAIN_STEPS must be > 0, got {train_steps}.')
        if not learning_rate or learning_rate <= 0:
            raise ConfigError(f'LEARNING_RATE must be > 0, got {learning_rate}.')
        if not callable(optimizer):
            raise ConfigError(f'Trainer.optimizer must be an optimizer plugin such as '
                              f'@momentum, got {optimizer!r}.')
        self.train_steps = int(train_steps)
        self.optimizer_factory = optimizer
        self.lr_schedule_factory = lr_schedule
        self.learning_rate = float(learning_rate)
        self.freeze_scopes = scopes.parse_scopes(freeze_scopes)
        self.trainable_scopes = scopes.parse_scopes(trainable_scopes)
        self.label_smoothing = float(label_smoothing)
        self.aux_loss_weight = float(aux_loss_weight)
        self.clip_gradient_norm = clip_gradient_norm
        self.log_every_steps = max(1, int(log_every_steps))
        self.eval_every_steps = eval_every_steps
        self.checkpoint_every_steps = max(1, int(checkpoint_every_steps))
        self.checkpoint_every_seconds = checkpoint_every_seconds
        self.max_to_keep = max_to_keep
        self.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self.lr_multipliers = dict(lr_multipliers or {})
        if not 0 < nan_lr_factor < 1:
            raise ConfigError(f'nan_lr_factor must be in (0, 1), got {nan_lr_factor}.')
        self.nan_retries = int(nan_retries)
        self.nan_lr_factor = float(nan_lr_factor)
        if moving_average_decay is not None and not 0 < moving_average_decay < 1:
            raise ConfigError('moving_average_decay must be in (0, 1) or None, got '
                              f'{moving_average_decay}.')
        self.moving_average_decay = moving_average_decay
        self.keep_best = int(keep_best)
        self.jit_compile = bool(jit_compile)

    def learning_rate_fn(self, scale=None):
        """The schedule; times ``scale`` (a variable the divergence guard lowers)."""
        if self.lr_schedule_factory is None:
            base = self.learning_rate
        else:
            base = self.lr_schedule_factory(self.learning_rate)
        return base if scale is None else ScaledSchedule(base, scale)

    def gradient_multipliers(self, variables, backbone_scope=None):
        """Per-variable gradient factors from lr_multipliers (the first rule that matches).

        Raises:
          ConfigError: a rule matches none of ``variables``.
        """
        rules = {(backbone_scope if rule == 'backbone' and backbone_scope else rule): f
                 for rule, f in self.lr_multipliers.items()}
        names = [scopes.var_name(v.name) for v in variables]
        bad = scopes.unmatched_rules(names, list(rules))
        if bad:
            raise ConfigError(f'Trainer.lr_multipliers rules match no trainable variable: '
                              f"{bad}. Scopes start with {backbone_scope!r}; the rule "
                              "'backbone' means the whole backbone.")
        return [float(next((f for rule, f in rules.items()
                            if scopes.rule_matches(rule, name)), 1.0)) for name in names]

    def split_variables(self, model):
        """(trainable variables, frozen variable names) by the freeze rules."""
        candidates = {scopes.var_name(v.name): v for v in model.network.trainable_variables}
        names = scopes.trainable(candidates, freeze_scopes=self.freeze_scopes,
                                 trainable_scopes=self.trainable_scopes)
        for rules, label in ((self.freeze_scopes, 'FREEZE_SCOPES'),
                             (self.trainable_scopes, 'trainable_scopes')):
            bad = scopes.unmatched_rules(model.variable_names(), rules)
            if bad:
                raise ConfigError(f'{label} rules match no model variable: {bad}. '
                                  f'Scopes start with {model.card.scope!r}.')
        if not names:
            raise ConfigError('Every variable is frozen: nothing would train. Loosen '
                              'FREEZE_SCOPES or trainable_scopes.')
        keep = set(names)
        frozen = [n for n in candidates if n not in keep]
        return [candidates[n] for n in names], frozen

    def is_frozen(self, name):
        """True when the freeze rules keep ``name`` (any variable name) from training."""
        return not scopes.trainable([name], freeze_scopes=self.freeze_scopes,
                                    trainable_scopes=self.trainable_scopes)

    def make_ema(self, variables):
        """The moving average with its shadow variables created (None when off)."""
        if not self.moving_average_decay:
            return None
        ema = tf.train.ExponentialMovingAverage(self.moving_average_decay)
        ema.apply(variables)
        return ema

    def make_train_step(self, model, optimizer, variables, global_batch, strategy,
                        ema=None, seed=0):
        """The tf.function running one step on every replica.

        ``seed`` and the optimizer's step (and the replica) seed the network's dropout,
        so a resumed run draws the masks the uninterrupted run would have drawn.
        """
        smoothing, clip = self.label_smoothing, self.clip_gradient_norm
        aux_weight = self.aux_loss_weight
        multipliers = self.gradient_multipliers(variables, model.card.scope)
        scaled = isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer)
        replicas = strategy.num_replicas_in_sync

        def gradients(images, labels, step_seed):
            with tf.GradientTape() as tape:
                outputs = model.predict(images, training=True, seed=step_seed)
                logits = outputs['logits']
                per_example = model.loss(labels, logits, label_smoothing=smoothing)
                aux = outputs['end_points'].get('AuxLogits')
                if aux is not None and aux_weight:
                    per_example += aux_weight * model.loss(labels, aux,
                                                           label_smoothing=smoothing)
                loss = tf.nn.compute_average_loss(per_example,
                                                  global_batch_size=global_batch)
                reg = model.regularization_loss()
                total = loss + tf.nn.scale_regularization_loss(reg)
                # float16: the loss is scaled inside the tape (so the tape records the
                # product) and the gradients unscaled after; the optimizer skips steps
                # whose gradients overflowed and adapts the scale.
                target = optimizer.get_scaled_loss(total) if scaled else total
            grads = tape.gradient(target, variables)
            if scaled:
                grads = optimizer.get_unscaled_gradients(grads)
            grads = [g if m == 1.0 or g is None else g * m
                     for g, m in zip(grads, multipliers)]
            if clip:
                grads, _ = tf.clip_by_global_norm(grads, clip)
            return loss, total, logits, grads

        if self.jit_compile:  # XLA compiles the math; updates stay outside (cross-replica)
            gradients = tf.function(gradients, jit_compile=True)

        def step_fn(images, labels):
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            step_seed = tf.stack([tf.constant(seed, tf.int64), optimizer.iterations *
                                  replicas + tf.cast(replica, tf.int64)])
            loss, total, logits, grads = gradients(images, labels, step_seed)
            optimizer.apply_gradients(zip(grads, variables))
            if ema is not None:
                ema.apply(variables)
            hits = tf.reduce_sum(tf.cast(tf.equal(
                tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))
            return loss, total, hits

        @tf.function
        def train_step(iterator):
            """One step; returns (cross-entropy, total loss, accuracy) of the batch."""
            images, labels = next(iterator)
            loss, total, hits = strategy.run(step_fn, args=(images, labels))
            sum_ = tf.distribute.ReduceOp.SUM
            return (strategy.reduce(sum_, loss, axis=None),
                    strategy.reduce(sum_, total, axis=None),
                    strategy.reduce(sum_, hits, axis=None) / global_batch)

        return train_step

    @staticmethod
    def first_nonfinite_gradient(model, variables, images, labels):
        """Name of the first variable whose gradient is NaN/Inf on this batch, or None."""
        with tf.GradientTape() as tape:
            logits = model.predict(images, training=False)['logits']
            loss = tf.reduce_mean(model.loss(labels, logits))
        for v, g in zip(variables, tape.gradient(loss, variables)):
            if g is not None and not bool(tf.reduce_all(tf.math.is_finite(g))):
                return scopes.var_name(v.name)
        for v in variables:
            if not bool(tf.reduce_all(tf.math.is_finite(v))):
                return scopes.var_name(v.name) + ' (its value)'
        return None

    @staticmethod
    def evaluate(model, dataset, strategy=None):
        """One pass over ``dataset``: dict(accuracy, loss, examples)."""
        strategy = strategy or tf.distribute.get_strategy()

        @tf.function(reduce_retracing=True)
        def eval_step(images, labels):
            def replica_fn(images, labels):
                logits = model.predict(images, training=False)['logits']
                loss = tf.reduce_sum(model.loss(labels, logits))
                hits = tf.reduce_sum(tf.cast(tf.equal(
                    tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))
                return loss, hits, tf.cast(tf.shape(labels)[0], tf.float32)
            out = strategy.run(replica_fn, args=(images, labels))
            return [strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None) for t in out]

        loss = hits = count = 0.0
        for images, labels in strategy.experimental_distribute_dataset(dataset):
            l, h, c = eval_step(images, labels)  # noqa: E741
            loss, hits, count = loss + float(l), hits + float(h), count + float(c)
        if not count:
            return {'accuracy': float('nan'), 'loss': float('nan'), 'examples': 0}
        return {'accuracy': hits / count, 'loss': loss / count, 'examples': int(count)}


@contextlib.contextmanager
def averaged_weights(ema, variables):
    """Within the block the variables hold their moving averages (no-op without EMA)."""
    if ema is None:
        yield
        return
    backup = [v.read_value() for v in variables]
    for v in variables:
        v.assign(ema.average(v))
    try:
        yield
    finally:
        for v, value in zip(variables, backup):
            v.assign(value)


class ScaledSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate (or schedule) times a variable scale."""

    def __init__(self, base, scale):
        self.base = base
        self.scale = scale

    def __call__(self, step):
        base = self.base(step) if callable(self.base) else self.base
        return tf.cast(base, tf.float32) * tf.cast(self.scale, tf.float32)

    def get_config(self):
        return {'scale': float(self.scale.numpy())}


class ProgressLine:
    """Step, loss, accuracy, learning rate, images/s and ETA every N steps."""

    def __init__(self, total_steps, batch_size, first_step):
        self.total_steps, self.batch = total_steps, batch_size
        self.t0, self.s0 = time.time(), first_step
        self.loss = self.total = self.acc = 0.0
        self.n = 0

    def add(self, loss, total, acc):
        self.loss += loss
        self.total += total
        self.acc += acc
        self.n += 1

    def emit(self, step, lr, skipped=0):
        dt = max(time.time() - self.t0, 1e-9)
        rate = (step - self.s0) * self.batch / dt
        eta = (self.total_steps - step) * self.batch / rate if rate else float('inf')
        n = max(self.n, 1)
        loss, total, acc = self.loss / n, self.total / n, self.acc / n
        bad = f'  skipped {skipped} bad records' if skipped else ''
        log.info('step %d/%d  loss %.4f (with regularization %.4f)  acc %.3f  lr %.3g  '
                 '%.1f img/s  ETA %s%s', step, self.total_steps, loss, total, acc, lr, rate,
                 _fmt_seconds(eta), bad)
        self.t0, self.s0, self.n = time.time(), step, 0
        self.loss = self.total = self.acc = 0.0
        return {'loss': loss, 'total_loss': total, 'accuracy': acc,
                'images_per_second': rate}


def _fmt_seconds(s):
    if not math.isfinite(s):
        return '?'
    s = int(s)
    return f'{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}'


def data_errors(fn, *args):
    """Runs ``fn``; a bad-record assertion from the pipeline becomes a DataError."""
    try:
        return fn(*args)
    except tf.errors.InvalidArgumentError as e:
        error = pipeline.data_error(e)
        if error is not None:
            raise error from None
        raise


def current_lr(optimizer):
    lr = optimizer.learning_rate
    if isinstance(lr, tf.keras.optimizers.schedules.LearningRateSchedule):
        lr = lr(optimizer.iterations)
    return float(tf.convert_to_tensor(lr).numpy())
