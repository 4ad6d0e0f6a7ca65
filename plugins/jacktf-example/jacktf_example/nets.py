"""TinyNet: a small slim-style CNN that trains fast on a CPU (scope 'TinyNet')."""

import tensorflow as tf
import tf_slim as slim


def tiny_net_arg_scope(weight_decay=1e-4):
    """Conv + batch norm + ReLU everywhere, L2 weight decay.

    Its only option is ``weight_decay``; jacktf's ``Model.batch_norm_params`` sets the
    batch norms' decay and epsilon for this backbone as for any other.
    """
    with slim.arg_scope([slim.conv2d], weights_regularizer=slim.l2_regularizer(weight_decay),
                        normalizer_fn=slim.batch_norm, activation_fn=tf.nn.relu):
        with slim.arg_scope([slim.batch_norm], decay=0.997, epsilon=1e-3,
                            scale=True) as sc:
            return sc


def tiny_net(images, num_classes=None, is_training=True, width=16, scope='TinyNet'):
    """Four conv blocks (stride 2 after the first), global average pool, 1x1 logits.

    Returns:
      (net, end_points): pooled features [N, 1, 1, 8*width] when num_classes is None,
      else logits [N, num_classes].
    """
    end_points = {}
    with tf.compat.v1.variable_scope(scope, 'TinyNet', [images]):
        with slim.arg_scope([slim.batch_norm], is_training=is_training):
            net = images
            for i, mult in enumerate((1, 2, 4, 8)):
                name = f'Conv2d_{i}'
                net = slim.conv2d(net, width * mult, [3, 3], stride=1 if i == 0 else 2,
                                  scope=name)
                end_points[name] = net
            net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
            end_points['global_pool'] = net
            if not num_classes:
                return net, end_points
            with tf.compat.v1.variable_scope('Logits'):
                net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                                  normalizer_fn=None, scope='Conv2d_1c_1x1')
                net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
            end_points['Logits'] = net
            return net, end_points
