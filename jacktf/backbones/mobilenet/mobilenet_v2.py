"""MobileNet v2 (inverted residuals, linear bottlenecks) at the official multipliers."""

import tensorflow as tf

import jacktf
from jacktf.backbones.mobilenet import blocks
from jacktf.backbones.mobilenet.blocks import conv, expanded

SPEC = [
    conv(stride=2, num_outputs=32, kernel_size=[3, 3]),
    expanded(expansion_size=blocks.expand_input_by_factor(1, divisible_by=1), num_outputs=16),
    expanded(stride=2, num_outputs=24), expanded(num_outputs=24),
    expanded(stride=2, num_outputs=32), expanded(num_outputs=32), expanded(num_outputs=32),
    expanded(stride=2, num_outputs=64), expanded(num_outputs=64), expanded(num_outputs=64),
    expanded(num_outputs=64),
    expanded(num_outputs=96), expanded(num_outputs=96), expanded(num_outputs=96),
    expanded(stride=2, num_outputs=160), expanded(num_outputs=160),
    expanded(num_outputs=160),
    expanded(num_outputs=320),
    conv(stride=1, kernel_size=[1, 1], num_outputs=1280),
]


def mobilenet_v2(images, num_classes=1001, is_training=True, depth_multiplier=1.0,
                 finegrain_classification_mode=False, dropout_keep_prob=0.8, reuse=None,
                 scope='MobilenetV2', output_stride=None, use_explicit_padding=False):
    """Slim MobileNet v2; finegrain mode keeps the last layer at 1280 for multipliers < 1.

    ``output_stride`` and ``use_explicit_padding`` are the official options (see
    ``blocks.mobilenet_base``); they change no variable.
    """
    return blocks.mobilenet(
        images, SPEC, num_classes=num_classes, is_training=is_training,
        multiplier=depth_multiplier, default_activation=tf.nn.relu6,
        finegrain=finegrain_classification_mode and depth_multiplier < 1, reuse=reuse,
        scope=scope, dropout_keep_prob=dropout_keep_prob, output_stride=output_stride,
        use_explicit_padding=use_explicit_padding)


def mobilenet_v2_140(images, num_classes=1001, is_training=True, depth_multiplier=1.4,
                     finegrain_classification_mode=False, dropout_keep_prob=0.8, reuse=None,
                     scope='MobilenetV2', output_stride=None, use_explicit_padding=False):
    """Slim MobileNet v2, depth multiplier 1.4."""
    return mobilenet_v2(images, num_classes, is_training, depth_multiplier,
                        finegrain_classification_mode, dropout_keep_prob, reuse, scope,
                        output_stride, use_explicit_padding)


def mobilenet_v2_035(images, num_classes=1001, is_training=True, depth_multiplier=0.35,
                     finegrain_classification_mode=True, dropout_keep_prob=0.8, reuse=None,
                     scope='MobilenetV2', output_stride=None, use_explicit_padding=False):
    """Slim MobileNet v2, depth multiplier 0.35 (finegrain classification mode)."""
    return mobilenet_v2(images, num_classes, is_training, depth_multiplier,
                        finegrain_classification_mode, dropout_keep_prob, reuse, scope,
                        output_stride, use_explicit_padding)


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers mobilenet_v2, mobilenet_v2_140 and mobilenet_v2_035."""
    blocks.register(registry, (mobilenet_v2, mobilenet_v2_140, mobilenet_v2_035),
                    'MobilenetV2', 224, 'layer_19')
