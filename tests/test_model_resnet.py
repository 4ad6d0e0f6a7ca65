"""Variable names/shapes and end_points of the slim ResNets equal the official manifests."""

import numpy as np
import pytest
import tensorflow as tf

import jacktf
from conftest import read_endpoints, read_manifest


@pytest.fixture(scope='module')
def resnet_v1_50_native(default_registry):
    return jacktf.build_model('resnet_v1_50', head='native', registry=default_registry)


def _shapes(model):
    return {n: v.shape.as_list() for n, v in
            zip(model.variable_names(), model.variables)}


def test_resnet_v1_50_variables_equal_official_manifest(resnet_v1_50_native):
    assert _shapes(resnet_v1_50_native) == read_manifest('resnet_v1_50.vars.tsv')
    assert len(resnet_v1_50_native.variables) == 267


def test_resnet_v1_50_endpoints_equal_official_manifest(resnet_v1_50_native):
    out = resnet_v1_50_native.predict(tf.zeros([1, 224, 224, 3]))
    got = [(k, v.shape.as_list()) for k, v in out['end_points'].items()]
    assert got == read_endpoints('resnet_v1_50.endpoints.tsv')
    assert out['logits'].shape.as_list() == [1, 1000]
    assert out['features'].shape.as_list() == [1, 2048]


def test_resnet_v2_50_variables_equal_official_manifest(default_registry):
    model = jacktf.build_model('resnet_v2_50', head='native', registry=default_registry,
                               image_size=64)
    assert model.num_classes == 1001
    assert _shapes(model) == read_manifest('resnet_v2_50.vars.tsv')
    names = [k for k in model.predict(tf.zeros([1, 64, 64, 3]))['end_points']]
    assert names == [n for n, _ in read_endpoints('resnet_v2_50.endpoints.tsv')]


def test_logits_head_replaces_the_classifier(default_registry):
    model = jacktf.build_model('resnet_v1_50', head='logits', num_classes=2,
                               registry=default_registry, image_size=64)
    shapes = _shapes(model)
    official = read_manifest('resnet_v1_50.vars.tsv')
    backbone = {n: s for n, s in official.items() if not n.startswith('resnet_v1_50/logits')}
    assert {n: s for n, s in shapes.items() if not n.startswith('Predict/')} == backbone
    assert shapes['Predict/logits/weights'] == [2048, 2]
    assert shapes['Predict/logits/biases'] == [2]
    out = model.predict(tf.random.uniform([3, 64, 64, 3]))
    assert out['logits'].shape.as_list() == [3, 2]
    post = model.postprocess(out['logits'])
    np.testing.assert_allclose(post['probabilities'].numpy().sum(-1), 1.0, rtol=1e-5)


def test_model_rejects_bad_options(default_registry):
    with pytest.raises(jacktf.ConfigError, match='num_classes is required'):
        jacktf.build_model('resnet_v1_50', head='logits', registry=default_registry)
    with pytest.raises(jacktf.UnknownPluginError, match='resnet_v1_50'):
        jacktf.build_model('resnet_v1_5', num_classes=2, registry=default_registry)
