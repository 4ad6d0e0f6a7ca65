"""Inception v3, as research/slim's nets/inception_v3.

``inception_v3_base`` is tf_slim's tower (the official variable names);
``inception_v3`` adds the official classifier and, by default, the auxiliary logits
on Mixed_6e (trained with weight 0.4). Official checkpoints have 1001 classes at
299x299.
"""

import tensorflow as tf
import tf_slim as slim
from tf_slim.nets.inception_v3 import inception_v3_base

from jacktf.backbones.inception_utils import inception_arg_scope
from jacktf.backbones.inception_v2 import logits_tail
from jacktf.backbones.slim_common import reduced_kernel_size

__all__ = ['inception_v3', 'inception_v3_base', 'inception_v3_arg_scope']


def _trunc_normal(stddev):
    return tf.compat.v1.truncated_normal_initializer(0.0, stddev)


def check_aux_input(net, kernel, endpoint, scope):
    """Raises a ValueError naming the fix when ``net`` is smaller than the aux pool."""
    height, width = net.shape.as_list()[1:3]
    if (height is not None and height < kernel) or (width is not None and width < kernel):
        raise ValueError(
            f'{scope}: the auxiliary logits pool {endpoint} ({height}x{width} here) with a '
            f'{kernel}x{kernel} kernel; the input images are too small for them. Use '
            f'larger images or create_aux_logits=False.')


def _aux_logits(end_points, num_classes, depth, spatial_squeeze, scope):
    with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d], stride=1,
                        padding='SAME'):
        with tf.compat.v1.variable_scope('AuxLogits'):
            aux = end_points['Mixed_6e']
            check_aux_input(aux, 5, 'Mixed_6e', scope)
            aux = slim.avg_pool2d(aux, [5, 5], stride=3, padding='VALID',
                                  scope='AvgPool_1a_5x5')
            aux = slim.conv2d(aux, depth(128), [1, 1], scope='Conv2d_1b_1x1')
            kernel = reduced_kernel_size(aux, [5, 5])
            aux = slim.conv2d(aux, depth(768), kernel, weights_initializer=_trunc_normal(0.01),
                              padding='VALID', scope=f'Conv2d_2a_{kernel[0]}x{kernel[1]}')
            aux = slim.conv2d(aux, num_classes, [1, 1], activation_fn=None,
                              normalizer_fn=None, weights_initializer=_trunc_normal(0.001),
                              scope='Conv2d_2b_1x1')
            if spatial_squeeze:
                aux = tf.squeeze(aux, [1, 2], name='SpatialSqueeze')
    end_points['AuxLogits'] = aux


def inception_v3(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 min_depth=16, depth_multiplier=1.0, prediction_fn=slim.softmax,
                 spatial_squeeze=True, reuse=None, create_aux_logits=True,
                 scope='InceptionV3', global_pool=False):
    """Slim Inception v3 classifier.

    Args:
      inputs: [batch, height, width, 3].
      num_classes: classes; 0 or None returns the pooled features (no aux logits).
      is_training: batch-norm and dropout mode.
      dropout_keep_prob: keep probability of the dropout before the logits.
      min_depth: minimum depth of every layer (active with depth_multiplier < 1).
      depth_multiplier: scales every layer's depth (> 0).
      prediction_fn: maps logits to ``end_points['Predictions']`` (None: none).
      spatial_squeeze: squeeze the logits to [batch, num_classes].
      reuse: reuse the variables of ``scope``.
      create_aux_logits: add the auxiliary classifier (``end_points['AuxLogits']``).
      scope: variable scope.
      global_pool: average over the whole final map instead of an 8x8 pool.

    Returns:
      (logits, end_points), or (features, end_points).

    Raises:
      ValueError: ``depth_multiplier`` <= 0, or images too small for the aux logits.
    """
    if depth_multiplier <= 0:
        raise ValueError('depth_multiplier is not greater than zero.')

    def depth(d):
        return max(int(d * depth_multiplier), min_depth)

    with tf.compat.v1.variable_scope(scope, 'InceptionV3', [inputs], reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = inception_v3_base(
                inputs, scope=sc, min_depth=min_depth, depth_multiplier=depth_multiplier)
            if create_aux_logits and num_classes:
                _aux_logits(end_points, num_classes, depth, spatial_squeeze, sc.name)
            return logits_tail(net, end_points, num_classes=num_classes,
                               global_pool=global_pool, pool_kernel=[8, 8],
                               dropout_keep_prob=dropout_keep_prob,
                               spatial_squeeze=spatial_squeeze, prediction_fn=prediction_fn)


inception_v3.default_image_size = 299
inception_v3_arg_scope = inception_arg_scope
