"""Gradient accumulation: k micro-batches give the gradient of one k-times larger batch."""

import numpy as np
import pytest
import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.core.model import Model
from jacktf.optim.optimizers import sgd
from jacktf.train.trainer import Trainer


def _one_step(model, start, accumulate_steps, batch, images, labels):
    """Weights after one SGD step from ``start`` over ``images`` in batches of ``batch``."""
    for v, value in zip(model.variables, start):
        v.assign(value)
    trainer = Trainer(train_steps=1, optimizer=sgd, learning_rate=1.0,
                      accumulate_steps=accumulate_steps)
    variables, _ = trainer.split_variables(model)
    step = trainer.make_train_step(model, sgd(1.0), variables, batch,
                                   tf.distribute.get_strategy())
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch)
    loss, _, accuracy = step(iter(data))
    return [v.numpy() for v in model.variables], float(loss), float(accuracy)


@pytest.mark.slow
def test_four_micro_batches_equal_one_batch_of_four_times_the_size(default_registry):
    # Batch norm in inference mode: then only the batch split differs.
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry,
                  train_batch_norm=False).build()
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (16, 32, 32, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 2, 16), tf.int32)
    start = [v.numpy() for v in model.variables]
    big, big_loss, big_acc = _one_step(model, start, 1, 16, images, labels)
    small, small_loss, small_acc = _one_step(model, start, 4, 4, images, labels)
    moved = 0
    for a, b, s in zip(big, small, start):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        moved += not np.allclose(a, s)
    assert moved >= 10  # the step changed the weights (learning rate 1)
    assert small_loss == pytest.approx(big_loss, rel=1e-5)
    assert small_acc == pytest.approx(big_acc)


def test_accumulate_steps_below_one_is_a_config_error():
    with pytest.raises(ConfigError, match='accumulate_steps must be >= 1'):
        Trainer(train_steps=1, optimizer=sgd, accumulate_steps=0)
