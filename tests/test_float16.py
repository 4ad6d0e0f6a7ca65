"""PRECISION = 'float16' trains: the loss is scaled inside the gradient tape, the
gradients unscaled after, and the loss scale's state is checkpointed and resumed."""

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli
from jacktf.train import strategy as strategy_lib
from jacktf.core.model import Model
from jacktf.train.trainer import Trainer
from jacktf.optim.optimizers import momentum


def _train(model, precision, batch, steps):
    trainer = Trainer(train_steps=steps, optimizer=momentum, learning_rate=0.05)
    variables, _ = trainer.split_variables(model)
    optimizer = strategy_lib.wrap_optimizer(
        trainer.optimizer_factory(trainer.learning_rate_fn()), precision)
    step = trainer.make_train_step(model, optimizer, variables, global_batch=8,
                                   strategy=tf.distribute.get_strategy(), seed=1)
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    losses = [float(step(iterator)[0]) for _ in range(steps)]
    return losses, optimizer


@pytest.mark.slow  # 10-20 s: whole runs, kept out of the default set's 5 minutes
def test_float16_step_has_gradients_and_matches_float32_on_cpu(default_registry):
    rng = np.random.RandomState(0)
    batch = (tf.constant(rng.uniform(-1, 1, [8, 32, 32, 3]), tf.float32),
             tf.constant([0, 1] * 4, tf.int32))
    models = [Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32).build()
              for _ in range(2)]
    for a, b in zip(models[0].variables, models[1].variables):
        b.assign(a)
    strategy_lib.configure_precision('float16')
    try:
        half, optimizer = _train(models[1], 'float16', batch, 6)
    finally:
        strategy_lib.configure_precision('float32')
    full, _ = _train(models[0], 'float32', batch, 6)
    assert isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer)
    assert float(optimizer.loss_scale) == 2.0 ** 15  # no overflow, so never lowered
    assert half[-1] < half[0] * 0.8, half  # it learns the batch
    # On a CPU the float16 rewrite is a no-op: scaling by 2**15 and back is exact, so
    # the float16 run takes the float32 run's steps.
    np.testing.assert_allclose(half, full, rtol=1e-4)
    for a, b in zip(models[0].variables, models[1].variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=a.name)


@pytest.mark.slow
def test_float16_run_checkpoints_the_loss_scale_and_resumes(tmp_path):
    model_dir = str(tmp_path / 'm')
    base = ['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}',
            "--gin_param=PRECISION = 'float16'", '--gin_param=EVAL_FILES = None',
            '--gin_param=Experiment.export_at_end = False',
            '--gin_param=Trainer.log_every_steps = 1']
    r = run_cli(base + ['--gin_param=TRAIN_STEPS = 4'], timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'No gradients' not in r.stderr and 'Done at step 4' in r.stdout
    assert "PRECISION 'float16' without a GPU" in r.stdout  # says what the CPU does
    reader = tf.train.load_checkpoint(os.path.join(model_dir, 'checkpoints', 'ckpt-4'))
    key = 'optimizer/loss_scale/{}/.ATTRIBUTES/VARIABLE_VALUE'
    assert reader.get_tensor(key.format('current_loss_scale')) == 2.0 ** 15
    assert reader.get_tensor(key.format('good_steps')) == 4
    r = run_cli(base + ['--gin_param=TRAIN_STEPS = 6'], timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Resuming from' in r.stdout and 'Done at step 6' in r.stdout
    reader = tf.train.load_checkpoint(os.path.join(model_dir, 'checkpoints', 'ckpt-6'))
    assert reader.get_tensor(key.format('good_steps')) == 6  # restored 4, then 2 more
