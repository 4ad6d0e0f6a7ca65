"""The example third-party package, pip-installed, loads through its entry point and
trains from gin alone."""

import json
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import ROOT, run_cli
from jacktf.core.restore import checkpoint_variables


@pytest.fixture(scope='module')
def plugin_path(tmp_path_factory):
    target = str(tmp_path_factory.mktemp('site'))
    r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                        '--target', target, os.path.join(ROOT, 'plugins', 'jacktf-example')],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return target


def _env(plugin_path):
    return {'PYTHONPATH': os.pathsep.join([plugin_path, ROOT])}


@pytest.mark.slow
def test_installed_plugin_is_listed_with_its_distribution(plugin_path):
    r = run_cli(['jacktf.cli', 'plugins', '--json'], env=_env(plugin_path))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {(p['kind'], p['name']): p for p in json.loads(r.stdout)['plugins']}
    assert rows[('backbone', 'tiny_net')]['provider'] == 'jacktf-example==0.1.0'
    assert rows[('backbone', 'tiny_net')]['card']['scope'] == 'TinyNet'
    assert rows[('head', 'mlp')]['provider'] == 'jacktf-example==0.1.0'
    assert rows[('callback', 'loss_log')]['provider'] == 'jacktf-example==0.1.0'
    assert rows[('backbone', 'resnet_v1_50')]['provider'] == 'builtin'
    blocked = run_cli(['jacktf.cli', 'plugins', '--json'],
                      env={**_env(plugin_path), 'JACKTF_DISABLED_PLUGINS': 'example'})
    assert ('backbone', 'tiny_net') not in {
        (p['kind'], p['name']) for p in json.loads(blocked.stdout)['plugins']}


@pytest.mark.slow
def test_trains_with_plugin_backbone_and_head_from_gin_alone(plugin_path, tmp_path):
    recipe = tmp_path / 'tiny.gin'
    recipe.write_text("include 'gin/tiny_from_scratch.gin'\n"
                      "BACKBONE = @tiny_net\n"
                      "TRAIN_STEPS = 30\n"
                      "tiny_net.width = 8\n"
                      "Model.head = @mlp\n"
                      "mlp.hidden_units = 16\n"
                      "periodic_eval.every_steps = None\n")
    model_dir = str(tmp_path / 'm')
    r = run_cli(['jacktf.run', f'--gin_file={recipe}', f'--model_dir={model_dir}'],
                env=_env(plugin_path))
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Training tiny_net + mlp head' in r.stdout and 'Done at step 30' in r.stdout
    ckpt = tf.train.latest_checkpoint(os.path.join(model_dir, 'checkpoints'))
    _, variables = checkpoint_variables(ckpt)
    assert variables['TinyNet/Conv2d_0/weights'][1] == [3, 3, 3, 8]  # tiny_net.width
    assert variables['TinyNet/Conv2d_3/weights'][1] == [3, 3, 32, 64]
    assert variables['MLPHead/hidden/weights'][1] == [64, 16]  # mlp.hidden_units
    assert variables['MLPHead/logits/weights'][1] == [16, 2]


@pytest.mark.slow
def test_plugin_arg_scope_takes_only_weight_decay_and_demo_recipe_trains_with_it(
        plugin_path, tmp_path):
    """gin/tiny_from_scratch.gin sets batch-norm decay through Model.batch_norm_params, which reaches
    the plugin's batch norms although its arg_scope takes only weight_decay."""
    model_dir = str(tmp_path / 'm')
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}',
                 '--gin_param=BACKBONE = @tiny_net', '--gin_param=TRAIN_STEPS = 2',
                 '--gin_param=tiny_net.width = 4', '--gin_param=EVAL_FILES = None',
                 '--gin_param=Experiment.export_at_end = False'],
                env=_env(plugin_path), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Done at step 2' in r.stdout
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={tmp_path}/bad',
                 '--gin_param=BACKBONE = @tiny_net',
                 "--gin_param=Model.arg_scope_kwargs = {'batch_norm_decay': 0.9}"],
                env=_env(plugin_path), timeout=300)
    assert r.returncode == 2, r.stderr[-3000:]
    assert 'Traceback' not in r.stderr and 'TypeError' not in r.stderr
    assert "Model.arg_scope_kwargs has 'batch_norm_decay', which backbone 'tiny_net' " \
        'does not take: its arg_scope tiny_net_arg_scope() takes weight_decay.' in r.stderr
    assert 'Model.batch_norm_params' in r.stderr


@pytest.mark.slow
def test_plugin_callback_from_gin_writes_its_file_on_its_steps(plugin_path, tmp_path):
    """A third-party callback added with Trainer.callbacks = [@loss_log()] runs at the
    steps its gin binding says, with the losses the progress line reports."""
    model_dir = str(tmp_path / 'm')
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}',
                 '--gin_param=BACKBONE = @tiny_net', '--gin_param=TRAIN_STEPS = 6',
                 '--gin_param=tiny_net.width = 4', '--gin_param=EVAL_FILES = None',
                 '--gin_param=Experiment.export_at_end = False',
                 '--gin_param=Trainer.log_every_steps = 1',
                 '--gin_param=Trainer.callbacks = [@loss_log()]',
                 '--gin_param=loss_log.every_steps = 2'],
                env=_env(plugin_path), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    with open(os.path.join(model_dir, 'loss_log.jsonl')) as f:
        rows = [json.loads(line) for line in f]
    assert [row['step'] for row in rows] == [2, 4, 6]
    logged = {int(m.group(1)): float(m.group(2)) for m in re.finditer(
        r'step (\d+)/6  loss ([0-9.]+)', r.stdout + r.stderr)}
    for row in rows:
        assert abs(row['loss'] - logged[row['step']]) < 1e-3


def test_plugin_callback_imports_only_jacktf():
    """The example's callback subclasses the public jacktf.Callback; no internal path."""
    import ast
    import jacktf
    from jacktf.train.callbacks.base import Callback
    assert jacktf.Callback is Callback
    folder = os.path.join(ROOT, 'plugins', 'jacktf-example', 'jacktf_example')
    for name in os.listdir(folder):
        if name.endswith('.py'):
            with open(os.path.join(folder, name)) as f:
                tree = ast.parse(f.read())
            modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                       for a in n.names] + [n.module for n in ast.walk(tree)
                                            if isinstance(n, ast.ImportFrom)]
            assert not [m for m in modules if m and m.startswith('jacktf.')], name
