"""Exponential moving average of weights and the best-k checkpoints."""

import json
import os
import pytest

import numpy as np
import tensorflow as tf

from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.train.trainer import Trainer
from jacktf.optim.optimizers import momentum


@pytest.mark.slow
def test_ema_is_saved_evaluated_and_exported_and_best_k_kept(tmp_path, default_registry):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry)
    trainer = Trainer(train_steps=40, optimizer=momentum, learning_rate=0.01,
                      log_every_steps=10, eval_every_steps=10, checkpoint_every_steps=20,
                      moving_average_decay=0.9, keep_best=2)
    exp = Experiment(model_dir=str(tmp_path), model=model, trainer=trainer,
                     train_files='demo://train', eval_files='demo://validation',
                     batch_size=16)
    summary = exp.run('train_and_eval')
    # Best-k: two entries, best first, only their files kept.
    best = json.load(open(tmp_path / 'best' / 'best.json'))
    assert len(best) == 2 and best[0]['accuracy'] >= best[1]['accuracy']
    kept = {f.split('.')[0] for f in os.listdir(tmp_path / 'best') if f.startswith('ckpt-')}
    assert kept == {f"ckpt-{e['step']}" for e in best}
    assert summary['eval_export_best'].endswith(f"export_best/{best[0]['step']}")
    # EMA: the checkpoint holds shadows that differ from the raw weights.
    reader = tf.train.load_checkpoint(str(tmp_path / 'checkpoints' / 'ckpt-40'))
    shadow_keys = [k for k in reader.get_variable_to_shape_map() if k.startswith('ema_shadows/')]
    variables, _ = trainer.split_variables(model)
    assert len(shadow_keys) == len(variables)
    ema_values = [reader.get_tensor(f'ema_shadows/{i}/.ATTRIBUTES/VARIABLE_VALUE')
                  for i in range(len(variables))]
    raw = [v.numpy() for v in variables]
    assert any(not np.allclose(a, b) for a, b in zip(ema_values, raw))
    # The export at the end serves the averaged weights, not the raw ones.
    served = tf.saved_model.load(str(tmp_path / 'export' / '40'))
    images = tf.constant(np.random.default_rng(0).integers(0, 255, (4, 32, 32, 3)),
                         tf.uint8)
    got = served.signatures['predict_images'](images=images)['probabilities'].numpy()
    batch = tf.stack([model.preprocess(im, training=False) for im in images])
    raw_probs = model.postprocess(model.predict(batch)['logits'])['probabilities'].numpy()
    for v, value in zip(variables, ema_values):
        v.assign(value)
    tf.train.Checkpoint(network=model.network).restore(
        str(tmp_path / 'checkpoints' / 'ckpt-40')).expect_partial()
    for v, value in zip(variables, ema_values):
        v.assign(value)
    ema_probs = model.postprocess(model.predict(batch)['logits'])['probabilities'].numpy()
    np.testing.assert_allclose(got, ema_probs, atol=1e-5)
    assert not np.allclose(got, raw_probs, atol=1e-5)
