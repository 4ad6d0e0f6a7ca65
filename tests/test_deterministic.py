"""Deterministic mode and crash safety: a 200-step run killed with SIGKILL at 5 random
moments resumes every time from a readable checkpoint, reaches step 200, and (in
deterministic mode) ends with exactly the weights of a run that was never interrupted."""

import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.train.trainer import Trainer
from jacktf.optim.optimizers import momentum
from conftest import ROOT

RUN = [sys.executable, '-m', 'jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
       '--gin_param=TRAIN_STEPS = 200', '--gin_param=EVAL_FILES = None',
       '--gin_param=Experiment.deterministic = True',
       '--gin_param=Experiment.export_at_end = False',
       '--gin_param=Experiment.shuffle_buffer = 256',
       '--gin_param=Trainer.checkpoint_every_steps = 10',
       '--gin_param=Trainer.log_every_steps = 10']


def _network_values(checkpoint):
    """{variable: value} of the network in a checkpoint; fails if it is unreadable."""
    reader = tf.train.load_checkpoint(checkpoint)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith('network/')}


def _step(checkpoint):
    return int(checkpoint.rsplit('-', 1)[1]) if checkpoint else 0


def _run_and_kill(model_dir, log_path, delay):
    """Starts the run, waits until it trains (a progress line), SIGKILLs it after delay s."""
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(RUN + [f'--model_dir={model_dir}'], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        with open(log_path) as f:
            if re.search(r'step \d+/200 ', f.read()):
                break
        time.sleep(0.05)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open(log_path) as f:
        return proc.returncode, f.read()


@pytest.mark.slow
def test_sigkill_at_5_random_moments_resumes_to_200_with_identical_weights(tmp_path):
    reference_dir = str(tmp_path / 'uninterrupted')
    ref = subprocess.run(RUN + [f'--model_dir={reference_dir}'], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr[-3000:]
    reference = _network_values(os.path.join(reference_dir, 'checkpoints', 'ckpt-200'))
    assert len(reference) == 82  # resnet_v1_tiny + the logits head

    model_dir = str(tmp_path / 'killed')
    ckpt_dir = os.path.join(model_dir, 'checkpoints')
    rng = random.Random()
    delays = [round(rng.uniform(0.0, 1.0), 3) for _ in range(5)]
    kills = []
    for i, delay in enumerate(delays):
        code, out = _run_and_kill(model_dir, str(tmp_path / f'kill{i}.log'), delay)
        assert code == -signal.SIGKILL, out[-2000:]
        latest = tf.train.latest_checkpoint(ckpt_dir)
        values = _network_values(latest)  # readable, and complete
        assert set(values) == set(reference), latest
        if kills:
            assert _step(latest) >= kills[-1], (delays, kills, latest)
            assert f'at step {kills[-1]}' in out, out[-2000:]  # resumed where it stopped
        kills.append(_step(latest))
    # The kills land mid-run. A kill right after the first progress line of a life can
    # come before that life's first checkpoint is written (the progress line is logged
    # before the save), so a life may leave the checkpoint it started from; over five
    # lives the run still moves forward.
    assert len(kills) == 5 and all(0 <= k < 200 for k in kills), (delays, kills)
    assert kills == sorted(kills) and kills[-1] > 0, (delays, kills)

    final = subprocess.run(RUN + [f'--model_dir={model_dir}'], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]
    assert f'at step {kills[-1]}' in final.stdout, final.stdout[-2000:]
    assert 'Done at step 200' in final.stdout
    assert tf.train.latest_checkpoint(ckpt_dir).endswith('ckpt-200')
    resumed = _network_values(os.path.join(ckpt_dir, 'ckpt-200'))
    differ = [k for k in reference if not np.array_equal(reference[k], resumed[k])]
    assert not differ, f'kills at steps {kills} (delays {delays}): {differ[:5]}'
    # The input position is part of every checkpoint in deterministic mode.
    keys = tf.train.load_checkpoint(os.path.join(ckpt_dir, 'ckpt-200')) \
        .get_variable_to_shape_map()
    assert any(k.startswith('data/') for k in keys)


def test_deterministic_mode_needs_one_device(tmp_path, default_registry):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry)
    trainer = Trainer(train_steps=2, optimizer=momentum, learning_rate=0.01)
    with pytest.raises(ConfigError, match='deterministic needs strategy="default"'):
        Experiment(model_dir=str(tmp_path), model=model, trainer=trainer,
                   train_files='demo://train', strategy='mirrored', deterministic=True)


def test_dropout_masks_follow_the_seed(default_registry):
    """Seeded dropout: same seed -> same masks, another seed -> other masks, eval off."""
    model = Model(backbone='resnet_v1_tiny', head='dropout_logits', num_classes=4,
                  image_size=32, head_kwargs={'zero_init': False, 'dropout_keep_prob': 0.5},
                  registry=default_registry)
    model.build()
    images = tf.random.stateless_uniform([4, 32, 32, 3], [3, 4], -1, 1)
    seed = tf.constant([7, 11], tf.int64)
    run = tf.function(lambda x, s: model.predict(x, training=True, seed=s)['logits'])
    a, b = run(images, seed), run(images, seed)
    c = run(images, seed + [0, 1])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.abs(a.numpy() - c.numpy()).max() > 1e-3
    # Inference ignores the seed and applies no dropout.
    e1 = model.predict(images, training=False, seed=seed)['logits']
    e2 = model.predict(images, training=False)['logits']
    np.testing.assert_array_equal(e1.numpy(), e2.numpy())
    # The masks drop about half of the features (keep_prob 0.5), rescaling the rest.
    features = model.predict(images, training=False)['features']
    w, = [v for v in model.variables if 'Predict/logits/weights' in v.name]
    bias, = [v for v in model.variables if 'Predict/logits/biases' in v.name]
    dropped = tf.matmul(features, w) + bias
    assert not np.allclose(a.numpy(), dropped.numpy(), atol=1e-4)


@pytest.mark.slow
def test_jit_compiled_step_matches_the_plain_step(tmp_path, default_registry):
    losses = {}
    for jit in (False, True):
        tf.keras.utils.set_random_seed(3)
        model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                      preprocessing='simple', registry=default_registry)
        trainer = Trainer(train_steps=3, optimizer=momentum, learning_rate=0.01,
                          log_every_steps=1, jit_compile=jit)
        exp = Experiment(model_dir=str(tmp_path / f'jit{jit}'), model=model,
                         trainer=trainer, train_files='demo://train', batch_size=8, seed=5,
                         export_at_end=False)
        exp.run('train')
        losses[jit] = {v.name: v.numpy() for v in model.variables}
    assert losses[True].keys() == losses[False].keys()
    for name, value in losses[False].items():
        np.testing.assert_allclose(losses[True][name], value, rtol=1e-3, atol=1e-5,
                                   err_msg=name)
