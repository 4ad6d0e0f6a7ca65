"""ResNet v1 and v2 (50/101/152 layers) from tf_slim.nets, with the official endpoints.

Each function has the official research/slim signature (``spatial_squeeze`` included)
and records ``global_pool``, ``<scope>/spatial_squeeze`` and ``predictions`` as the
official code does. Official checkpoints: resnet_v1 has 1000 classes and uses VGG
preprocessing; resnet_v2 has 1001 classes and uses Inception preprocessing.
"""

import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import resnet_v1 as slim_v1, resnet_v2 as slim_v2

import jacktf
from jacktf.backbones.slim_common import squeeze_logits


def _resnet(builder, images, num_classes, is_training, global_pool, output_stride,
            spatial_squeeze, reuse, scope):
    net, end_points = builder(images, num_classes=None, is_training=is_training,
                              global_pool=global_pool, output_stride=output_stride,
                              reuse=reuse, scope=scope)
    end_points = dict(end_points)
    if global_pool:
        end_points['global_pool'] = net
    if num_classes:
        with tf.compat.v1.variable_scope(scope, reuse=reuse):
            net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                              normalizer_fn=None, scope='logits')
        end_points[scope + '/logits'] = net
        net = squeeze_logits(net, end_points, scope, spatial_squeeze)
        end_points['predictions'] = tf.nn.softmax(net, name='predictions')
    return net, end_points


def _make(builder, scope_name):
    def net(images, num_classes=None, is_training=True, global_pool=True,
            output_stride=None, spatial_squeeze=True, reuse=None, scope=scope_name):
        return _resnet(builder, images, num_classes, is_training, global_pool,
                       output_stride, spatial_squeeze, reuse, scope)
    net.__name__ = scope_name
    net.__qualname__ = scope_name
    version = 'v1 (post-activation)' if 'v1' in scope_name else 'v2 (pre-activation)'
    net.__doc__ = f'Slim ResNet {version}, {scope_name.rsplit("_", 1)[1]} layers.'
    return net


def _slim_resnet_v1_tiny(inputs, num_classes=None, is_training=True, global_pool=True,
                         output_stride=None, reuse=None, scope='resnet_v1_tiny'):
    blocks = [slim_v1.resnet_v1_block('block1', base_depth=16, num_units=1, stride=2),
              slim_v1.resnet_v1_block('block2', base_depth=32, num_units=1, stride=2),
              slim_v1.resnet_v1_block('block3', base_depth=64, num_units=1, stride=1),
              slim_v1.resnet_v1_block('block4', base_depth=128, num_units=1, stride=1)]
    return slim_v1.resnet_v1(inputs, blocks, num_classes, is_training,
                             global_pool=global_pool, output_stride=output_stride,
                             include_root_block=True, reuse=reuse, scope=scope)


resnet_v1_50 = _make(slim_v1.resnet_v1_50, 'resnet_v1_50')
resnet_v1_101 = _make(slim_v1.resnet_v1_101, 'resnet_v1_101')
resnet_v1_152 = _make(slim_v1.resnet_v1_152, 'resnet_v1_152')
resnet_v1_tiny = _make(_slim_resnet_v1_tiny, 'resnet_v1_tiny')
resnet_v1_tiny.__doc__ = ('Slim ResNet v1 with one bottleneck unit per block (base depths '
                          '16-128, output stride 16): for CPU demos and tests; no official '
                          'checkpoint.')
resnet_v2_50 = _make(slim_v2.resnet_v2_50, 'resnet_v2_50')
resnet_v2_101 = _make(slim_v2.resnet_v2_101, 'resnet_v2_101')
resnet_v2_152 = _make(slim_v2.resnet_v2_152, 'resnet_v2_152')


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers the six official slim ResNets and resnet_v1_tiny."""
    for fn, arg_scope in ((resnet_v1_50, slim_v1.resnet_arg_scope),
                          (resnet_v1_101, slim_v1.resnet_arg_scope),
                          (resnet_v1_152, slim_v1.resnet_arg_scope),
                          (resnet_v1_tiny, slim_v1.resnet_arg_scope),
                          (resnet_v2_50, slim_v2.resnet_arg_scope),
                          (resnet_v2_101, slim_v2.resnet_arg_scope),
                          (resnet_v2_152, slim_v2.resnet_arg_scope)):
        name = fn.__name__
        v1 = name.startswith('resnet_v1')
        registry.backbone(
            name, fn, scope=name, arg_scope=arg_scope, default_image_size=224,
            preprocessing='vgg' if v1 else 'inception',
            input_range=(-123.68, 151.061) if v1 else (-1.0, 1.0),
            num_classes_official=1000 if v1 else 1001,
            classifier_scopes=[f'{name}/logits'], features_endpoint='global_pool',
            cam_endpoint=f'{name}/block4', native_logits_endpoint=f'{name}/logits')
