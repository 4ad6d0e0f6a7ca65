"""The backbones behave as the official slim functions: key cases of the official tests.

Modelled on research/slim's mobilenet_v1/v2/v3, inception_v4 and inception_resnet_v2
tests and tf_slim's Inception/VGG tests, called on jacktf's modules (built in TF1 graphs
like the originals), plus what jacktf adds on top: frozen batch norms in spec-built nets.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

import jacktf
from jacktf.backbones import inception, mobilenet_v1, vgg
from jacktf.backbones.mobilenet import mobilenet, mobilenet_v2, mobilenet_v3
from jacktf.core.model import Model

v1 = tf.compat.v1


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


def _placeholder(shape):
    return v1.placeholder(tf.float32, shape)


def _conv_depths(graph):
    return {op.outputs[0].shape.as_list()[-1] for op in graph.get_operations()
            if op.type == 'Conv2D'}


def _variable_names():
    return [v.op.name for v in v1.global_variables()]


@pytest.mark.parametrize('build', [
    lambda x: mobilenet_v2.mobilenet(x),
    lambda x: mobilenet_v3.large(x),
    lambda x: mobilenet_v3.small(x)], ids=['v2', 'v3_large', 'v3_small'])
def test_mobilenet_without_arg_scope_has_batch_norm_and_no_conv_biases(graph, build):
    build(_placeholder([1, 224, 224, 3]))
    names = _variable_names()
    weights = [n[:-len('/weights')] for n in names if n.endswith('/weights')]
    normalized = {n[:-len('/BatchNorm/gamma')] for n in names if n.endswith('/BatchNorm/gamma')}
    # Every convolution is batch-normalized (with scale) and has no biases, except the
    # logits, v3's last 1x1 convolution and the squeeze-excite gates (as official).
    unnormalized = [w for w in weights if w not in normalized]
    assert all(w.endswith('Logits/Conv2d_1c_1x1') or 'squeeze_excite' in w or
               w.endswith('/Conv_2') for w in unnormalized), unnormalized
    biased = {n[:-len('/biases')] for n in names if n.endswith('/biases')}
    assert biased == set(unnormalized)
    assert len(normalized) >= 34
    depthwise = [n for n in names if n.endswith('depthwise/depthwise_weights')]
    assert all(n.replace('depthwise_weights', 'BatchNorm/beta') in names for n in depthwise)


def test_mobilenet_v3_takes_inputs_of_unknown_height_and_width(graph):
    images = _placeholder([None, None, None, 3])
    net, end_points = mobilenet_v3.mobilenet(images, base_only=True, final_endpoint='layer_17')
    assert net is end_points['layer_17']
    assert net.shape.as_list() == [None, None, None, 960]
    se_means = [op for op in graph.get_operations()
                if op.type == 'Mean' and 'squeeze_excite' in op.name]
    assert len(se_means) == 8  # every squeeze-excite averages the map it is given
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for size, side in ((96, 3), (160, 5)):
            out = sess.run(net, {images: np.zeros([2, size, size + 32, 3], np.float32)})
            assert out.shape == (2, side, side + 1, 960)


def test_mobilenet_v2_stops_at_final_endpoint(graph):
    net, end_points = mobilenet_v2.mobilenet_base(_placeholder([2, 224, 224, 3]),
                                                  final_endpoint='layer_5')
    assert net.shape.as_list() == [2, 28, 28, 32]
    layers = sorted({k.split('/')[0] for k in end_points})
    assert layers == [f'layer_{i}' for i in range(1, 6)]
    assert 'layer_5/expansion_output' in end_points
    assert not any(v.op.name.startswith('MobilenetV2/expanded_conv_4')
                   for v in v1.global_variables())


def test_mobilenet_v2_divisible_by_and_min_depth(graph):
    mobilenet_v2.mobilenet(_placeholder([1, 224, 224, 3]), divisible_by=16, min_depth=32)
    assert _conv_depths(graph) == {32, 64, 96, 160, 192, 320, 384, 576, 960, 1280, 1001}


def test_mobilenet_depth_multiplier_arg_scope_and_finegrain(graph):
    with slim.arg_scope((mobilenet.depth_multiplier,), min_depth=32):
        net, _ = mobilenet_v2.mobilenet_base(_placeholder([1, 224, 224, 3]),
                                             depth_multiplier=0.1)
    assert net.shape.as_list() == [1, 7, 7, 128]
    assert _conv_depths(graph) == {32, 192, 128}
    with tf.Graph().as_default() as g2:
        mobilenet_v2.mobilenet(_placeholder([1, 224, 224, 3]), depth_multiplier=0.01,
                               finegrain_classification_mode=True)
        assert _conv_depths(g2) == {8, 48, 1280, 1001}


@pytest.mark.parametrize('reduce_mean', [False, True])
def test_mobilenet_v3_global_pool_choice(graph, reduce_mean):
    mobilenet_v3.small(_placeholder([1, 224, 224, 3]),
                       use_reduce_mean_for_pooling=reduce_mean)
    means = [op for op in graph.get_operations() if op.type == 'Mean']
    assert bool(means) == reduce_mean


def test_mobilenet_v3_group_norm_replaces_batch_norm(graph):
    mobilenet_v3.small(_placeholder([1, 224, 224, 3]), use_groupnorm=True)
    names = _variable_names()
    assert any('GroupNorm' in n for n in names)
    assert not any('BatchNorm' in n for n in names)


def test_training_scope_sets_is_training_unless_none():
    key = slim.arg_scope_func_key(slim.batch_norm)
    assert mobilenet.training_scope()[key]['is_training'] is True
    assert 'is_training' not in mobilenet.training_scope(is_training=None)[key]
    assert 'is_training' not in mobilenet_v1.mobilenet_v1_arg_scope(is_training=None)[key]


def test_mobilenet_v1_parameter_count_and_output_stride(graph):
    images = _placeholder([1, 224, 224, 3])
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d],
                        normalizer_fn=slim.batch_norm):
        mobilenet_v1.mobilenet_v1_base(images)
        total, _ = slim.model_analyzer.analyze_vars(slim.get_model_variables())
        assert total == 3217920  # the official test's count
        net, _ = mobilenet_v1.mobilenet_v1_base(images, output_stride=8,
                                                use_explicit_padding=True)
    assert net.shape.as_list() == [1, 28, 28, 1024]


def test_inception_v3_has_aux_logits_by_default(graph):
    _, end_points = inception.inception_v3(_placeholder([2, 299, 299, 3]), num_classes=7)
    assert end_points['AuxLogits'].shape.as_list() == [2, 7]
    assert end_points['Predictions'].op.name.startswith('InceptionV3/Predictions')
    with tf.Graph().as_default():
        _, end_points = inception.inception_v3(_placeholder([2, 299, 299, 3]),
                                               num_classes=7, create_aux_logits=False)
        assert 'AuxLogits' not in end_points


def test_inception_resnet_v2_base_endpoints_and_output_stride(graph):
    images = _placeholder([1, 299, 299, 3])
    net, end_points = inception.inception_resnet_v2_base(images, final_endpoint='Mixed_5b')
    assert list(end_points) == ['Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3',
                                'MaxPool_3a_3x3', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3',
                                'MaxPool_5a_3x3', 'Mixed_5b']
    assert net.shape.as_list() == [1, 35, 35, 320]
    with tf.Graph().as_default():
        _, aligned = inception.inception_resnet_v2_base(
            _placeholder([1, 299, 299, 3]), final_endpoint='MaxPool_5a_3x3',
            align_feature_maps=True)
        assert aligned['MaxPool_5a_3x3'].shape.as_list() == [1, 38, 38, 192]
    with pytest.raises(ValueError, match='output_stride must be 8 or 16'):
        inception.inception_resnet_v2_base(images, output_stride=32)


def test_inception_v4_base_stops_at_final_endpoint(graph):
    net, end_points = inception.inception_v4_base(_placeholder([1, 299, 299, 3]),
                                                  final_endpoint='Mixed_5a')
    assert list(end_points) == ['Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3',
                                'Mixed_3a', 'Mixed_4a', 'Mixed_5a']
    assert net.shape.as_list() == [1, 35, 35, 384]
    assert net.op.name == 'InceptionV4/Mixed_5a/concat'
    with pytest.raises(ValueError, match='Unknown final endpoint'):
        inception.inception_v4_base(_placeholder([1, 299, 299, 3]), final_endpoint='Mixed_9')


def test_vgg_a_is_configuration_a(graph):
    logits, end_points = vgg.vgg_a(_placeholder([1, 224, 224, 3]), num_classes=10)
    assert logits.op.name == 'vgg_a/fc8/squeezed'
    convs = [n for n in _variable_names() if n.endswith('/weights')]
    assert len(convs) == 11
    assert list(end_points)[:4] == ['vgg_a/conv1/conv1_1', 'vgg_a/pool1',
                                    'vgg_a/conv2/conv2_1', 'vgg_a/pool2']


@pytest.mark.parametrize('backbone', ['inception_v4', 'inception_resnet_v2'])
def test_native_head_on_images_too_small_for_aux_logits_says_so(default_registry, backbone):
    with pytest.raises(ValueError, match='too small for them.*create_aux_logits=False'):
        jacktf.build_model(backbone, head='native', num_classes=3,
                           registry=default_registry, image_size=96)
    model = jacktf.build_model(backbone, head='native', num_classes=3,
                               registry=default_registry, image_size=96,
                               create_aux_logits=False)
    out = model.predict(tf.zeros([1, 96, 96, 3]))
    assert out['logits'].shape.as_list() == [1, 3]
    assert out['features'].shape.as_list() == [1, 1536]


def test_frozen_batch_norm_reaches_spec_batch_norms(default_registry):
    """MobileNet v2's batch norms come from its spec, yet follow the freeze rules."""
    model = Model(backbone='mobilenet_v2', head='native', num_classes=3,
                  registry=default_registry, image_size=64,
                  frozen_bn_scopes=['MobilenetV2/Conv'])
    model.build()
    stats = {n: v for n, v in zip(model.variable_names(), model.variables)
             if n.endswith('moving_mean')}
    before = {n: v.numpy().copy() for n, v in stats.items()}
    model.predict(tf.random.stateless_uniform([4, 64, 64, 3], [1, 2], -1, 1), training=True)
    moved = {n for n, v in stats.items() if not np.array_equal(v.numpy(), before[n])}
    assert 'MobilenetV2/Conv/BatchNorm/moving_mean' not in moved
    assert 'MobilenetV2/Conv_1/BatchNorm/moving_mean' in moved
    assert len(moved) == len(stats) - 1


def test_registered_mobilenets_list_their_options_for_gin(default_registry):
    """The official v2/v3 functions pass options on through **kwargs; the registered
    ones name them, so gin refuses a misspelt binding when it reads the recipe."""
    import inspect
    from jacktf.app import configurables
    from jacktf.core.errors import ConfigError
    for name in ('mobilenet_v2', 'mobilenet_v2_035', 'mobilenet_v3_large'):
        params = inspect.signature(default_registry.get('backbone', name).factory).parameters
        assert {'output_stride', 'final_endpoint', 'is_training'} <= set(params)
        assert not any(p.kind == p.VAR_KEYWORD for p in params.values())
    assert inspect.signature(default_registry.get(
        'backbone', 'mobilenet_v2_035').factory).parameters['depth_multiplier'].default == 0.35
    with pytest.raises(ConfigError, match="no parameter 'output_strid'.*output_stride"):
        configurables.parse([], ['mobilenet_v2.output_strid = 16'])


def test_inception_v2_base_rejects_the_data_formats_the_official_one_rejects(graph):
    images = _placeholder([1, 224, 224, 3])
    with pytest.raises(ValueError, match='data_format must be either NHWC or NCHW'):
        inception.inception_v2_base(images, data_format='NHCW')
    with pytest.raises(ValueError, match='separable convolution only supports NHWC'):
        inception.inception_v2_base(images, data_format='NCHW')
    assert not v1.global_variables()  # checked before anything is built
    with pytest.raises(ValueError, match='Unknown final endpoint Mixed_6a'):
        inception.inception_v1_base(images, final_endpoint='Mixed_6a')


@pytest.mark.slow
def test_inception_v1_v2_bases_take_the_official_options(graph):
    """include_root_block (v1, v2), use_separable_conv and NCHW (v2), as the official
    research/slim tests build them."""
    net, end_points = inception.inception_v1_base(_placeholder([2, 28, 28, 192]),
                                                  include_root_block=False)
    assert net.shape.as_list() == [2, 7, 7, 1024] and list(end_points)[0] == 'Mixed_3b'
    assert not [n for n in _variable_names() if 'Conv2d_1a_7x7' in n]
    with slim.arg_scope(inception.inception_v2_arg_scope()):
        net, end_points = inception.inception_v2_base(
            _placeholder([2, 3, 224, 224]), use_separable_conv=False, data_format='NCHW',
            scope='NCHW')
    assert net.shape.as_list() == [2, 1024, 7, 7]
    assert end_points['Mixed_4a'].shape.as_list() == [2, 576, 14, 14]
    weights = [v for v in v1.global_variables() if v.op.name == 'NCHW/Conv2d_1a_7x7/weights']
    assert weights[0].shape.as_list() == [7, 7, 3, 64]  # a plain convolution
    net, end_points = inception.inception_v2_base(_placeholder([2, 28, 28, 192]),
                                                  include_root_block=False, scope='NoRoot')
    assert net.shape.as_list() == [2, 7, 7, 1024] and 'Conv2d_1a_7x7' not in end_points
