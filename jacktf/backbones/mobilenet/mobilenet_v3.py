"""MobileNet v3 large and small: hard-swish, squeeze-excite (hard-sigmoid gating)."""

import tensorflow as tf

import jacktf
from jacktf.backbones.mobilenet import blocks
from jacktf.backbones.mobilenet.blocks import conv, expanded, pool_to_1x1

HS = blocks.hard_swish


def _mb(ef, n, k, s=1, act=tf.nn.relu, se=False):
    return expanded(expansion_size=blocks.expand_input_by_factor(ef), num_outputs=n,
                    kernel_size=(k, k), stride=s, inner_activation_fn=act,
                    squeeze_excite_block=se)


LARGE = [
    conv(stride=2, num_outputs=16, kernel_size=[3, 3], activation_fn=HS),
    _mb(1, 16, 3), _mb(4, 24, 3, 2), _mb(3, 24, 3),
    _mb(3, 40, 5, 2, se=True), _mb(3, 40, 5, se=True), _mb(3, 40, 5, se=True),
    _mb(6, 80, 3, 2, HS), _mb(2.5, 80, 3, 1, HS), _mb(184 / 80., 80, 3, 1, HS),
    _mb(184 / 80., 80, 3, 1, HS),
    _mb(6, 112, 3, 1, HS, True), _mb(6, 112, 3, 1, HS, True),
    _mb(6, 160, 5, 2, HS, True), _mb(6, 160, 5, 1, HS, True), _mb(6, 160, 5, 1, HS, True),
    conv(stride=1, kernel_size=[1, 1], num_outputs=960, activation_fn=HS),
    pool_to_1x1(default_size=7),
    conv(stride=1, kernel_size=[1, 1], num_outputs=1280, normalizer_fn=None,
         activation_fn=HS),
]

SMALL = [
    conv(stride=2, num_outputs=16, kernel_size=[3, 3], activation_fn=HS),
    _mb(1, 16, 3, 2, se=True), _mb(72. / 16, 24, 3, 2), _mb(88. / 24, 24, 3, 1),
    _mb(4, 40, 5, 2, HS, True), _mb(6, 40, 5, 1, HS, True), _mb(6, 40, 5, 1, HS, True),
    _mb(3, 48, 5, 1, HS, True), _mb(3, 48, 5, 1, HS, True),
    _mb(6, 96, 5, 2, HS, True), _mb(6, 96, 5, 1, HS, True), _mb(6, 96, 5, 1, HS, True),
    conv(stride=1, kernel_size=[1, 1], num_outputs=576, activation_fn=HS),
    pool_to_1x1(default_size=7),
    conv(stride=1, kernel_size=[1, 1], num_outputs=1024, normalizer_fn=None,
         activation_fn=HS),
]


def _variant(spec, name, doc):
    def net(images, num_classes=1001, is_training=True, depth_multiplier=1.0,
            finegrain_classification_mode=False, dropout_keep_prob=0.8, reuse=None,
            scope='MobilenetV3', output_stride=None, use_explicit_padding=False):
        return blocks.mobilenet(images, spec, num_classes=num_classes,
                                is_training=is_training, multiplier=depth_multiplier,
                                default_activation=tf.nn.relu,
                                finegrain=finegrain_classification_mode, reuse=reuse,
                                scope=scope, dropout_keep_prob=dropout_keep_prob,
                                output_stride=output_stride,
                                use_explicit_padding=use_explicit_padding)
    net.__name__ = net.__qualname__ = name
    net.__doc__ = doc
    return net


_OPTIONS = (' ``output_stride`` and ``use_explicit_padding`` as in '
            '``blocks.mobilenet_base``.')
mobilenet_v3_large = _variant(LARGE, 'mobilenet_v3_large',
                              'Slim MobileNet v3 large.' + _OPTIONS)
mobilenet_v3_small = _variant(SMALL, 'mobilenet_v3_small',
                              'Slim MobileNet v3 small.' + _OPTIONS)


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers mobilenet_v3_large and mobilenet_v3_small."""
    blocks.register(registry, (mobilenet_v3_large,), 'MobilenetV3', 224, 'layer_17')
    blocks.register(registry, (mobilenet_v3_small,), 'MobilenetV3', 224, 'layer_13')
