"""VGG A (11), 16 and 19 in the official research/slim form (1000 classes, VGG preprocessing).

fc6/fc7 are convolutions (7x7 VALID, then 1x1), so the net needs inputs of at least
224x224 unless ``fc_conv_padding='SAME'``; ``global_pool`` averages fc7 spatially.
"""

import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import vgg as slim_vgg

import jacktf

_BLOCKS = {'vgg_a': (1, 1, 2, 2, 2), 'vgg_16': (2, 2, 3, 3, 3),
           'vgg_19': (2, 2, 4, 4, 4)}
_DEPTHS = (64, 128, 256, 512, 512)


def _vgg(name, images, num_classes, is_training, dropout_keep_prob, spatial_squeeze, reuse,
         scope, fc_conv_padding, global_pool):
    end_points = {}
    with tf.compat.v1.variable_scope(scope, name, [images], reuse=reuse) as sc:
        root = sc.name

        def record(key, tensor):
            end_points[f'{root}/{key}'] = tensor
            return tensor

        net = images
        for i, (repeats, depth) in enumerate(zip(_BLOCKS[name], _DEPTHS), start=1):
            with tf.compat.v1.variable_scope(f'conv{i}'):
                for j in range(1, repeats + 1):
                    net = record(f'conv{i}/conv{i}_{j}', slim.conv2d(
                        net, depth, [3, 3], scope=f'conv{i}_{j}'))
            net = record(f'pool{i}', slim.max_pool2d(net, [2, 2], scope=f'pool{i}'))
        net = record('fc6', slim.conv2d(net, 4096, [7, 7], padding=fc_conv_padding,
                                        scope='fc6'))
        net = slim.dropout(net, dropout_keep_prob, is_training=is_training, scope='dropout6')
        net = record('fc7', slim.conv2d(net, 4096, [1, 1], scope='fc7'))
        if global_pool:
            net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
            end_points['global_pool'] = net
        if num_classes:
            net = slim.dropout(net, dropout_keep_prob, is_training=is_training,
                               scope='dropout7')
            net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                              normalizer_fn=None, scope='fc8')
            if spatial_squeeze:
                net = tf.squeeze(net, [1, 2], name='fc8/squeezed')
            record('fc8', net)
        return net, end_points


def vgg_a(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
          spatial_squeeze=True, reuse=None, scope='vgg_a', fc_conv_padding='VALID',
          global_pool=False):
    """Slim VGG A (configuration A, 11 layers)."""
    return _vgg('vgg_a', inputs, num_classes, is_training, dropout_keep_prob,
                spatial_squeeze, reuse, scope, fc_conv_padding, global_pool)


def vgg_16(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
           spatial_squeeze=True, reuse=None, scope='vgg_16', fc_conv_padding='VALID',
           global_pool=False):
    """Slim VGG 16 (configuration D)."""
    return _vgg('vgg_16', inputs, num_classes, is_training, dropout_keep_prob,
                spatial_squeeze, reuse, scope, fc_conv_padding, global_pool)


def vgg_19(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
           spatial_squeeze=True, reuse=None, scope='vgg_19', fc_conv_padding='VALID',
           global_pool=False):
    """Slim VGG 19 (configuration E)."""
    return _vgg('vgg_19', inputs, num_classes, is_training, dropout_keep_prob,
                spatial_squeeze, reuse, scope, fc_conv_padding, global_pool)


vgg_a.default_image_size = 224
vgg_16.default_image_size = 224
vgg_19.default_image_size = 224
vgg_d = vgg_16
vgg_e = vgg_19
vgg_arg_scope = slim_vgg.vgg_arg_scope


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers vgg_a, vgg_16 and vgg_19."""
    for fn in (vgg_a, vgg_16, vgg_19):
        name = fn.__name__
        registry.backbone(name, fn, scope=name, arg_scope=vgg_arg_scope,
                          default_image_size=224, preprocessing='vgg',
                          input_range=(-123.68, 151.061), num_classes_official=1000,
                          classifier_scopes=[f'{name}/fc8'], features_endpoint=f'{name}/fc7',
                          cam_endpoint=f'{name}/conv5/conv5_{_BLOCKS[name][4]}',
                          native_logits_endpoint=f'{name}/fc8')
