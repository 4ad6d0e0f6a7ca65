"""Trainer.stages: frozen weights and batch-norm statistics stay bit-identical within a
stage, learning rates switch exactly at the boundaries, a killed run resumes in its
stage."""

import numpy as np
import pytest
import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.optim.optimizers import sgd
from jacktf.train.stages import Stage
from jacktf.train.trainer import Trainer


def _stages():
    return [Stage(steps=3, trainable_scopes=['Predict'], train_batch_norm=False),
            Stage(steps=3, trainable_scopes=[], learning_rate=0.005, warmup_steps=2,
                  train_batch_norm=True)]


def _run(tmp_path, registry, train_steps):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=registry)
    trainer = Trainer(train_steps=train_steps, optimizer=sgd, learning_rate=0.01,
                      log_every_steps=1, checkpoint_every_steps=1, max_to_keep=20,
                      stages=_stages())
    return Experiment(model_dir=str(tmp_path), model=model, trainer=trainer,
                      train_files='demo://train', batch_size=4,
                      export_at_end=False).run('train')


def _values(path):
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith('network/')}


def _scalars(directory, tag):
    from tensorboard.backend.event_processing import event_accumulator
    acc = event_accumulator.EventAccumulator(directory, size_guidance={'tensors': 0})
    acc.Reload()
    return {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)}


@pytest.mark.slow  # 10-20 s: whole runs, kept out of the default set's 5 minutes
def test_stage_freezes_exactly_switches_rates_and_resumes_in_its_stage(
        tmp_path, default_registry):
    summary = _run(tmp_path, default_registry, 2)  # stopped inside stage 0
    assert summary['step'] == 2
    ckpt = lambda s: str(tmp_path / 'checkpoints' / f'ckpt-{s}')  # noqa: E731
    assert int(tf.train.load_checkpoint(ckpt(2)).get_tensor(
        'stage/.ATTRIBUTES/VARIABLE_VALUE')) == 0
    summary = _run(tmp_path, default_registry, 6)  # resumes at 2, in stage 0
    assert summary['step'] == 6
    start, end0, end = _values(ckpt(0)), _values(ckpt(3)), _values(ckpt(6))
    backbone = [k for k in start if 'resnet_v1_tiny' in k]
    stats = [k for k in backbone if 'moving_' in k]
    assert backbone and stats
    for k in backbone:  # stage 0: weights and batch-norm statistics bit-identical
        np.testing.assert_array_equal(start[k], end0[k], err_msg=k)
    head = [k for k in start if 'Predict' in k]
    assert all(not np.array_equal(start[k], end0[k]) for k in head)
    assert all(not np.array_equal(end0[k], end[k]) for k in stats)  # stage 1 trains BN
    assert int(tf.train.load_checkpoint(ckpt(4)).get_tensor(
        'stage/.ATTRIBUTES/VARIABLE_VALUE')) == 1
    lrs = _scalars(str(tmp_path / 'train'), 'learning_rate')
    # Steps 1-3: 0.01; step 4 and 5 warm up over 2 steps, then 0.005.
    assert [lrs[s] for s in range(1, 7)] == pytest.approx(
        [0.01, 0.01, 0.01, 0.0025, 0.005, 0.005], rel=1e-6)
    stages = _scalars(str(tmp_path / 'train'), 'stage')
    assert [stages[s] for s in range(1, 7)] == [0, 0, 0, 1, 1, 1]


def test_stage_steps_must_add_up():
    with pytest.raises(ConfigError, match='The stages end at step 8 .* TRAIN_STEPS is 10'):
        Trainer(train_steps=10, optimizer=sgd, stages=[Stage(steps=4), Stage(steps=4)])
    with pytest.raises(ConfigError, match='only the last stage'):
        Trainer(train_steps=10, optimizer=sgd, stages=[Stage(), Stage(steps=4)])
