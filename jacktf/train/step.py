"""The inner step: one tf.function train step under tf.GradientTape, and evaluation.

``make_train_step`` computes the loss on each replica and applies the gradients to the
trainable variables only; ``evaluate`` runs one pass over a dataset.
"""

import contextlib
import inspect

import tensorflow as tf

from jacktf.core import scopes
from jacktf.data import pipeline
from jacktf.train import balance


def _losses(model, trainer, outputs, labels, class_weights, global_batch):
    """(cross-entropy averaged over the global batch, plus regularization) of one
    replica's batch: the logits' loss, the aux logits' at ``trainer.aux_loss_weight``,
    the class weights."""
    smoothing = trainer.label_smoothing
    per_example = model.loss(labels, outputs['logits'], label_smoothing=smoothing)
    aux = outputs.get('end_points', {}).get('AuxLogits')
    if aux is not None and trainer.aux_loss_weight:
        per_example += trainer.aux_loss_weight * model.loss(labels, aux,
                                                            label_smoothing=smoothing)
    per_example = balance.weighted(per_example, labels, class_weights)
    loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
    return loss, loss + tf.nn.scale_regularization_loss(model.regularization_loss())


def _multiplied_and_clipped(grads, multipliers, clip):
    """The gradients times their per-variable rate multipliers, clipped to a global
    norm of ``clip`` (None: not clipped)."""
    grads = [g if m == 1.0 or g is None else g * m for g, m in zip(grads, multipliers)]
    if clip:
        grads, _ = tf.clip_by_global_norm(grads, clip)
    return grads


def _hits(model, logits, labels):
    """Correct answers in the batch (float32): exact label sets at 0.5 for multi-label;
    the class with the largest weight for soft labels."""
    if getattr(model, 'multi_label', False):
        n = tf.cast(tf.shape(labels)[0], tf.float32)
        return model.accuracy(labels, logits) * n
    if labels.dtype.is_floating:
        labels = tf.argmax(labels, -1, output_type=tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(
        tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))


def _accumulated(model, raw_gradients, batches, seed, position, num_variables):
    """(loss, total, hits, gradients) over k micro-batches: the losses and gradients
    averaged, the hits summed; micro-batch i of step position p draws the seed
    (seed, p * k + i)."""
    k = len(batches)
    loss = total = hits = 0.0
    sums = [None] * num_variables
    for i, (images, labels) in enumerate(batches):
        step_seed = tf.stack([tf.constant(seed, tf.int64), position * k + i])
        l, t, logits, grads = raw_gradients(images, labels, step_seed)  # noqa: E741
        loss, total, hits = loss + l, total + t, hits + _hits(model, logits, labels)
        sums = [g if s is None else s if g is None else s + g for s, g in zip(sums, grads)]
    return loss / k, total / k, hits, [None if s is None else s / k for s in sums]


def make_train_step(trainer, model, optimizer, variables, global_batch, strategy,
                    ema=None, seed=0, forward=None):
    """The tf.function running one step on every replica.

    ``forward(inputs, seed)`` -> dict with 'logits' (and optionally 'end_points') runs
    the network on what the iterator yields; None: the whole network on images (the
    feature cache passes the head on cached features instead).

    ``seed`` and the optimizer's step (and the replica) seed the network's dropout,
    so a resumed run draws the masks the uninterrupted run would have drawn. With
    ``trainer.accumulate_steps`` k > 1 one step reads k batches of ``global_batch``
    and applies the mean of their gradients once (effective batch k * global_batch).
    """
    clip = trainer.clip_gradient_norm
    class_weights = getattr(trainer, 'class_weights', None)
    multipliers = trainer.gradient_multipliers(variables, model.card.scope)
    scaled = isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer)
    replicas = strategy.num_replicas_in_sync
    k = trainer.accumulate_steps
    custom_forward = forward is not None
    if forward is None:
        def forward(images, step_seed):
            return model.predict(images, training=True, seed=step_seed)

    def raw_gradients(images, labels, step_seed):
        with tf.GradientTape() as tape:
            outputs = forward(images, step_seed)
            logits = outputs['logits']
            loss, total = _losses(model, trainer, outputs, labels, class_weights,
                                  global_batch)
            # float16: the loss is scaled inside the tape (so the tape records the
            # product) and the gradients unscaled after; the optimizer skips steps
            # whose gradients overflowed and adapts the scale.
            target = optimizer.get_scaled_loss(total) if scaled else total
        grads = tape.gradient(target, variables)
        if scaled:
            grads = optimizer.get_unscaled_gradients(grads)
        return loss, total, logits, grads

    def gradients(images, labels, step_seed):
        loss, total, logits, grads = raw_gradients(images, labels, step_seed)
        return loss, total, logits, _multiplied_and_clipped(grads, multipliers, clip)

    if trainer.jit_compile:  # XLA compiles the math; updates stay outside (cross-replica)
        gradients = tf.function(gradients, jit_compile=True)
        raw_gradients = tf.function(raw_gradients, jit_compile=True)

    def step_fn(batches):
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        position = optimizer.iterations * replicas + tf.cast(replica, tf.int64)
        if k == 1:
            (images, labels), = batches
            step_seed = tf.stack([tf.constant(seed, tf.int64), position])
            loss, total, logits, grads = gradients(images, labels, step_seed)
            hits = _hits(model, logits, labels)
        else:
            loss, total, hits, grads = _accumulated(model, raw_gradients, batches, seed,
                                                    position, len(variables))
            grads = _multiplied_and_clipped(grads, multipliers, clip)
        optimizer.apply_gradients(zip(grads, variables))
        if ema is not None:
            ema.apply(variables)
        return loss, total, hits

    def train_step(iterator):
        """One step; returns (cross-entropy, total loss, accuracy) of its batches."""
        batches = [next(iterator) for _ in range(k)]
        loss, total, hits = strategy.run(step_fn, args=(batches,))
        sum_ = tf.distribute.ReduceOp.SUM
        return (strategy.reduce(sum_, loss, axis=None),
                strategy.reduce(sum_, total, axis=None),
                strategy.reduce(sum_, hits, axis=None) / (global_batch * k))

    # A given ``forward`` (the head on cached features) is plain TensorFlow code: no
    # autograph, which would spend seconds converting the optimizer's code.
    return tf.function(train_step, autograph=custom_forward is False)

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


def schedule_for_run(factory, learning_rate, train_steps):
    """``factory(learning_rate)``, passing ``total_steps`` (the run's length in steps,
    known once the run's epochs are counted) to a schedule that takes it."""
    try:
        takes_total = 'total_steps' in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        takes_total = False
    if takes_total:
        return factory(learning_rate, total_steps=train_steps)
    return factory(learning_rate)
