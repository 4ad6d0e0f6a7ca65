"""Inception v4 (Szegedy et al. 2016, arXiv:1602.07261), as research/slim's inception_v4.

The stem, 4 Inception-A, Reduction-A, 7 Inception-B, Reduction-B and 3 Inception-C
blocks, with the official scopes and end_points; the classifier pools the whole final
map ('global_pool'), flattens and applies a fully connected layer, and the auxiliary
classifier reads Mixed_6h. Official checkpoints: scope 'InceptionV4', 1001 classes,
299x299, Inception preprocessing.
"""

import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.inception_utils import inception_arg_scope
from jacktf.backbones.inception_v3 import check_aux_input

__all__ = ['inception_v4', 'inception_v4_base', 'inception_v4_arg_scope']


def _conv(depth, kernel, scope, **kwargs):
    return lambda net: slim.conv2d(net, depth, kernel, scope=scope, **kwargs)


def _max_pool(scope, **kwargs):
    return lambda net: slim.max_pool2d(net, [3, 3], scope=scope, **kwargs)


def _avg_pool(scope):
    return lambda net: slim.avg_pool2d(net, [3, 3], scope=scope)


def _fork(*layers):
    """Layers applied side by side to the same input, concatenated on channels."""
    return lambda net: tf.concat(axis=3, values=[layer(net) for layer in layers])


_DOWN = dict(stride=2, padding='VALID')  # the stride-2 layers of reductions


def _branches(inputs, branches):
    """Runs each branch (a list of layers) on ``inputs`` in scope 'Branch_<i>'."""
    outputs = []
    for i, layers in enumerate(branches):
        with tf.compat.v1.variable_scope(f'Branch_{i}'):
            net = inputs
            for layer in layers:
                net = layer(net)
            outputs.append(net)
    return tf.concat(axis=3, values=outputs)


def _block(inputs, branches, scope, default_name, reuse):
    with slim.arg_scope([slim.conv2d, slim.avg_pool2d, slim.max_pool2d], stride=1,
                        padding='SAME'):
        with tf.compat.v1.variable_scope(scope, default_name, [inputs], reuse=reuse):
            return _branches(inputs, branches)


def block_inception_a(inputs, scope=None, reuse=None):
    """Inception-A block (35x35, 384 channels out)."""
    return _block(inputs, [
        [_conv(96, [1, 1], 'Conv2d_0a_1x1')],
        [_conv(64, [1, 1], 'Conv2d_0a_1x1'), _conv(96, [3, 3], 'Conv2d_0b_3x3')],
        [_conv(64, [1, 1], 'Conv2d_0a_1x1'), _conv(96, [3, 3], 'Conv2d_0b_3x3'),
         _conv(96, [3, 3], 'Conv2d_0c_3x3')],
        [_avg_pool('AvgPool_0a_3x3'), _conv(96, [1, 1], 'Conv2d_0b_1x1')],
    ], scope, 'BlockInceptionA', reuse)


def block_reduction_a(inputs, scope=None, reuse=None):
    """Reduction-A block (35x35 -> 17x17, 1024 channels out)."""
    return _block(inputs, [
        [_conv(384, [3, 3], 'Conv2d_1a_3x3', **_DOWN)],
        [_conv(192, [1, 1], 'Conv2d_0a_1x1'), _conv(224, [3, 3], 'Conv2d_0b_3x3'),
         _conv(256, [3, 3], 'Conv2d_1a_3x3', **_DOWN)],
        [_max_pool('MaxPool_1a_3x3', **_DOWN)],
    ], scope, 'BlockReductionA', reuse)


def block_inception_b(inputs, scope=None, reuse=None):
    """Inception-B block (17x17, 1024 channels out)."""
    return _block(inputs, [
        [_conv(384, [1, 1], 'Conv2d_0a_1x1')],
        [_conv(192, [1, 1], 'Conv2d_0a_1x1'), _conv(224, [1, 7], 'Conv2d_0b_1x7'),
         _conv(256, [7, 1], 'Conv2d_0c_7x1')],
        [_conv(192, [1, 1], 'Conv2d_0a_1x1'), _conv(192, [7, 1], 'Conv2d_0b_7x1'),
         _conv(224, [1, 7], 'Conv2d_0c_1x7'), _conv(224, [7, 1], 'Conv2d_0d_7x1'),
         _conv(256, [1, 7], 'Conv2d_0e_1x7')],
        [_avg_pool('AvgPool_0a_3x3'), _conv(128, [1, 1], 'Conv2d_0b_1x1')],
    ], scope, 'BlockInceptionB', reuse)


def block_reduction_b(inputs, scope=None, reuse=None):
    """Reduction-B block (17x17 -> 8x8, 1536 channels out)."""
    return _block(inputs, [
        [_conv(192, [1, 1], 'Conv2d_0a_1x1'), _conv(192, [3, 3], 'Conv2d_1a_3x3', **_DOWN)],
        [_conv(256, [1, 1], 'Conv2d_0a_1x1'), _conv(256, [1, 7], 'Conv2d_0b_1x7'),
         _conv(320, [7, 1], 'Conv2d_0c_7x1'), _conv(320, [3, 3], 'Conv2d_1a_3x3', **_DOWN)],
        [_max_pool('MaxPool_1a_3x3', **_DOWN)],
    ], scope, 'BlockReductionB', reuse)


def block_inception_c(inputs, scope=None, reuse=None):
    """Inception-C block (8x8, 1536 channels out)."""
    return _block(inputs, [
        [_conv(256, [1, 1], 'Conv2d_0a_1x1')],
        [_conv(384, [1, 1], 'Conv2d_0a_1x1'),
         _fork(_conv(256, [1, 3], 'Conv2d_0b_1x3'), _conv(256, [3, 1], 'Conv2d_0c_3x1'))],
        [_conv(384, [1, 1], 'Conv2d_0a_1x1'), _conv(448, [3, 1], 'Conv2d_0b_3x1'),
         _conv(512, [1, 3], 'Conv2d_0c_1x3'),
         _fork(_conv(256, [1, 3], 'Conv2d_0d_1x3'), _conv(256, [3, 1], 'Conv2d_0e_3x1'))],
        [_avg_pool('AvgPool_0a_3x3'), _conv(256, [1, 1], 'Conv2d_0b_1x1')],
    ], scope, 'BlockInceptionC', reuse)


def _stem():
    """(end_point, layer) of the stem, 299x299x3 -> 35x35x384."""
    return [
        ('Conv2d_1a_3x3', _conv(32, [3, 3], 'Conv2d_1a_3x3', **_DOWN)),
        ('Conv2d_2a_3x3', _conv(32, [3, 3], 'Conv2d_2a_3x3', padding='VALID')),
        ('Conv2d_2b_3x3', _conv(64, [3, 3], 'Conv2d_2b_3x3')),
        ('Mixed_3a', lambda net: _branches(net, [
            [_max_pool('MaxPool_0a_3x3', **_DOWN)],
            [_conv(96, [3, 3], 'Conv2d_0a_3x3', **_DOWN)]])),
        ('Mixed_4a', lambda net: _branches(net, [
            [_conv(64, [1, 1], 'Conv2d_0a_1x1'),
             _conv(96, [3, 3], 'Conv2d_1a_3x3', padding='VALID')],
            [_conv(64, [1, 1], 'Conv2d_0a_1x1'), _conv(64, [1, 7], 'Conv2d_0b_1x7'),
             _conv(64, [7, 1], 'Conv2d_0c_7x1'),
             _conv(96, [3, 3], 'Conv2d_1a_3x3', padding='VALID')]])),
        ('Mixed_5a', lambda net: _branches(net, [
            [_conv(192, [3, 3], 'Conv2d_1a_3x3', **_DOWN)],
            [_max_pool('MaxPool_1a_3x3', **_DOWN)]])),
    ]


def _stages():
    """(end_point, block) of the Inception stages after the stem, in order."""
    stages = [(f'Mixed_5{chr(ord("b") + i)}', block_inception_a) for i in range(4)]
    stages.append(('Mixed_6a', block_reduction_a))
    stages += [(f'Mixed_6{chr(ord("b") + i)}', block_inception_b) for i in range(7)]
    stages.append(('Mixed_7a', block_reduction_b))
    stages += [(f'Mixed_7{chr(ord("b") + i)}', block_inception_c) for i in range(3)]
    return stages


def inception_v4_base(inputs, final_endpoint='Mixed_7d', scope=None):
    """Inception v4 from ``inputs`` up to ``final_endpoint``.

    Args:
      inputs: [batch, height, width, 3].
      final_endpoint: one of 'Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3',
        'Mixed_3a', 'Mixed_4a', 'Mixed_5a' ... 'Mixed_5e', 'Mixed_6a' ... 'Mixed_6h',
        'Mixed_7a' ... 'Mixed_7d'.
      scope: variable scope (default 'InceptionV4').

    Returns:
      (net, end_points).

    Raises:
      ValueError: an unknown ``final_endpoint``.
    """
    end_points = {}
    with tf.compat.v1.variable_scope(scope, 'InceptionV4', [inputs]):
        with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d], stride=1,
                            padding='SAME'):
            net = inputs
            for name, layer in _stem():
                if name.startswith('Mixed'):
                    with tf.compat.v1.variable_scope(name):
                        net = layer(net)
                else:
                    net = layer(net)
                end_points[name] = net
                if name == final_endpoint:
                    return net, end_points
            for name, block in _stages():
                net = block(net, name)
                end_points[name] = net
                if name == final_endpoint:
                    return net, end_points
    raise ValueError('Unknown final endpoint %s' % final_endpoint)


def inception_v4(inputs, num_classes=1001, is_training=True, dropout_keep_prob=0.8,
                 reuse=None, scope='InceptionV4', create_aux_logits=True):
    """Slim Inception v4 classifier.

    Args:
      inputs: [batch, height, width, 3]; height and width may be unknown without aux
        logits.
      num_classes: classes; 0 or None returns the pooled features ('global_pool').
      is_training: batch-norm and dropout mode.
      dropout_keep_prob: keep probability of the dropout before the logits.
      reuse: reuse the variables of ``scope``.
      scope: variable scope.
      create_aux_logits: add the auxiliary classifier on Mixed_6h.

    Returns:
      (logits, end_points), or (features, end_points).

    Raises:
      ValueError: images too small for the auxiliary logits.
    """
    with tf.compat.v1.variable_scope(scope, 'InceptionV4', [inputs], reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = inception_v4_base(inputs, scope=sc)
            with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d],
                                stride=1, padding='SAME'):
                if create_aux_logits and num_classes:
                    with tf.compat.v1.variable_scope('AuxLogits'):
                        aux = end_points['Mixed_6h']
                        check_aux_input(aux, 5, 'Mixed_6h', sc.name)
                        aux = slim.avg_pool2d(aux, [5, 5], stride=3, padding='VALID',
                                              scope='AvgPool_1a_5x5')
                        aux = slim.conv2d(aux, 128, [1, 1], scope='Conv2d_1b_1x1')
                        aux = slim.conv2d(aux, 768, aux.get_shape()[1:3], padding='VALID',
                                          scope='Conv2d_2a')
                        aux = slim.flatten(aux)
                        end_points['AuxLogits'] = slim.fully_connected(
                            aux, num_classes, activation_fn=None, scope='Aux_logits')
                with tf.compat.v1.variable_scope('Logits'):
                    kernel = net.get_shape()[1:3]
                    if kernel.is_fully_defined():
                        net = slim.avg_pool2d(net, kernel, padding='VALID',
                                              scope='AvgPool_1a')
                    else:
                        net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
                    end_points['global_pool'] = net
                    if not num_classes:
                        return net, end_points
                    net = slim.dropout(net, dropout_keep_prob, scope='Dropout_1b')
                    net = slim.flatten(net, scope='PreLogitsFlatten')
                    end_points['PreLogitsFlatten'] = net
                    logits = slim.fully_connected(net, num_classes, activation_fn=None,
                                                  scope='Logits')
                    end_points['Logits'] = logits
                    end_points['Predictions'] = tf.nn.softmax(logits, name='Predictions')
    return logits, end_points


inception_v4.default_image_size = 299
inception_v4_arg_scope = inception_arg_scope
