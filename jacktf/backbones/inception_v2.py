"""Inception v2 (BN-Inception), as research/slim's nets/inception_v2.

``inception_v2_base`` is the official tower (jacktf.backbones.inception_bases);
``inception_v2`` adds the official classifier. Official checkpoints have 1001 classes
at 224x224.
"""

import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.inception_bases import inception_v2_base
from jacktf.backbones.inception_utils import inception_arg_scope
from jacktf.backbones.slim_common import classifier_tail, finish_predictions

__all__ = ['inception_v2', 'inception_v2_base', 'inception_v2_arg_scope']


def logits_tail(net, end_points, *, num_classes, global_pool, pool_kernel,
                dropout_keep_prob, spatial_squeeze, prediction_fn):
    """The Inception v2/v3 classifier: AvgPool_1a_<k>, Dropout_1b, 1x1-conv logits."""
    with tf.compat.v1.variable_scope('Logits'):
        net, end_points = classifier_tail(
            net, end_points, num_classes=num_classes, global_pool=global_pool,
            pool_kernel=pool_kernel, pool_scope='AvgPool_1a', pool_endpoint='AvgPool_1a',
            dropout_keep_prob=dropout_keep_prob, dropout_scope='Dropout_1b',
            logits_scope='Conv2d_1c_1x1', spatial_squeeze=spatial_squeeze, prelogits=True,
            name_kernel=True)
    if not num_classes:
        return net, end_points
    return finish_predictions(net, end_points, prediction_fn)


def inception_v2(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 min_depth=16, depth_multiplier=1.0, prediction_fn=slim.softmax,
                 spatial_squeeze=True, reuse=None, scope='InceptionV2', global_pool=False):
    """Slim Inception v2 classifier.

    Args:
      inputs: [batch, height, width, 3].
      num_classes: classes; 0 or None returns the pooled features.
      is_training: batch-norm and dropout mode.
      dropout_keep_prob: keep probability of the dropout before the logits.
      min_depth: minimum depth of every layer (active with depth_multiplier < 1).
      depth_multiplier: scales every layer's depth (> 0).
      prediction_fn: maps logits to ``end_points['Predictions']`` (None: none).
      spatial_squeeze: squeeze the logits to [batch, num_classes].
      reuse: reuse the variables of ``scope``.
      scope: variable scope.
      global_pool: average over the whole final map instead of a 7x7 pool.

    Returns:
      (logits, end_points), or (features, end_points).

    Raises:
      ValueError: ``depth_multiplier`` <= 0.
    """
    if depth_multiplier <= 0:
        raise ValueError('depth_multiplier is not greater than zero.')
    with tf.compat.v1.variable_scope(scope, 'InceptionV2', [inputs], reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = inception_v2_base(
                inputs, scope=sc, min_depth=min_depth, depth_multiplier=depth_multiplier)
            return logits_tail(net, end_points, num_classes=num_classes,
                               global_pool=global_pool, pool_kernel=[7, 7],
                               dropout_keep_prob=dropout_keep_prob,
                               spatial_squeeze=spatial_squeeze, prediction_fn=prediction_fn)


inception_v2.default_image_size = 224
inception_v2_arg_scope = inception_arg_scope
