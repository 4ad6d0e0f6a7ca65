"""Inception-ResNet v2 (arXiv:1602.07261), as research/slim's inception_resnet_v2.

The stem, Mixed_5b, 10 residual 35x35 blocks (block35, scale 0.17), Mixed_6a, 20
17x17 blocks (block17, 0.10), Mixed_7a, 9 + 1 8x8 blocks (block8, 0.20) and a 1x1
convolution to 1536 channels, with the official scopes ('Repeat', 'Repeat_1', ...)
and end_points; the auxiliary classifier reads PreAuxLogits. Official checkpoints:
scope 'InceptionResnetV2', 1001 classes, 299x299, Inception preprocessing.
"""

import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.inception_v3 import check_aux_input

__all__ = ['inception_resnet_v2', 'inception_resnet_v2_base',
           'inception_resnet_v2_arg_scope']


def _residual(net, towers, scale, activation_fn):
    """net + scale * 1x1-conv(concat(towers)), then the activation (ReLU6 clips)."""
    mixed = tf.concat(axis=3, values=towers)
    up = slim.conv2d(mixed, net.get_shape()[3], 1, normalizer_fn=None, activation_fn=None,
                     scope='Conv2d_1x1')
    scaled_up = up * scale
    if activation_fn == tf.nn.relu6:
        scaled_up = tf.clip_by_value(scaled_up, -6.0, 6.0)  # a bandpass like ReLU6's
    net += scaled_up
    return activation_fn(net) if activation_fn else net


def _tower(net, layers):
    for depth, kernel, scope in layers:
        net = slim.conv2d(net, depth, kernel, scope=scope)
    return net


def _branch_towers(net, branches):
    towers = []
    for i, layers in enumerate(branches):
        with tf.compat.v1.variable_scope(f'Branch_{i}'):
            towers.append(_tower(net, layers))
    return towers


# The residual blocks' branches: (depth, kernel, scope) per convolution.
_BLOCK35 = [[(32, 1, 'Conv2d_1x1')],
            [(32, 1, 'Conv2d_0a_1x1'), (32, 3, 'Conv2d_0b_3x3')],
            [(32, 1, 'Conv2d_0a_1x1'), (48, 3, 'Conv2d_0b_3x3'), (64, 3, 'Conv2d_0c_3x3')]]
_BLOCK17 = [[(192, 1, 'Conv2d_1x1')],
            [(128, 1, 'Conv2d_0a_1x1'), (160, [1, 7], 'Conv2d_0b_1x7'),
             (192, [7, 1], 'Conv2d_0c_7x1')]]
_BLOCK8 = [[(192, 1, 'Conv2d_1x1')],
           [(192, 1, 'Conv2d_0a_1x1'), (224, [1, 3], 'Conv2d_0b_1x3'),
            (256, [3, 1], 'Conv2d_0c_3x1')]]


def block35(net, scale=1.0, activation_fn=tf.nn.relu, scope=None, reuse=None):
    """The 35x35 residual block."""
    with tf.compat.v1.variable_scope(scope, 'Block35', [net], reuse=reuse):
        return _residual(net, _branch_towers(net, _BLOCK35), scale, activation_fn)


def block17(net, scale=1.0, activation_fn=tf.nn.relu, scope=None, reuse=None):
    """The 17x17 residual block."""
    with tf.compat.v1.variable_scope(scope, 'Block17', [net], reuse=reuse):
        return _residual(net, _branch_towers(net, _BLOCK17), scale, activation_fn)


def block8(net, scale=1.0, activation_fn=tf.nn.relu, scope=None, reuse=None):
    """The 8x8 residual block."""
    with tf.compat.v1.variable_scope(scope, 'Block8', [net], reuse=reuse):
        return _residual(net, _branch_towers(net, _BLOCK8), scale, activation_fn)


def inception_resnet_v2_base(inputs, final_endpoint='Conv2d_7b_1x1', output_stride=16,
                             align_feature_maps=False, scope=None,
                             activation_fn=tf.nn.relu):
    """Inception-ResNet v2 from ``inputs`` up to ``final_endpoint``.

    Args:
      inputs: [batch, height, width, channels].
      final_endpoint: one of 'Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3',
        'MaxPool_3a_3x3', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3', 'MaxPool_5a_3x3',
        'Mixed_5b', 'Mixed_6a', 'PreAuxLogits', 'Mixed_7a', 'Conv2d_7b_1x1'.
      output_stride: 16, or 8 (atrous 17x17 blocks; only up to 'PreAuxLogits').
      align_feature_maps: SAME instead of VALID padding, so feature maps align.
      scope: variable scope (default 'InceptionResnetV2').
      activation_fn: activation of the residual blocks.

    Returns:
      (net, end_points).

    Raises:
      ValueError: an unknown ``final_endpoint``, ``output_stride`` not 8 or 16, or
        ``output_stride`` 8 past 'PreAuxLogits'.
    """
    if output_stride not in (8, 16):
        raise ValueError('output_stride must be 8 or 16.')
    padding = 'SAME' if align_feature_maps else 'VALID'
    end_points = {}

    def add_and_check_final(name, net):
        end_points[name] = net
        return name == final_endpoint

    with tf.compat.v1.variable_scope(scope, 'InceptionResnetV2', [inputs]):
        with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d], stride=1,
                            padding='SAME'):
            stem = [
                ('Conv2d_1a_3x3', lambda x: slim.conv2d(x, 32, 3, stride=2, padding=padding,
                                                        scope='Conv2d_1a_3x3')),
                ('Conv2d_2a_3x3', lambda x: slim.conv2d(x, 32, 3, padding=padding,
                                                        scope='Conv2d_2a_3x3')),
                ('Conv2d_2b_3x3', lambda x: slim.conv2d(x, 64, 3, scope='Conv2d_2b_3x3')),
                ('MaxPool_3a_3x3', lambda x: slim.max_pool2d(
                    x, 3, stride=2, padding=padding, scope='MaxPool_3a_3x3')),
                ('Conv2d_3b_1x1', lambda x: slim.conv2d(x, 80, 1, padding=padding,
                                                        scope='Conv2d_3b_1x1')),
                ('Conv2d_4a_3x3', lambda x: slim.conv2d(x, 192, 3, padding=padding,
                                                        scope='Conv2d_4a_3x3')),
                ('MaxPool_5a_3x3', lambda x: slim.max_pool2d(
                    x, 3, stride=2, padding=padding, scope='MaxPool_5a_3x3')),
            ]
            net = inputs
            for name, layer in stem:
                net = layer(net)
                if add_and_check_final(name, net):
                    return net, end_points

            with tf.compat.v1.variable_scope('Mixed_5b'):
                towers = _branch_towers(net, [
                    [(96, 1, 'Conv2d_1x1')],
                    [(48, 1, 'Conv2d_0a_1x1'), (64, 5, 'Conv2d_0b_5x5')],
                    [(64, 1, 'Conv2d_0a_1x1'), (96, 3, 'Conv2d_0b_3x3'),
                     (96, 3, 'Conv2d_0c_3x3')]])
                with tf.compat.v1.variable_scope('Branch_3'):
                    pool = slim.avg_pool2d(net, 3, stride=1, padding='SAME',
                                           scope='AvgPool_0a_3x3')
                    towers.append(slim.conv2d(pool, 64, 1, scope='Conv2d_0b_1x1'))
                net = tf.concat(towers, 3)
            if add_and_check_final('Mixed_5b', net):
                return net, end_points
            net = slim.repeat(net, 10, block35, scale=0.17, activation_fn=activation_fn)

            # 33x33 (atrous, output_stride 8) or 17x17 from here.
            use_atrous = output_stride == 8
            stride = 1 if use_atrous else 2
            with tf.compat.v1.variable_scope('Mixed_6a'):
                with tf.compat.v1.variable_scope('Branch_0'):
                    tower_0 = slim.conv2d(net, 384, 3, stride=stride, padding=padding,
                                          scope='Conv2d_1a_3x3')
                with tf.compat.v1.variable_scope('Branch_1'):
                    tower_1 = _tower(net, [(256, 1, 'Conv2d_0a_1x1'),
                                           (256, 3, 'Conv2d_0b_3x3')])
                    tower_1 = slim.conv2d(tower_1, 384, 3, stride=stride, padding=padding,
                                          scope='Conv2d_1a_3x3')
                with tf.compat.v1.variable_scope('Branch_2'):
                    tower_2 = slim.max_pool2d(net, 3, stride=stride, padding=padding,
                                              scope='MaxPool_1a_3x3')
                net = tf.concat([tower_0, tower_1, tower_2], 3)
            if add_and_check_final('Mixed_6a', net):
                return net, end_points

            with slim.arg_scope([slim.conv2d], rate=2 if use_atrous else 1):
                net = slim.repeat(net, 20, block17, scale=0.10, activation_fn=activation_fn)
            if add_and_check_final('PreAuxLogits', net):
                return net, end_points
            if output_stride == 8:
                raise ValueError('output_stride==8 is only supported up to the '
                                 'PreAuxlogits end_point for now.')

            with tf.compat.v1.variable_scope('Mixed_7a'):
                towers = []
                for i, (inner, outer) in enumerate(((None, 384), (None, 288), (288, 320))):
                    with tf.compat.v1.variable_scope(f'Branch_{i}'):
                        tower = slim.conv2d(net, 256, 1, scope='Conv2d_0a_1x1')
                        if inner:
                            tower = slim.conv2d(tower, inner, 3, scope='Conv2d_0b_3x3')
                        towers.append(slim.conv2d(tower, outer, 3, stride=2,
                                                  padding=padding, scope='Conv2d_1a_3x3'))
                with tf.compat.v1.variable_scope('Branch_3'):
                    towers.append(slim.max_pool2d(net, 3, stride=2, padding=padding,
                                                  scope='MaxPool_1a_3x3'))
                net = tf.concat(towers, 3)
            if add_and_check_final('Mixed_7a', net):
                return net, end_points

            net = slim.repeat(net, 9, block8, scale=0.20, activation_fn=activation_fn)
            net = block8(net, activation_fn=None)
            net = slim.conv2d(net, 1536, 1, scope='Conv2d_7b_1x1')
            if add_and_check_final('Conv2d_7b_1x1', net):
                return net, end_points
    raise ValueError(f'final_endpoint ({final_endpoint}) not recognized')


def inception_resnet_v2(inputs, num_classes=1001, is_training=True, dropout_keep_prob=0.8,
                        reuse=None, scope='InceptionResnetV2', create_aux_logits=True,
                        activation_fn=tf.nn.relu):
    """Slim Inception-ResNet v2 classifier.

    Args:
      inputs: [batch, height, width, 3]; height and width may be unknown without aux
        logits.
      num_classes: classes; 0 or None returns the pooled features ('global_pool').
      is_training: batch-norm and dropout mode.
      dropout_keep_prob: keep probability of the dropout before the logits.
      reuse: reuse the variables of ``scope``.
      scope: variable scope.
      create_aux_logits: add the auxiliary classifier on PreAuxLogits.
      activation_fn: activation of the residual blocks.

    Returns:
      (logits, end_points), or (features, end_points).

    Raises:
      ValueError: images too small for the auxiliary logits.
    """
    with tf.compat.v1.variable_scope(scope, 'InceptionResnetV2', [inputs],
                                     reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = inception_resnet_v2_base(inputs, scope=sc,
                                                       activation_fn=activation_fn)
            if create_aux_logits and num_classes:
                with tf.compat.v1.variable_scope('AuxLogits'):
                    aux = end_points['PreAuxLogits']
                    check_aux_input(aux, 5, 'PreAuxLogits', sc.name)
                    aux = slim.avg_pool2d(aux, 5, stride=3, padding='VALID',
                                          scope='Conv2d_1a_3x3')
                    aux = slim.conv2d(aux, 128, 1, scope='Conv2d_1b_1x1')
                    aux = slim.conv2d(aux, 768, aux.get_shape()[1:3], padding='VALID',
                                      scope='Conv2d_2a_5x5')
                    aux = slim.flatten(aux)
                    end_points['AuxLogits'] = slim.fully_connected(
                        aux, num_classes, activation_fn=None, scope='Logits')
            with tf.compat.v1.variable_scope('Logits'):
                kernel = net.get_shape()[1:3]
                if kernel.is_fully_defined():
                    net = slim.avg_pool2d(net, kernel, padding='VALID',
                                          scope='AvgPool_1a_8x8')
                else:
                    net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
                end_points['global_pool'] = net
                if not num_classes:
                    return net, end_points
                net = slim.flatten(net)
                net = slim.dropout(net, dropout_keep_prob, is_training=is_training,
                                   scope='Dropout')
                end_points['PreLogitsFlatten'] = net
                logits = slim.fully_connected(net, num_classes, activation_fn=None,
                                              scope='Logits')
                end_points['Logits'] = logits
                end_points['Predictions'] = tf.nn.softmax(logits, name='Predictions')
    return logits, end_points


inception_resnet_v2.default_image_size = 299


def inception_resnet_v2_arg_scope(
        weight_decay=0.00004, batch_norm_decay=0.9997, batch_norm_epsilon=0.001,
        activation_fn=tf.nn.relu,
        batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
        batch_norm_scale=False):
    """The official Inception-ResNet v2 arg_scope: batch norm, L2 on weights and biases.

    Args:
      weight_decay: L2 decay of conv and fully connected weights and biases.
      batch_norm_decay: moving-average decay.
      batch_norm_epsilon: added to the variance.
      activation_fn: activation of the convolutions.
      batch_norm_updates_collections: collection of the batch-norm update ops.
      batch_norm_scale: add the ``gamma`` scale to batch norm.

    Returns:
      An arg_scope dict.
    """
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        weights_regularizer=slim.l2_regularizer(weight_decay),
                        biases_regularizer=slim.l2_regularizer(weight_decay)):
        batch_norm_params = {
            'decay': batch_norm_decay,
            'epsilon': batch_norm_epsilon,
            'updates_collections': batch_norm_updates_collections,
            'fused': None,
            'scale': batch_norm_scale,
        }
        with slim.arg_scope([slim.conv2d], activation_fn=activation_fn,
                            normalizer_fn=slim.batch_norm,
                            normalizer_params=batch_norm_params) as scope:
            return scope
