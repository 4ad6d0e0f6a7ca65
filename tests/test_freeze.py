"""Freezing: frozen variables and their batch-norm statistics stay bit-identical."""

import json
import os
import pytest

import numpy as np
from tf_slim.nets import resnet_v1, resnet_v2

from jacktf.backbones import resnet
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.train.trainer import Trainer
from jacktf.optim.optimizers import momentum
from slim_ckpt import write_net_checkpoint


def _train_with_block1_frozen(registry, tmp_path, net, arg_scope, official_classes, steps,
                              **experiment_kwargs):
    """Restores a random slim checkpoint of ``net`` into a 2-class model, trains ``steps``
    with ``<net>/block1`` frozen; returns (checkpoint values, values after, model_dir)."""
    name = net.__name__
    path = str(tmp_path / f'{name}.ckpt')
    ckpt = write_net_checkpoint(path, net, arg_scope, num_classes=official_classes, size=32)
    # Batch norm trains outside the frozen scopes (a warm-started run keeps every
    # batch norm's statistics by default).
    model = Model(backbone=name, num_classes=2, image_size=48, preprocessing='simple',
                  registry=registry, train_batch_norm=True)  # outside frozen scopes
    trainer = Trainer(train_steps=steps, optimizer=momentum, learning_rate=0.01,
                      freeze_scopes=[f'{name}/block1'], log_every_steps=min(steps, 10),
                      checkpoint_every_steps=100)
    model_dir = str(tmp_path / 'run')
    Experiment(model_dir=model_dir, model=model, trainer=trainer,
               train_files='demo://train', batch_size=8, checkpoint_path=path,
               checkpoint_exclude_scopes=[f'{name}/logits'], **experiment_kwargs).run('train')
    after = {n: v.numpy() for n, v in zip(model.variable_names(), model.variables)}
    return ckpt, after, model_dir


@pytest.mark.slow
def test_block1_frozen_for_20_steps_stays_as_restored(default_registry, tmp_path):
    ckpt, after, model_dir = _train_with_block1_frozen(
        default_registry, tmp_path, resnet.resnet_v1_50, resnet_v1.resnet_arg_scope, 1000, 20)
    block1 = [n for n in after if n.startswith('resnet_v1_50/block1/')]
    stats = [n for n in block1 if 'moving_' in n]
    assert len(block1) == 50 and len(stats) == 20  # 10 convs: weights + 4 BN each
    for name in block1:
        np.testing.assert_array_equal(after[name], ckpt[name], err_msg=name)
    changed = [n for n in after if n.startswith('resnet_v1_50/block4/') and
               not np.array_equal(after[n], ckpt[n])]
    block4 = [n for n in after if n.startswith('resnet_v1_50/block4/')]
    assert changed == block4  # weights, BN parameters and moving statistics all moved
    assert not np.allclose(after['Predict/logits/weights'], 0.0)
    report = json.loads(open(os.path.join(model_dir, 'restore_report.json')).read())
    assert sorted(report['frozen']) == sorted(n for n in block1 if 'moving_' not in n)
    assert sorted(report['excluded']) == []  # the model has no resnet_v1_50/logits
    assert sorted(report['auto_excluded']) == ['Predict/logits/biases',
                                               'Predict/logits/weights']


@pytest.mark.slow
def test_resnet_v2_preact_batch_norms_follow_the_freeze_rule(default_registry, tmp_path):
    """resnet_v2 calls its ``preact`` batch norms directly, not through normalizer_fn;
    inside a frozen block they too run in inference mode and keep their statistics."""
    ckpt, after, _ = _train_with_block1_frozen(
        default_registry, tmp_path, resnet.resnet_v2_50, resnet_v2.resnet_arg_scope, 1001, 5,
        export_at_end=False)
    block1 = [n for n in after if n.startswith('resnet_v2_50/block1/')]
    preact = [n for n in block1 if '/preact/moving_' in n]
    assert len(preact) == 6  # 3 units x (moving_mean, moving_variance)
    for name in block1:
        np.testing.assert_array_equal(after[name], ckpt[name], err_msg=name)
    # The unfrozen preact statistics move, and so does the top-level postnorm.
    moved = [n for n in after if ('/preact/moving_' in n or '/postnorm/moving_' in n)
             and not n.startswith('resnet_v2_50/block1/')
             and not np.array_equal(after[n], ckpt[n])]
    assert len(moved) == 2 * (4 + 6 + 3) + 2, moved
