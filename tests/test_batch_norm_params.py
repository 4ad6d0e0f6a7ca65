"""Model.batch_norm_params reaches every slim batch norm of any backbone; arg_scope
options a backbone does not take are named (exit 2), not a TypeError."""

import glob
import os

import gin
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim
from tf_slim.ops import arg_scope as arg_scope_lib

from conftest import ROOT, run_cli
from jacktf.core import batchnorm
from jacktf.app import configurables
from jacktf.core.errors import ConfigError
from jacktf.core.model import Model

SIZES = {'resnet_v1_tiny': 32, 'resnet_v2_50': 32, 'mobilenet_v1_025': 32,
         'mobilenet_v2_035': 32, 'mobilenet_v3_small': 32, 'inception_v1': 64,
         'inception_v3': 80}


def _moving_variances(model):
    return {n: v.numpy() for n, v in zip(model.variable_names(), model.variables)
            if n.endswith('/moving_variance')}


@pytest.mark.parametrize('backbone', sorted(SIZES))
def test_decay_reaches_every_batch_norm(default_registry, backbone):
    size = SIZES[backbone]
    models = [Model(backbone=backbone, num_classes=2, image_size=size,
                    batch_norm_params={'decay': decay}).build() for decay in (0.5, 0.9)]
    for a, b in zip(models[0].variables, models[1].variables):
        b.assign(a)
    images = tf.constant(np.random.RandomState(0).uniform(-1, 1, [4, size, size, 3]),
                         tf.float32)
    # One training-mode call from moving_variance = 1 leaves
    # 1 - moving_variance = (1 - decay) * (1 - batch variance) in every batch norm.
    for model in models:
        model.predict(images, training=True)
    fast, slow = _moving_variances(models[0]), _moving_variances(models[1])
    assert len(fast) >= 10, backbone
    for name in fast:
        ok = np.abs(1 - slow[name]) > 1e-3
        assert ok.any(), name
        # (1 - 0.5) / (1 - 0.9) = 5 for every batch norm, so decay reached each of them
        np.testing.assert_allclose((1 - fast[name][ok]) / (1 - slow[name][ok]), 5.0,
                                   rtol=1e-2, err_msg=f'{backbone}: {name}')


def test_arg_scope_rewrite_covers_normalizer_params_and_batch_norm():
    def factory():
        with slim.arg_scope([slim.conv2d], normalizer_fn=slim.batch_norm,
                            normalizer_params={'decay': 0.997, 'epsilon': 1e-5,
                                               'scale': True}), \
                slim.arg_scope([slim.fully_connected], normalizer_fn=slim.layer_norm,
                               normalizer_params={'epsilon': 1e-6}) as sc:
            return sc
    scope = batchnorm.batch_norm_arg_scope(factory(), {'decay': 0.9, 'epsilon': 1e-3})
    conv = scope[arg_scope_lib.arg_scope_func_key(slim.conv2d)]
    assert conv['normalizer_params'] == {'decay': 0.9, 'epsilon': 1e-3, 'scale': True}
    fc = scope[arg_scope_lib.arg_scope_func_key(slim.fully_connected)]
    assert fc['normalizer_params'] == {'epsilon': 1e-6}  # not a batch norm: untouched
    bn = scope[arg_scope_lib.arg_scope_func_key(slim.batch_norm)]
    assert bn == {'decay': 0.9, 'epsilon': 1e-3}


@pytest.mark.parametrize('params, words', [
    ({'momentum': 0.9}, ["'momentum'", 'decay, epsilon']),
    ({'batch_norm_decay': 0.9}, ["'batch_norm_decay'", "Did you mean 'decay'?"]),
    ({'decay': 1.5}, ["['decay'] must be in (0, 1)", '1.5']),
    ({'epsilon': 0}, ["['epsilon'] must be > 0", '0']),
    ({'decay': '0.9'}, ['must be a number', "'0.9'"]),
    (0.9, ['must be a dict', '0.9'])])
def test_bad_batch_norm_params_are_named(default_registry, params, words):
    with pytest.raises(ConfigError) as info:
        Model(backbone='resnet_v1_tiny', num_classes=2, batch_norm_params=params)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_arg_scope_option_the_backbone_does_not_take_is_named(default_registry):
    with pytest.raises(ConfigError) as info:
        Model(backbone='mobilenet_v2', num_classes=2,
              arg_scope_kwargs={'batch_norm_decay': 0.9, 'weight_decay': 1e-5})
    text = str(info.value)
    assert "'batch_norm_decay'" in text and "backbone 'mobilenet_v2'" in text
    assert 'is_training, weight_decay, stddev, dropout_keep_prob, bn_decay' in text
    assert "did you mean 'bn_decay'?" in text and 'Model.batch_norm_params' in text
    assert "'weight_decay'" not in text.split('which')[0]  # the accepted key is not blamed
    Model(backbone='mobilenet_v2', num_classes=2, arg_scope_kwargs={'bn_decay': 0.9})


def test_every_recipe_configures_a_model_with_every_registered_backbone(default_registry):
    names = [e.name for e in default_registry.entries() if e.kind == 'backbone']
    recipes = sorted(glob.glob(os.path.join(ROOT, 'gin', '*.gin')))
    assert len(names) >= 20 and len(recipes) >= 6
    try:
        for recipe in recipes:
            for name in names:
                configurables.parse([recipe], [f'BACKBONE = @{name}'], '/tmp/unused')
                model = configurables.configured('Model')()  # every binding of the recipe
                assert model.backbone_name == name
        configurables.parse([os.path.join(ROOT, 'gin', 'tiny_from_scratch.gin')], [],
                            '/tmp/unused')
        assert configurables.configured('Model')().network._batch_norm_params == \
            {'decay': 0.9}
    finally:
        gin.clear_config()


def test_mobilenet_with_batch_norm_decay_in_arg_scope_kwargs_exits_2(tmp_path):
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={tmp_path}/m',
                 '--gin_param=BACKBONE = @mobilenet_v2_035',
                 "--gin_param=Model.arg_scope_kwargs = {'batch_norm_decay': 0.9}",
                 '--gin_param=TRAIN_STEPS = 3'], timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'Traceback' not in r.stderr and 'TypeError' not in r.stderr
    assert "jacktf: error: Model.arg_scope_kwargs has 'batch_norm_decay'" in r.stderr
    assert "backbone 'mobilenet_v2_035'" in r.stderr and 'bn_decay' in r.stderr
