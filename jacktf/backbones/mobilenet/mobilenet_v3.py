"""MobileNet v3 (hard-swish, squeeze-excite), as research/slim's mobilenet_v3.

Specs ``V3_LARGE``, ``V3_SMALL``, their minimalistic variants (no squeeze-excite, no
hard-swish, 3x3 kernels), ``V3_EDGETPU`` and the detection variants; ``mobilenet``
builds any of them (default large; inference mode unless under ``training_scope()``),
``use_groupnorm`` swaps batch norm for group norm. ``large``, ``small``, ``edge_tpu``,
... are the official shortcuts. Checkpoint scope 'MobilenetV3', 1001 classes.
"""

import copy
import functools

import numpy as np
import tensorflow as tf
import tf_slim as slim

import jacktf
from jacktf.backbones.mobilenet import conv_blocks as ops
from jacktf.backbones.mobilenet import mobilenet as lib
from jacktf.backbones.mobilenet.mobilenet_v2 import register, registered, with_defaults

op = lib.op
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


@slim.add_arg_scope
def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0, scope='MobilenetV3',
              conv_defs=None, finegrain_classification_mode=False, use_groupnorm=False,
              min_depth=None, divisible_by=None, **kwargs):
    """Slim MobileNet v3. Inference mode is created by default; use ``training_scope()``.

    Args:
      input_tensor: [batch, height, width, 3].
      num_classes: classes; 0 or None returns the pooled features.
      depth_multiplier: scales every layer's depth.
      scope: variable scope.
      conv_defs: the spec (default ``V3_LARGE``).
      finegrain_classification_mode: the last layer keeps its depth for any multiplier.
      use_groupnorm: group norm (``groups`` in kwargs, default 8) instead of batch norm.
      min_depth: every layer gets at least this many channels (if given).
      divisible_by: every layer's depth is a multiple of this (if given; default 8).
      **kwargs: for ``mobilenet.mobilenet``: prediction_fn, reuse, base_only,
        final_endpoint, output_stride, use_explicit_padding, is_training,
        use_reduce_mean_for_pooling.

    Returns:
      (logits, end_points).

    Raises:
      ValueError: a generic ``multiplier`` argument, or invalid options.
    """
    if conv_defs is None:
        conv_defs = V3_LARGE
    if 'multiplier' in kwargs:
        raise ValueError('mobilenetv2 doesn\'t support generic multiplier parameter use '
                         '"depth_multiplier" instead.')
    if finegrain_classification_mode:
        conv_defs = copy.deepcopy(conv_defs)
        conv_defs['spec'][-1] = conv_defs['spec'][-1]._replace(
            multiplier_func=lambda params, multiplier: params)
    groups = kwargs.pop('groups', 8)
    if use_groupnorm:
        conv_defs = copy.deepcopy(conv_defs)
        conv_defs['defaults'] = dict(DEFAULTS_GROUP_NORM)
        conv_defs['defaults'][(slim.group_norm,)] = {'groups': groups}
    depth_args = {}
    if min_depth is not None:
        depth_args['min_depth'] = min_depth
    if divisible_by is not None:
        depth_args['divisible_by'] = divisible_by
    with slim.arg_scope((lib.depth_multiplier,), **depth_args):
        return lib.mobilenet(input_tensor, num_classes=num_classes, conv_defs=conv_defs,
                             scope=scope, multiplier=depth_multiplier, **kwargs)


mobilenet.default_image_size = 224
training_scope = lib.training_scope


@slim.add_arg_scope
def mobilenet_base(input_tensor, depth_multiplier=1.0, **kwargs):
    """MobileNet v3 without pooling and logits (``final_endpoint`` stops earlier)."""
    return mobilenet(input_tensor, depth_multiplier=depth_multiplier, base_only=True,
                     **kwargs)


def wrapped_partial(func, new_defaults=None, **kwargs):
    """``functools.partial`` with new defaults, keeping ``func``'s name and docstring."""
    new_defaults = dict(new_defaults or {})

    def func_wrapper(*f_args, **f_kwargs):
        return func(*f_args, **dict(new_defaults, **f_kwargs))
    functools.update_wrapper(func_wrapper, func)
    partial_func = functools.partial(func_wrapper, **kwargs)
    functools.update_wrapper(partial_func, func)
    return partial_func


_DOC = mobilenet.__doc__
large = with_defaults(mobilenet, 'large', _DOC, conv_defs=V3_LARGE)
small = with_defaults(mobilenet, 'small', _DOC, conv_defs=V3_SMALL)
edge_tpu = with_defaults(mobilenet, 'edge_tpu', _DOC, conv_defs=V3_EDGETPU,
                         scope='MobilenetEdgeTPU')
edge_tpu_075 = with_defaults(mobilenet, 'edge_tpu_075', _DOC, conv_defs=V3_EDGETPU,
                             scope='MobilenetEdgeTPU', depth_multiplier=0.75,
                             finegrain_classification_mode=True)
# No squeeze-excite, no hard-swish, no 5x5 depthwise: friendly to most hardware.
large_minimalistic = with_defaults(mobilenet, 'large_minimalistic', _DOC,
                                   conv_defs=V3_LARGE_MINIMALISTIC)
small_minimalistic = with_defaults(mobilenet, 'small_minimalistic', _DOC,
                                   conv_defs=V3_SMALL_MINIMALISTIC)


def _reduce_consecutive_layers(conv_defs, start_id, end_id, multiplier=0.5):
    """``conv_defs`` with the outputs of layers start_id..end_id (0-based) scaled."""
    defs = copy.deepcopy(conv_defs)
    for d in defs['spec'][start_id:end_id + 1]:
        d.params.update({'num_outputs': int(np.round(d.params['num_outputs'] * multiplier))})
    return defs


V3_LARGE_DETECTION = _reduce_consecutive_layers(V3_LARGE, 13, 16)
V3_SMALL_DETECTION = _reduce_consecutive_layers(V3_SMALL, 9, 12)

__all__ = ['training_scope', 'mobilenet', 'V3_LARGE', 'V3_SMALL', 'large', 'small',
           'V3_LARGE_DETECTION', 'V3_SMALL_DETECTION']


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers mobilenet_v3_large and mobilenet_v3_small."""
    register(registry, [('mobilenet_v3_large', registered(
        mobilenet, 'mobilenet_v3_large', 'Slim MobileNet v3 large.', conv_defs=V3_LARGE))],
        'MobilenetV3', 'layer_17')
    register(registry, [('mobilenet_v3_small', registered(
        mobilenet, 'mobilenet_v3_small', 'Slim MobileNet v3 small.', conv_defs=V3_SMALL))],
        'MobilenetV3', 'layer_13')
