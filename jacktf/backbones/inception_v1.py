"""Inception v1 (GoogLeNet with batch norm), as research/slim's nets/inception_v1.

``inception_v1_base`` is the official tower (jacktf.backbones.inception_bases); ``inception_v1``
adds the official classifier (features when ``num_classes`` is 0 or None,
``global_pool``, pooling reduced for small inputs). Official checkpoints have 1001
classes at 224x224.
"""

import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.inception_bases import inception_v1_base
from jacktf.backbones.inception_utils import inception_arg_scope
from jacktf.backbones.slim_common import classifier_tail, finish_predictions

__all__ = ['inception_v1', 'inception_v1_base', 'inception_v1_arg_scope']


def inception_v1(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 prediction_fn=slim.softmax, spatial_squeeze=True, reuse=None,
                 scope='InceptionV1', global_pool=False):
    """Slim Inception v1 classifier.

    Args:
      inputs: [batch, height, width, 3].
      num_classes: classes; 0 or None returns the pooled features.
      is_training: batch-norm and dropout mode.
      dropout_keep_prob: keep probability of the dropout before the logits.
      prediction_fn: maps logits to ``end_points['Predictions']`` (None: none).
      spatial_squeeze: squeeze the logits to [batch, num_classes].
      reuse: reuse the variables of ``scope``.
      scope: variable scope.
      global_pool: average over the whole final map instead of a 7x7 pool.

    Returns:
      (logits, end_points), or (features, end_points).
    """
    with tf.compat.v1.variable_scope(scope, 'InceptionV1', [inputs], reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = inception_v1_base(inputs, scope=sc)
            with tf.compat.v1.variable_scope('Logits'):
                net, end_points = classifier_tail(
                    net, end_points, num_classes=num_classes, global_pool=global_pool,
                    pool_kernel=[7, 7], pool_scope='AvgPool_0a_7x7',
                    pool_endpoint='AvgPool_0a_7x7', dropout_keep_prob=dropout_keep_prob,
                    dropout_scope='Dropout_0b', logits_scope='Conv2d_0c_1x1',
                    spatial_squeeze=spatial_squeeze)
                if not num_classes:
                    return net, end_points
                return finish_predictions(net, end_points, prediction_fn)


inception_v1.default_image_size = 224
inception_v1_arg_scope = inception_arg_scope
