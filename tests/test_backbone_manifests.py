"""Every backbone with an official manifest: variables and end_points equal it exactly."""

import gc

import pytest
import tensorflow as tf

import jacktf
import tf_slim as slim
from tf_slim.nets import resnet_v1 as slim_resnet_v1
from tf_slim.nets import resnet_v2 as slim_resnet_v2
from tf_slim.nets import vgg as slim_vgg
from conftest import read_endpoints, read_manifest

CASES = [
    # backbone, manifest, input size, backbone kwargs
    ('resnet_v1_101', 'resnet_v1_101', 224, {}),
    ('inception_v1', 'inception_v1', 224, {}),
    ('inception_v2', 'inception_v2', 224, {}),
    ('inception_v3', 'inception_v3', 299, {}),  # aux logits by default, as official
    ('vgg_16', 'vgg_16', 224, {}),
    ('mobilenet_v1', 'mobilenet_v1_1.0_224', 224, {}),
    ('mobilenet_v1_025', 'mobilenet_v1_0.25_128', 128, {}),
    ('mobilenet_v2', 'mobilenet_v2_1.0_224', 224, {}),
    ('mobilenet_v2_140', 'mobilenet_v2_1.4_224', 224, {}),
    ('mobilenet_v2_035', 'mobilenet_v2_0.35_224', 224, {}),
    ('mobilenet_v2_035', 'mobilenet_v2_0.35_96', 96, {}),
    ('mobilenet_v3_large', 'mobilenet_v3_large_1.0_224', 224, {}),
    ('mobilenet_v3_small', 'mobilenet_v3_small_1.0_224', 224, {}),
    ('inception_v4', 'inception_v4', 299, {}),  # ~8 s each in eager mode (a graph
    ('inception_resnet_v2', 'inception_resnet_v2', 299, {}),  # build is slower)
]


@pytest.mark.parametrize('backbone,manifest,size,kwargs', CASES,
                         ids=[c[1] for c in CASES])
def test_variables_and_endpoints_equal_manifest(default_registry, backbone, manifest, size,
                                                kwargs):
    model = jacktf.build_model(backbone, head='native', registry=default_registry,
                               image_size=size, **kwargs)
    shapes = {n: v.shape.as_list() for n, v in zip(model.variable_names(), model.variables)}
    assert shapes == read_manifest(f'{manifest}.vars.tsv')
    out = model.predict(tf.zeros([1, size, size, 3]))
    got = [(k, v.shape.as_list()) for k, v in out['end_points'].items()]
    assert got == read_endpoints(f'{manifest}.endpoints.tsv')
    assert out['logits'].shape.as_list() == [1, model.card.num_classes_official]
    del model, out
    gc.collect()


def _graph_mode_shapes(builder, arg_scope, num_classes, size):
    """Variable shapes of a tf_slim.nets builder in a TF1 graph (the reference)."""
    with tf.Graph().as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3])
        with slim.arg_scope(arg_scope()):
            builder(images, num_classes=num_classes, is_training=False)
        return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}


@pytest.mark.parametrize('backbone,builder,arg_scope,features', [
    ('resnet_v1_152', slim_resnet_v1.resnet_v1_152, slim_resnet_v1.resnet_arg_scope, 2048),
    ('resnet_v2_101', slim_resnet_v2.resnet_v2_101, slim_resnet_v2.resnet_arg_scope, 2048),
    ('resnet_v2_152', slim_resnet_v2.resnet_v2_152, slim_resnet_v2.resnet_arg_scope, 2048),
    ('vgg_19', slim_vgg.vgg_19, slim_vgg.vgg_arg_scope, 4096),
])
@pytest.mark.heavy  # whole big nets; their variable names are checked against tf-slim's
def test_backbones_without_manifest_equal_tf_slim_graph_build(default_registry, backbone,
                                                              builder, arg_scope, features):
    size = 224 if backbone.startswith('vgg') else 64
    model = jacktf.build_model(backbone, head='native', registry=default_registry,
                               image_size=size)
    shapes = {n: v.shape.as_list() for n, v in zip(model.variable_names(), model.variables)}
    assert shapes == _graph_mode_shapes(builder, arg_scope, model.num_classes, size)
    assert all(n.startswith(backbone + '/') for n in shapes)
    out = model.predict(tf.zeros([2, size, size, 3]))
    assert out['logits'].shape.as_list() == [2, model.card.num_classes_official]
    assert out['features'].shape.as_list() == [2, features]
    del model, out
    gc.collect()


@pytest.mark.parametrize('backbone,millions,features', [
    ('mobilenet_v1_075', 2.59, 768), ('mobilenet_v1_050', 1.34, 512),
    ('mobilenet_v1_025', 0.47, 256)])
def test_mobilenet_v1_multipliers_match_published_sizes(default_registry, backbone,
                                                        millions, features):
    model = jacktf.build_model(backbone, head='native', registry=default_registry,
                               image_size=64)
    assert all(n.startswith('MobilenetV1/') for n in model.variable_names())
    trainable = sum(int(tf.size(v)) for v in model.network.trainable_variables)
    assert abs(trainable / 1e6 - millions) <= 0.011  # the slim model zoo's table
    out = model.predict(tf.zeros([2, 64, 64, 3]))
    assert out['features'].shape.as_list() == [2, features]


@pytest.mark.parametrize('backbone', ['inception_v1', 'inception_v3', 'mobilenet_v1_025'])
def test_small_inputs_use_reduced_pooling_and_logits_head(default_registry, backbone):
    model = jacktf.build_model(backbone, head='logits', num_classes=3,
                               registry=default_registry, image_size=96)
    out = model.predict(tf.zeros([2, 96, 96, 3]))
    assert out['logits'].shape.as_list() == [2, 3]
    assert not any('/Logits/' in n for n in model.variable_names())
