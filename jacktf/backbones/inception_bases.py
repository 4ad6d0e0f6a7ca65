"""``inception_v1_base`` and ``inception_v2_base`` with the official research/slim
signatures (tf_slim 1.1 ships older ones).

v1: ``include_root_block`` (False starts at Mixed_3b on the given tensor). v2 adds
``use_separable_conv`` (the separable 7x7 root convolution of the checkpoints, or a
plain one) and ``data_format`` ('NHWC' or 'NCHW'; NCHW needs use_separable_conv=False),
with the official ValueErrors. Layers are tables: each Mixed block is a list of branches
(``Branch_<i>``), each branch a list of (kind, depth, kernel, scope, options).
"""

import tensorflow as tf
import tf_slim as slim


def _trunc(stddev):
    return tf.compat.v1.truncated_normal_initializer(0.0, stddev)


def _layer(net, spec, depth):
    kind, d, kernel, scope, options = (tuple(spec) + ({},))[:5]
    options = dict(options)
    if 'init' in options:
        options['weights_initializer'] = _trunc(options.pop('init'))
    if kind == 'conv':
        return slim.conv2d(net, depth(d), kernel, scope=scope, **options)
    pool = slim.max_pool2d if kind == 'max' else slim.avg_pool2d
    return pool(net, kernel, scope=scope, **options)


def _run(net, layers, depth, concat_axis, final_endpoint, end_points):
    """Runs (endpoint, spec-or-branches) layers; returns (net, reached final)."""
    for endpoint, spec in layers:
        if isinstance(spec, tuple):
            net = _layer(net, spec, depth)
        else:
            with tf.compat.v1.variable_scope(endpoint):
                outputs = []
                for i, branch in enumerate(spec):
                    with tf.compat.v1.variable_scope(f'Branch_{i}'):
                        out = net
                        for layer in branch:
                            out = _layer(out, layer, depth)
                        outputs.append(out)
                net = tf.concat(axis=concat_axis, values=outputs)
        end_points[endpoint] = net
        if endpoint == final_endpoint:
            return net, True
    return net, False


_S2 = {'stride': 2}


def _v1_mixed(a, b, c, d, c2_scope='Conv2d_0b_3x3'):
    return [[('conv', a, [1, 1], 'Conv2d_0a_1x1')],
            [('conv', b[0], [1, 1], 'Conv2d_0a_1x1'), ('conv', b[1], [3, 3], 'Conv2d_0b_3x3')],
            [('conv', c[0], [1, 1], 'Conv2d_0a_1x1'), ('conv', c[1], [3, 3], c2_scope)],
            [('max', None, [3, 3], 'MaxPool_0a_3x3'), ('conv', d, [1, 1], 'Conv2d_0b_1x1')]]


_V1_ROOT = [
    ('Conv2d_1a_7x7', ('conv', 64, [7, 7], 'Conv2d_1a_7x7', dict(_S2))),
    ('MaxPool_2a_3x3', ('max', None, [3, 3], 'MaxPool_2a_3x3', _S2)),
    ('Conv2d_2b_1x1', ('conv', 64, [1, 1], 'Conv2d_2b_1x1')),
    ('Conv2d_2c_3x3', ('conv', 192, [3, 3], 'Conv2d_2c_3x3')),
    ('MaxPool_3a_3x3', ('max', None, [3, 3], 'MaxPool_3a_3x3', _S2))]
_V1_MIXED = [
    ('Mixed_3b', _v1_mixed(64, (96, 128), (16, 32), 32)),
    ('Mixed_3c', _v1_mixed(128, (128, 192), (32, 96), 64)),
    ('MaxPool_4a_3x3', ('max', None, [3, 3], 'MaxPool_4a_3x3', _S2)),
    ('Mixed_4b', _v1_mixed(192, (96, 208), (16, 48), 64)),
    ('Mixed_4c', _v1_mixed(160, (112, 224), (24, 64), 64)),
    ('Mixed_4d', _v1_mixed(128, (128, 256), (24, 64), 64)),
    ('Mixed_4e', _v1_mixed(112, (144, 288), (32, 64), 64)),
    ('Mixed_4f', _v1_mixed(256, (160, 320), (32, 128), 128)),
    ('MaxPool_5a_2x2', ('max', None, [2, 2], 'MaxPool_5a_2x2', _S2)),
    ('Mixed_5b', _v1_mixed(256, (160, 320), (32, 128), 128, c2_scope='Conv2d_0a_3x3')),
    ('Mixed_5c', _v1_mixed(384, (192, 384), (48, 128), 128))]


def inception_v1_base(inputs, final_endpoint='Mixed_5c', include_root_block=True,
                      scope='InceptionV1'):
    """Inception v1 from ``inputs`` to ``final_endpoint``.

    Args:
      inputs: [batch, height, width, channels].
      final_endpoint: the last endpoint built ('Conv2d_1a_7x7' ... 'Mixed_5c').
      include_root_block: build the convolutions and poolings before Mixed_3b; False
        starts at Mixed_3b.
      scope: variable scope.

    Returns:
      (tensor of ``final_endpoint``, end_points).

    Raises:
      ValueError: ``final_endpoint`` is not an endpoint of the net.
    """
    end_points = {}
    layers = (_V1_ROOT if include_root_block else []) + _V1_MIXED
    with tf.compat.v1.variable_scope(scope, 'InceptionV1', [inputs]):
        with slim.arg_scope([slim.conv2d, slim.fully_connected],
                            weights_initializer=_trunc(0.01)):
            with slim.arg_scope([slim.conv2d, slim.max_pool2d], stride=1, padding='SAME'):
                net, done = _run(inputs, layers, lambda d: d, 3, final_endpoint,
                                 end_points)
                if done:
                    return net, end_points
    raise ValueError('Unknown final endpoint %s' % final_endpoint)


_R = {'init': 0.09}  # the 1x1 reductions before 3x3 convolutions
_P = {'init': 0.1}  # the projections after poolings


def _v2_mixed(a, b, c, d, pool='avg'):
    pool_scope = 'AvgPool_0a_3x3' if pool == 'avg' else 'MaxPool_0a_3x3'
    return [[('conv', a, [1, 1], 'Conv2d_0a_1x1')],
            [('conv', b[0], [1, 1], 'Conv2d_0a_1x1', _R),
             ('conv', b[1], [3, 3], 'Conv2d_0b_3x3')],
            [('conv', c[0], [1, 1], 'Conv2d_0a_1x1', _R),
             ('conv', c[1], [3, 3], 'Conv2d_0b_3x3'), ('conv', c[1], [3, 3], 'Conv2d_0c_3x3')],
            [(pool, None, [3, 3], pool_scope), ('conv', d, [1, 1], 'Conv2d_0b_1x1', _P)]]


def _v2_reduction(a, b):
    return [[('conv', a[0], [1, 1], 'Conv2d_0a_1x1', _R),
             ('conv', a[1], [3, 3], 'Conv2d_1a_3x3', _S2)],
            [('conv', b[0], [1, 1], 'Conv2d_0a_1x1', _R),
             ('conv', b[1], [3, 3], 'Conv2d_0b_3x3'),
             ('conv', b[1], [3, 3], 'Conv2d_1a_3x3', _S2)],
            [('max', None, [3, 3], 'MaxPool_1a_3x3', _S2)]]


_V2_ROOT_REST = [
    ('MaxPool_2a_3x3', ('max', None, [3, 3], 'MaxPool_2a_3x3', _S2)),
    ('Conv2d_2b_1x1', ('conv', 64, [1, 1], 'Conv2d_2b_1x1', _P)),
    ('Conv2d_2c_3x3', ('conv', 192, [3, 3], 'Conv2d_2c_3x3')),
    ('MaxPool_3a_3x3', ('max', None, [3, 3], 'MaxPool_3a_3x3', _S2))]
_V2_MIXED = [
    ('Mixed_3b', _v2_mixed(64, (64, 64), (64, 96), 32)),
    ('Mixed_3c', _v2_mixed(64, (64, 96), (64, 96), 64)),
    ('Mixed_4a', _v2_reduction((128, 160), (64, 96))),
    ('Mixed_4b', _v2_mixed(224, (64, 96), (96, 128), 128)),
    ('Mixed_4c', _v2_mixed(192, (96, 128), (96, 128), 128)),
    ('Mixed_4d', _v2_mixed(160, (128, 160), (128, 160), 96)),
    ('Mixed_4e', _v2_mixed(96, (128, 192), (160, 192), 96)),
    ('Mixed_5a', _v2_reduction((128, 192), (192, 256))),
    ('Mixed_5b', _v2_mixed(352, (192, 320), (160, 224), 128)),
    ('Mixed_5c', _v2_mixed(352, (192, 320), (192, 224), 128, pool='max'))]


def inception_v2_base(inputs, final_endpoint='Mixed_5c', min_depth=16,
                      depth_multiplier=1.0, use_separable_conv=True, data_format='NHWC',
                      include_root_block=True, scope=None):
    """Inception v2 (BN-Inception) from ``inputs`` to ``final_endpoint``.

    Args:
      inputs: [batch, height, width, channels] (NHWC) or [batch, channels, height,
        width] (NCHW).
      final_endpoint: the last endpoint built ('Conv2d_1a_7x7' ... 'Mixed_5c').
      min_depth: minimum depth of every convolution (active with depth_multiplier < 1).
      depth_multiplier: scales every convolution's depth (> 0).
      use_separable_conv: the root 7x7 convolution is depthwise-separable (as the
        official checkpoints); False: a plain convolution.
      data_format: 'NHWC' or 'NCHW' (NCHW only with use_separable_conv=False).
      include_root_block: build the layers before Mixed_3b; False starts at Mixed_3b.
      scope: variable scope (default 'InceptionV2').

    Returns:
      (tensor of ``final_endpoint``, end_points).

    Raises:
      ValueError: an unknown ``final_endpoint`` or ``data_format``, depth_multiplier
        <= 0, or NCHW with separable convolution.
    """
    if depth_multiplier <= 0:
        raise ValueError('depth_multiplier is not greater than zero.')
    if data_format not in ('NHWC', 'NCHW'):
        raise ValueError('data_format must be either NHWC or NCHW.')
    if data_format == 'NCHW' and use_separable_conv:
        raise ValueError('separable convolution only supports NHWC layout. NCHW data '
                         'format can only be used when use_separable_conv is False.')

    def depth(d):
        return max(int(d * depth_multiplier), min_depth)

    end_points = {}
    with tf.compat.v1.variable_scope(scope, 'InceptionV2', [inputs]):
        with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d], stride=1,
                            padding='SAME', data_format=data_format):
            net = inputs
            if include_root_block:
                net = _root_conv(inputs, depth, use_separable_conv)
                end_points['Conv2d_1a_7x7'] = net
                if final_endpoint == 'Conv2d_1a_7x7':
                    return net, end_points
            layers = (_V2_ROOT_REST if include_root_block else []) + _V2_MIXED
            net, done = _run(net, layers, depth, 3 if data_format == 'NHWC' else 1,
                             final_endpoint, end_points)
            if done:
                return net, end_points
    raise ValueError('Unknown final endpoint %s' % final_endpoint)


def _root_conv(inputs, depth, use_separable_conv):
    """Conv2d_1a_7x7, stride 2: separable (depthwise multiplier min(depth(64) / 3, 8),
    so the depthwise step does not over-parameterize) or plain."""
    if use_separable_conv:
        return slim.separable_conv2d(
            inputs, depth(64), [7, 7], depth_multiplier=min(int(depth(64) / 3), 8),
            stride=2, padding='SAME', weights_initializer=_trunc(1.0),
            scope='Conv2d_1a_7x7')
    return slim.conv2d(inputs, depth(64), [7, 7], stride=2, weights_initializer=_trunc(1.0),
                       scope='Conv2d_1a_7x7')
