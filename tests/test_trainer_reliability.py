"""Trainer: SIGTERM, the divergence guard, LR schedule on resume, mirrored = one device,
bfloat16, per-scope learning-rate multipliers."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from jacktf.app.experiment import Experiment
from jacktf.train.callbacks import TrainingDiverged
from jacktf.core.model import Model
from jacktf.train.trainer import Trainer
from jacktf.optim.optimizers import sgd
from conftest import ROOT, run_cli

DEMO = ['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', '--gin_param=periodic_eval.every_steps = None']


@pytest.mark.slow
def test_sigterm_saves_exits_0_and_resume_continues_lr_schedule(tmp_path):
    model_dir = str(tmp_path / 'm')
    proc = subprocess.Popen([sys.executable, '-m'] + DEMO + [
        f'--model_dir={model_dir}', '--gin_param=TRAIN_STEPS = 5000',
        '--gin_param=Trainer.log_every_steps = 10'], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    for line in proc.stdout:
        if re.search(r'step (\d+)/5000', line) or time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    m = re.search(r'SIGTERM received at step (\d+): checkpoint (\S+) written', out)
    assert m, out[-2000:]
    stopped = int(m.group(1))
    assert m.group(2).endswith(f'ckpt-{stopped}')
    assert tf.train.latest_checkpoint(os.path.join(model_dir, 'checkpoints')).endswith(
        f'ckpt-{stopped}')
    # Resume to step 250: the staircase schedule (0.01 halved every 200 steps) continues.
    r = run_cli(DEMO + [f'--model_dir={model_dir}', '--gin_param=TRAIN_STEPS = 250',
                        '--gin_param=Trainer.log_every_steps = 50'])
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'at step {stopped}' in r.stdout
    lrs = {int(s): float(lr) for s, lr in re.findall(r'step (\d+)/250 .*? lr ([\d.e-]+)',
                                                       r.stdout)}
    assert lrs[200] == pytest.approx(0.01) and lrs[250] == pytest.approx(0.005)


def _experiment(tmp_path, default_registry, learning_rate, **trainer_kwargs):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry)
    trainer = Trainer(train_steps=30, optimizer=sgd, learning_rate=learning_rate,
                      log_every_steps=10, checkpoint_every_steps=10, **trainer_kwargs)
    return Experiment(model_dir=str(tmp_path), model=model, trainer=trainer,
                      train_files='demo://train', batch_size=8, export_at_end=False)


@pytest.mark.slow  # 10-20 s: whole runs, kept out of the default set's 5 minutes
def test_divergence_guard_names_step_and_variable(tmp_path, default_registry):
    exp = _experiment(tmp_path, default_registry, 1e12, nan_retries=2, nan_lr_factor=0.5)
    with pytest.raises(TrainingDiverged) as e:
        exp.run('train')
    msg = str(e.value)
    assert re.search(r'NaN/Inf at step \d+ and stayed so after 2 retries', msg)
    assert re.search(r'First variable with a non-finite gradient: (resnet_v1_tiny|Predict)/',
                     msg), msg


def test_divergence_guard_recovers_with_a_lower_rate(tmp_path, default_registry, caplog):
    exp = _experiment(tmp_path, default_registry, 1e12, nan_retries=1, nan_lr_factor=1e-15)
    summary = exp.run('train')
    assert summary['step'] == 30
    assert all(np.isfinite(v.numpy()).all() for v in exp.model.variables)


def test_lr_multipliers_scale_the_backbone_gradients(default_registry):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry).build()
    trainer = Trainer(train_steps=1, optimizer=sgd, learning_rate=0.1,
                      lr_multipliers={'resnet_v1_tiny': 0.0})
    variables, _ = trainer.split_variables(model)
    before = {v.name: v.numpy().copy() for v in variables}
    step = trainer.make_train_step(model, sgd(0.1), variables, 4,
                                   tf.distribute.get_strategy())
    data = tf.data.Dataset.from_tensors((tf.random.uniform([4, 32, 32, 3], -1, 1),
                                         tf.constant([0, 1, 0, 1]))).repeat()
    step(iter(data))
    step(iter(data))
    for v in variables:
        moved = not np.array_equal(before[v.name], v.numpy())
        assert moved == v.name.startswith('Predict/'), v.name


def test_backbone_multiplier_with_a_frozen_backbone_scales_nothing(default_registry):
    from jacktf.core.errors import ConfigError
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry).build()
    frozen = Trainer(train_steps=1, optimizer=sgd, freeze_scopes=['resnet_v1_tiny'],
                     lr_multipliers={'backbone': 0.1})
    variables, _ = frozen.split_variables(model)
    assert variables and all(v.name.startswith('Predict/') for v in variables)
    assert frozen.gradient_multipliers(variables, 'resnet_v1_tiny') == [1.0] * len(
        variables)
    misspelt = Trainer(train_steps=1, optimizer=sgd, lr_multipliers={'resnet_v1_tny': 0.1})
    variables, _ = misspelt.split_variables(model)
    with pytest.raises(ConfigError, match=r"\['resnet_v1_tny'\].*Trainer.lr_multipliers = \{\}"):
        misspelt.gradient_multipliers(variables, 'resnet_v1_tiny')


MIRRORED = textwrap.dedent('''
    import json, sys
    import jacktf
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from jacktf.core import plugins
    from jacktf.core.model import Model
    from jacktf.train.strategy import make_strategy
    from jacktf.train.trainer import Trainer
    from jacktf.optim.optimizers import momentum
    registry = plugins.set_default_registry(plugins.load_registry(autoload=False))
    tf.random.set_seed(0)
    images = tf.random.uniform([8, 32, 32, 3], -1, 1, seed=1)
    labels = tf.constant([0, 1, 1, 0, 1, 0, 0, 1])
    results = {}
    for name in ('default', 'mirrored'):
        strategy = make_strategy(name)
        with strategy.scope():
            model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                          registry=registry, preprocessing='simple', all_bn_frozen=True,
                          head_kwargs={'zero_init': False}).build()
            for i, v in enumerate(model.variables):  # identical start
                v.assign(tf.random.stateless_normal(v.shape, [i, 7]) * 0.05
                         if 'moving_variance' not in v.name else tf.ones(v.shape))
            trainer = Trainer(train_steps=3, optimizer=momentum, learning_rate=0.01)
            variables, _ = trainer.split_variables(model)
            optimizer = momentum(0.01)
        step = trainer.make_train_step(model, optimizer, variables, 8, strategy)
        ds = strategy.distribute_datasets_from_function(
            lambda ctx: tf.data.Dataset.from_tensor_slices((images, labels)).batch(
                ctx.get_per_replica_batch_size(8)).repeat())
        it = iter(ds)
        losses = [float(step(it)[1]) for _ in range(3)]
        results[name] = {'replicas': strategy.num_replicas_in_sync, 'losses': losses,
                         'w': float(tf.reduce_sum(variables[0]))}
    print(json.dumps(results))
''')


@pytest.mark.slow
def test_mirrored_two_cpus_gives_the_same_losses_as_one_device():
    r = subprocess.run([sys.executable, '-c', MIRRORED], capture_output=True, text=True,
                       cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    import json
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res['mirrored']['replicas'] == 2 and res['default']['replicas'] == 1
    # Batch norm in inference mode makes every example independent of the others, so the
    # split over replicas changes only the order of float sums: losses and weights agree
    # to float32 round-off. (Training-mode batch norm would see half the batch per
    # replica, as on real multi-GPU setups.)
    np.testing.assert_allclose(res['mirrored']['losses'], res['default']['losses'],
                               rtol=1e-5)
    assert res['mirrored']['w'] == pytest.approx(res['default']['w'], rel=1e-5)


@pytest.mark.slow
def test_bfloat16_precision_trains_with_float32_variables(tmp_path):
    r = run_cli(DEMO + [f'--model_dir={tmp_path}', "--gin_param=PRECISION = 'bfloat16'",
                        '--gin_param=TRAIN_STEPS = 60', '--gin_param=Trainer.log_every_steps = 20'])
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'bfloat16' in r.stdout
    losses = [float(x) for x in re.findall(r'step \d+/60\s+loss ([\d.]+)', r.stdout)]
    assert len(losses) == 3 and losses[-1] < losses[0]
    ckpt = tf.train.latest_checkpoint(os.path.join(tmp_path, 'checkpoints'))
    dtypes = {str(tf.train.load_checkpoint(ckpt).get_variable_to_dtype_map()[k])
              for k in tf.train.load_checkpoint(ckpt).get_variable_to_dtype_map()
              if 'VARIABLE_VALUE' in k and 'resnet_v1_tiny' in k}
    assert dtypes == {"<dtype: 'float32'>"}
