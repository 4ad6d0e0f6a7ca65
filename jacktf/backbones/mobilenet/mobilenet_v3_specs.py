"""MobileNet v3's specs, as in research/slim's mobilenet_v3: the blocks (hard-swish,
squeeze-excite with hard-sigmoid gating, ``mbv3_op``, fused EdgeTPU blocks, the 1x1
pool) and the networks ``V3_LARGE``, ``V3_SMALL``, their minimalistic variants (no
squeeze-excite, no hard-swish, 3x3 kernels), ``V3_EDGETPU`` and the detection variants.
``mobilenet_v3`` builds them (and exports these names, as the official module does).
"""

import copy
import functools

import numpy as np
import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.mobilenet import conv_blocks as ops
from jacktf.backbones.mobilenet.spec import op

expand_input = ops.expand_input_by_factor

# Squeeze-excite with MobileNet v3's settings: hard-sigmoid gating, ReLU inside.
squeeze_excite = functools.partial(
    ops.squeeze_excite, squeeze_factor=4, inner_activation_fn=tf.nn.relu,
    gating_fn=lambda x: tf.nn.relu6(x + 3) * 0.16667)


def _se4(expansion_tensor, input_tensor):
    """Squeeze-excite as an ``expanded_conv`` expansion transform."""
    del input_tensor
    return squeeze_excite(expansion_tensor)


def hard_swish(x):
    with tf.compat.v1.name_scope('hard_swish'):
        return x * tf.nn.relu6(x + np.float32(3)) * np.float32(1. / 6.)


def reduce_to_1x1(input_tensor, default_size=7, **kwargs):
    """Average pool to 1x1: the whole (square) map, else a ``default_size`` kernel.

    Atrous and explicit-padding options the builder hands to every op do not apply to
    a VALID pool and are ignored.
    """
    kwargs.pop('rate', None)
    kwargs.pop('use_explicit_padding', None)
    h, w = input_tensor.shape.as_list()[1:3]
    k = [h, h] if h is not None and w == h else [default_size, default_size]
    return slim.avg_pool2d(input_tensor, kernel_size=k, **kwargs)


def mbv3_op(ef, n, k, s=1, act=tf.nn.relu, se=None, **kwargs):
    """One MobileNet v3 block: expansion ``ef``, ``n`` outputs, ``k``x``k`` depthwise."""
    return op(ops.expanded_conv, expansion_size=expand_input(ef), kernel_size=(k, k),
              stride=s, num_outputs=n, inner_activation_fn=act, expansion_transform=se,
              **kwargs)


def mbv3_fused(ef, n, k, s=1, **kwargs):
    """A fused block (EdgeTPU): a ``k``x``k`` expansion convolution, no depthwise."""
    expansion_fn = functools.partial(slim.conv2d, kernel_size=k, stride=s)
    return mbv3_op(ef, n, k=1, s=s, depthwise_location=None, expansion_fn=expansion_fn,
                   **kwargs)


mbv3_op_se = functools.partial(mbv3_op, se=_se4)

DEFAULTS = {
    (ops.expanded_conv,): dict(normalizer_fn=slim.batch_norm, residual=True),
    (slim.conv2d, slim.fully_connected, slim.separable_conv2d): {
        'normalizer_fn': slim.batch_norm, 'activation_fn': tf.nn.relu},
    (slim.batch_norm,): {'center': True, 'scale': True},
}

DEFAULTS_GROUP_NORM = {
    (ops.expanded_conv,): dict(normalizer_fn=slim.group_norm, residual=True),
    (slim.conv2d, slim.fully_connected, slim.separable_conv2d): {
        'normalizer_fn': slim.group_norm, 'activation_fn': tf.nn.relu},
    (slim.group_norm,): {'groups': 8},
}

V3_LARGE = dict(defaults=dict(DEFAULTS), spec=[
    op(slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3),
       activation_fn=hard_swish),
    mbv3_op(ef=1, n=16, k=3),
    mbv3_op(ef=4, n=24, k=3, s=2),
    mbv3_op(ef=3, n=24, k=3, s=1),
    mbv3_op_se(ef=3, n=40, k=5, s=2),
    mbv3_op_se(ef=3, n=40, k=5, s=1),
    mbv3_op_se(ef=3, n=40, k=5, s=1),
    mbv3_op(ef=6, n=80, k=3, s=2, act=hard_swish),
    mbv3_op(ef=2.5, n=80, k=3, s=1, act=hard_swish),
    mbv3_op(ef=184 / 80., n=80, k=3, s=1, act=hard_swish),
    mbv3_op(ef=184 / 80., n=80, k=3, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=160, k=5, s=2, act=hard_swish),
    mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
    op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=960,
       activation_fn=hard_swish),
    op(reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
    op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280, normalizer_fn=None,
       activation_fn=hard_swish),
])

V3_LARGE_MINIMALISTIC = dict(defaults=dict(DEFAULTS), spec=[
    op(slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3)),
    mbv3_op(ef=1, n=16, k=3),
    mbv3_op(ef=4, n=24, k=3, s=2),
    mbv3_op(ef=3, n=24, k=3, s=1),
    mbv3_op(ef=3, n=40, k=3, s=2),
    mbv3_op(ef=3, n=40, k=3, s=1),
    mbv3_op(ef=3, n=40, k=3, s=1),
    mbv3_op(ef=6, n=80, k=3, s=2),
    mbv3_op(ef=2.5, n=80, k=3, s=1),
    mbv3_op(ef=184 / 80., n=80, k=3, s=1),
    mbv3_op(ef=184 / 80., n=80, k=3, s=1),
    mbv3_op(ef=6, n=112, k=3, s=1),
    mbv3_op(ef=6, n=112, k=3, s=1),
    mbv3_op(ef=6, n=160, k=3, s=2),
    mbv3_op(ef=6, n=160, k=3, s=1),
    mbv3_op(ef=6, n=160, k=3, s=1),
    op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=960),
    op(reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
    op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280, normalizer_fn=None),
])

V3_SMALL = dict(defaults=dict(DEFAULTS), spec=[
    op(slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3),
       activation_fn=hard_swish),
    mbv3_op_se(ef=1, n=16, k=3, s=2),
    mbv3_op(ef=72. / 16, n=24, k=3, s=2),
    mbv3_op(ef=(88. / 24), n=24, k=3, s=1),
    mbv3_op_se(ef=4, n=40, k=5, s=2, act=hard_swish),
    mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=96, k=5, s=2, act=hard_swish),
    mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
    op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=576,
       activation_fn=hard_swish),
    op(reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
    op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1024, normalizer_fn=None,
       activation_fn=hard_swish),
])

V3_SMALL_MINIMALISTIC = dict(defaults=dict(DEFAULTS), spec=[
    op(slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3)),
    mbv3_op(ef=1, n=16, k=3, s=2),
    mbv3_op(ef=72. / 16, n=24, k=3, s=2),
    mbv3_op(ef=(88. / 24), n=24, k=3, s=1),
    mbv3_op(ef=4, n=40, k=3, s=2),
    mbv3_op(ef=6, n=40, k=3, s=1),
    mbv3_op(ef=6, n=40, k=3, s=1),
    mbv3_op(ef=3, n=48, k=3, s=1),
    mbv3_op(ef=3, n=48, k=3, s=1),
    mbv3_op(ef=6, n=96, k=3, s=2),
    mbv3_op(ef=6, n=96, k=3, s=1),
    mbv3_op(ef=6, n=96, k=3, s=1),
    op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=576),
    op(reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
    op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1024, normalizer_fn=None),
])

# EdgeTPU-friendly variant: fused convolutions instead of depthwise in early layers.
V3_EDGETPU = dict(defaults=dict(DEFAULTS), spec=[
    op(slim.conv2d, stride=2, num_outputs=32, kernel_size=(3, 3)),
    mbv3_fused(k=3, s=1, ef=1, n=16),
    mbv3_fused(k=3, s=2, ef=8, n=32),
    mbv3_fused(k=3, s=1, ef=4, n=32),
    mbv3_fused(k=3, s=1, ef=4, n=32),
    mbv3_fused(k=3, s=1, ef=4, n=32),
    mbv3_fused(k=3, s=2, ef=8, n=48),
    mbv3_fused(k=3, s=1, ef=4, n=48),
    mbv3_fused(k=3, s=1, ef=4, n=48),
    mbv3_fused(k=3, s=1, ef=4, n=48),
    mbv3_op(k=3, s=2, ef=8, n=96),
    mbv3_op(k=3, s=1, ef=4, n=96),
    mbv3_op(k=3, s=1, ef=4, n=96),
    mbv3_op(k=3, s=1, ef=4, n=96),
    mbv3_op(k=3, s=1, ef=8, n=96, residual=False),
    mbv3_op(k=3, s=1, ef=4, n=96),
    mbv3_op(k=3, s=1, ef=4, n=96),
    mbv3_op(k=3, s=1, ef=4, n=96),
    mbv3_op(k=5, s=2, ef=8, n=160),
    mbv3_op(k=5, s=1, ef=4, n=160),
    mbv3_op(k=5, s=1, ef=4, n=160),
    mbv3_op(k=5, s=1, ef=4, n=160),
    mbv3_op(k=3, s=1, ef=8, n=192),
    op(slim.conv2d, stride=1, num_outputs=1280, kernel_size=(1, 1)),
])


def _reduce_consecutive_layers(conv_defs, start_id, end_id, multiplier=0.5):
    """``conv_defs`` with the outputs of layers start_id..end_id (0-based) scaled."""
    defs = copy.deepcopy(conv_defs)
    for d in defs['spec'][start_id:end_id + 1]:
        d.params.update({'num_outputs': int(np.round(d.params['num_outputs'] * multiplier))})
    return defs


V3_LARGE_DETECTION = _reduce_consecutive_layers(V3_LARGE, 13, 16)
V3_SMALL_DETECTION = _reduce_consecutive_layers(V3_SMALL, 9, 12)
