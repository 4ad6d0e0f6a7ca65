"""A minimal plugin works in every command, and `jacktf plugins --check NAME` runs the
backbone contract: on a plugin with only the required card fields (installed by entry
point), on the example plugin, and on every built-in backbone."""

import json
import logging
import os
import sys
import types

import pytest
import tensorflow as tf

from conftest import HERE, ROOT, run_cli
import minimal_plugin
from jacktf.commands import plugin_check
from jacktf.core import plugins

sys.path.insert(0, HERE)


def _minimal_registry():
    """A fresh registry of the built-ins plus the minimal plugin (in this process)."""
    module = types.ModuleType('jacktf_minimal_inline')
    exec(compile(minimal_plugin.PLUGIN, 'jacktf_minimal', 'exec'), module.__dict__)
    registry = plugins.load_registry(autoload=False)
    with registry.providing('jacktf-minimal'):
        module.jacktf_register_backbones(registry)
    return registry


def test_a_backbone_without_cam_endpoint_exports_without_explain(tmp_path, caplog):
    from jacktf.core.model import Model
    from jacktf.serve import export
    registry = _minimal_registry()
    model = Model(backbone='mini_net', num_classes=2, image_size=32, registry=registry)
    model.build()
    with caplog.at_level(logging.INFO, logger='jacktf'):
        export.write_saved_model(model, str(tmp_path / 'sm'), class_names=['a', 'b'])
    loaded = tf.saved_model.load(str(tmp_path / 'sm'))
    assert sorted(loaded.signatures) == ['predict_images', 'serving_default']
    lines = [r.getMessage() for r in caplog.records if 'skipped' in r.getMessage()]
    assert len(lines) == 1 and 'declares no cam_endpoint' in lines[0]
    probs = loaded.signatures['predict_images'](
        images=tf.zeros([1, 40, 40, 3], tf.uint8))['probabilities'].numpy()
    assert probs.shape == (1, 2) and abs(probs.sum() - 1) < 1e-5


def test_grad_cam_is_skipped_with_one_line(caplog):
    from jacktf.core.model import Model
    from jacktf.evaluation.cam import grad_cam
    model = Model(backbone='mini_net', num_classes=2, image_size=32,
                  registry=_minimal_registry())
    model.build()
    with caplog.at_level(logging.INFO, logger='jacktf'):
        assert grad_cam(model, tf.zeros([1, 32, 32, 3])) is None
        assert grad_cam(model, tf.zeros([1, 32, 32, 3])) is None
    assert sum('Class activation maps' in r.getMessage() for r in caplog.records) <= 1


def test_the_contract_names_a_variable_outside_the_scope():
    registry = _minimal_registry()
    entry = registry.get('backbone', 'mini_net')
    ctx = {'entry': entry, 'size': 32}
    plugin_check._network(ctx)
    assert plugin_check._scoped(ctx) == 'all under mini_net/'
    wrong = types.SimpleNamespace(name='mini_net', factory=entry.factory,
                                  card=entry.card.__class__(**{
                                      **entry.card.__dict__, 'scope': 'MiniNet',
                                      'cam_endpoint': 'Conv2d_9'}))
    ctx = {'entry': wrong, 'size': 32}
    plugin_check._network(ctx)
    with pytest.raises(plugin_check.CheckFailed, match="outside the scope 'MiniNet'"):
        plugin_check._scoped(ctx)
    with pytest.raises(plugin_check.CheckFailed, match="cam_endpoint='Conv2d_9'"):
        plugin_check._end_points(ctx)


def _installed(tmp_path):
    return {'PYTHONPATH': os.pathsep.join([minimal_plugin.install(tmp_path / 'site'),
                                           ROOT])}


@pytest.mark.slow  # 10-20 s: whole runs, kept out of the default set's 5 minutes
def test_check_a_minimal_plugin_installed_by_entry_point(tmp_path):
    r = run_cli(['jacktf.cli', 'plugins', '--check', 'mini_net', '--json'],
                env=_installed(tmp_path))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert report['image_size'] == 32
    assert [(s['step'], s['result']) for s in report['steps']] == [
        (step, 'PASS') for step in plugin_check.STEPS]


@pytest.mark.slow
def test_check_refuses_a_bigger_size_and_unknown_names(tmp_path):
    r = run_cli(['jacktf.cli', 'plugins', '--check', 'mini_net', '--image_size', '64'],
                env=_installed(tmp_path))
    assert r.returncode == 2 and 'give 16 to 32' in r.stderr
    r = run_cli(['jacktf.cli', 'plugins', '--check', 'mini_nett'], env=_installed(tmp_path))
    assert r.returncode == 2 and "Did you mean 'mini_net'" in r.stderr


@pytest.mark.slow
def test_minimal_plugin_trains_evaluates_exports_and_predicts(tmp_path):
    env = _installed(tmp_path)
    model_dir = tmp_path / 'run'
    r = run_cli(['jacktf.run', '--gin_file=tiny_from_scratch.gin', f'--model_dir={model_dir}',
                 '--gin_param=BACKBONE=@mini_net', '--gin_param=IMAGE_SIZE=32',
                 '--gin_param=TRAIN_STEPS=6', '--gin_param=Trainer.eval_every_steps=3'],
                env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Traceback' not in r.stderr and 'declares no cam_endpoint' in r.stdout
    r = run_cli(['jacktf.cli', 'eval', f'--model_dir={model_dir}'], env=env)
    assert r.returncode == 0 and 'top-1' in r.stdout, r.stderr[-3000:]
    r = run_cli(['jacktf.cli', 'export', f'--model_dir={model_dir}', '--overwrite'],
                env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    r = run_cli(['jacktf.cli', 'predict', '--model', str(model_dir / 'export' / '6'),
                 '--cam_dir', str(tmp_path / 'cams'), '--json',
                 os.path.join(HERE, 'fixtures', 'chelsea.png')], env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout)
    assert rows[0]['predictions'][0]['class_name'] in ('stripes', 'dots')
    assert '--cam_dir skipped' in r.stderr


def _example_installed(tmp_path):
    info = tmp_path / 'site' / 'jacktf_example-0.1.0.dist-info'
    info.mkdir(parents=True)
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: jacktf-example\n'
                                   'Version: 0.1.0\n')
    (info / 'entry_points.txt').write_text('[jacktf]\nexample = jacktf_example.plugin\n')
    return {'PYTHONPATH': os.pathsep.join([
        str(tmp_path / 'site'), os.path.join(ROOT, 'plugins', 'jacktf-example'), ROOT])}


@pytest.mark.slow
def test_check_the_example_plugin(tmp_path):
    r = run_cli(['jacktf.cli', 'plugins', '--check', 'tiny_net'],
                env=_example_installed(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'tiny_net: the contract holds' in r.stdout
    assert "cam_endpoint" in r.stdout  # declared, and found among the end_points


def _size(name):
    if name.startswith('vgg') or name in ('inception_v4', 'inception_resnet_v2'):
        return None  # fixed-size layers (VGG's 7x7 'fully connected', aux heads)
    return 160 if name.startswith('inception') else 96


ALL_BUILTINS = [e.name for e in plugins.load_registry(autoload=False).entries('backbone')]
# CI's slow set checks a depthwise and a residual net (about a minute each on two cores);
# the heavy set (`python -m pytest -m heavy`) checks all 29 built-ins.
REPRESENTATIVES = {'mobilenet_v1_025', 'resnet_v1_50'}
BUILTINS = [pytest.param(name, marks=pytest.mark.slow if name in REPRESENTATIVES
                         else pytest.mark.heavy) for name in ALL_BUILTINS]


@pytest.mark.heavy  # 5 minutes on two cores
def test_every_builtin_card_matches_its_graph():
    """The graph-only steps (network, scoped names, end_points, arg_scope) on all 29
    built-ins in one process: a card naming a missing end_point or scope fails here."""
    registry = plugins.load_registry(autoload=False)
    failed = {}
    for name in ALL_BUILTINS:
        rows = plugin_check.check(registry.get('backbone', name), _size(name),
                                  steps=plugin_check.STEPS[:4])
        assert [r[0] for r in rows] == list(plugin_check.STEPS[:4])
        failed.update({f'{name} {r[0]}': r[3] for r in rows if r[1] != 'PASS'})
    assert not failed, failed


@pytest.mark.parametrize('name', BUILTINS)
def test_check_every_builtin_backbone(name):
    args = ['jacktf.cli', 'plugins', '--check', name]
    if _size(name):
        args += ['--image_size', str(_size(name))]
    r = run_cli(args)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f'{name}: the contract holds' in r.stdout
