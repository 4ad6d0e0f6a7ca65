"""Inception v1, v2 and v3: tf_slim's conv towers with the official classifier tail.

The towers (``inception_vN_base``) come from tf_slim.nets and have the official variable
names; the tail (pooling with kernels reduced for small inputs, ``global_pool``,
features when ``num_classes`` is 0 or None, v3's auxiliary logits) follows the
official research/slim definitions. Official checkpoints have 1001 classes.
"""

import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import inception_v1 as slim_v1
from tf_slim.nets import inception_v2 as slim_v2
from tf_slim.nets import inception_v3 as slim_v3

import jacktf
from jacktf.backbones.slim_common import classifier_tail, finish_predictions, \
    reduced_kernel_size


def inception_v1(images, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 spatial_squeeze=True, reuse=None, scope='InceptionV1', global_pool=False):
    """Slim Inception v1 (GoogLeNet with batch norm)."""
    with tf.compat.v1.variable_scope(scope, 'InceptionV1', [images], reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = slim_v1.inception_v1_base(images, scope=sc)
            with tf.compat.v1.variable_scope('Logits'):
                net, end_points = classifier_tail(
                    net, end_points, num_classes=num_classes, global_pool=global_pool,
                    pool_kernel=[7, 7], pool_scope='AvgPool_0a_7x7',
                    pool_endpoint='AvgPool_0a_7x7', dropout_keep_prob=dropout_keep_prob,
                    dropout_scope='Dropout_0b', logits_scope='Conv2d_0c_1x1',
                    spatial_squeeze=spatial_squeeze)
            if not num_classes:
                return net, end_points
            return finish_predictions(net, end_points)


def inception_v2(images, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 min_depth=16, depth_multiplier=1.0, spatial_squeeze=True, reuse=None,
                 scope='InceptionV2', global_pool=False):
    """Slim Inception v2 (BN-Inception)."""
    if depth_multiplier <= 0:
        raise ValueError('depth_multiplier is not greater than zero.')
    with tf.compat.v1.variable_scope(scope, 'InceptionV2', [images], reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = slim_v2.inception_v2_base(
                images, scope=sc, min_depth=min_depth, depth_multiplier=depth_multiplier)
            return _v2_v3_tail(net, end_points, num_classes, global_pool, [7, 7],
                               dropout_keep_prob, spatial_squeeze)


def _v2_v3_tail(net, end_points, num_classes, global_pool, pool_kernel, dropout_keep_prob,
                spatial_squeeze):
    """The official Inception v2/v3 classifier: AvgPool_1a_<k>, Dropout_1b, PreLogits."""
    with tf.compat.v1.variable_scope('Logits'):
        net, end_points = classifier_tail(
            net, end_points, num_classes=num_classes, global_pool=global_pool,
            pool_kernel=pool_kernel, pool_scope='AvgPool_1a', pool_endpoint='AvgPool_1a',
            dropout_keep_prob=dropout_keep_prob, dropout_scope='Dropout_1b',
            logits_scope='Conv2d_1c_1x1', spatial_squeeze=spatial_squeeze, prelogits=True,
            name_kernel=True)
    if not num_classes:
        return net, end_points
    return finish_predictions(net, end_points)


def _aux_logits(end_points, num_classes, depth, spatial_squeeze):
    trunc = tf.compat.v1.truncated_normal_initializer
    with slim.arg_scope([slim.conv2d, slim.max_pool2d, slim.avg_pool2d], stride=1,
                        padding='SAME'):
        with tf.compat.v1.variable_scope('AuxLogits'):
            aux = slim.avg_pool2d(end_points['Mixed_6e'], [5, 5], stride=3, padding='VALID',
                                  scope='AvgPool_1a_5x5')
            aux = slim.conv2d(aux, depth(128), [1, 1], scope='Conv2d_1b_1x1')
            kernel = reduced_kernel_size(aux, [5, 5])
            aux = slim.conv2d(aux, depth(768), kernel, weights_initializer=trunc(stddev=0.01),
                              padding='VALID', scope=f'Conv2d_2a_{kernel[0]}x{kernel[1]}')
            aux = slim.conv2d(aux, num_classes, [1, 1], activation_fn=None,
                              normalizer_fn=None, weights_initializer=trunc(stddev=0.001),
                              scope='Conv2d_2b_1x1')
            if spatial_squeeze:
                aux = tf.squeeze(aux, [1, 2], name='SpatialSqueeze')
    end_points['AuxLogits'] = aux


def inception_v3(images, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 min_depth=16, depth_multiplier=1.0, spatial_squeeze=True, reuse=None,
                 create_aux_logits=False, scope='InceptionV3', global_pool=False):
    """Slim Inception v3; ``create_aux_logits`` adds the auxiliary head (loss weight 0.4)."""
    if depth_multiplier <= 0:
        raise ValueError('depth_multiplier is not greater than zero.')

    def depth(d):
        return max(int(d * depth_multiplier), min_depth)

    with tf.compat.v1.variable_scope(scope, 'InceptionV3', [images], reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = slim_v3.inception_v3_base(
                images, scope=sc, min_depth=min_depth, depth_multiplier=depth_multiplier)
            if create_aux_logits and num_classes:
                _aux_logits(end_points, num_classes, depth, spatial_squeeze)
            return _v2_v3_tail(net, end_points, num_classes, global_pool, [8, 8],
                               dropout_keep_prob, spatial_squeeze)


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers inception_v1, inception_v2 and inception_v3."""
    for fn, arg_scope, size, scope, cam in (
            (inception_v1, slim_v1.inception_v1_arg_scope, 224, 'InceptionV1', 'Mixed_5c'),
            (inception_v2, slim_v2.inception_v2_arg_scope, 224, 'InceptionV2', 'Mixed_5c'),
            (inception_v3, slim_v3.inception_v3_arg_scope, 299, 'InceptionV3', 'Mixed_7c')):
        classifier = [f'{scope}/Logits'] + ([f'{scope}/AuxLogits'] if fn is inception_v3
                                            else [])
        pool = 'AvgPool_0a_7x7' if fn is inception_v1 else 'AvgPool_1a'
        registry.backbone(fn.__name__, fn, scope=scope, arg_scope=arg_scope,
                          default_image_size=size, preprocessing='inception',
                          num_classes_official=1001, classifier_scopes=classifier,
                          features_endpoint=pool, cam_endpoint=cam,
                          native_logits_endpoint='Logits')
