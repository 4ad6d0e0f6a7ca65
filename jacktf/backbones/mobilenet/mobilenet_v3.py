"""MobileNet v3 (hard-swish, squeeze-excite), as research/slim's mobilenet_v3.

Specs ``V3_LARGE``, ``V3_SMALL``, their minimalistic variants (no squeeze-excite, no
hard-swish, 3x3 kernels), ``V3_EDGETPU`` and the detection variants; ``mobilenet``
builds any of them (default large; inference mode unless under ``training_scope()``),
``use_groupnorm`` swaps batch norm for group norm. ``large``, ``small``, ``edge_tpu``,
... are the official shortcuts. Checkpoint scope 'MobilenetV3', 1001 classes. The specs
and their blocks live in ``mobilenet_v3_specs`` and are importable from here.
"""

import copy
import functools

import tf_slim as slim

import jacktf
from jacktf.backbones.mobilenet import mobilenet as lib
from jacktf.backbones.mobilenet.mobilenet_v2 import register, registered, with_defaults
from jacktf.backbones.mobilenet.mobilenet_v3_specs import (  # noqa: F401  (official names)
    DEFAULTS, DEFAULTS_GROUP_NORM, V3_EDGETPU, V3_LARGE, V3_LARGE_DETECTION,
    V3_LARGE_MINIMALISTIC, V3_SMALL, V3_SMALL_DETECTION, V3_SMALL_MINIMALISTIC, _se4,
    _reduce_consecutive_layers, expand_input, hard_swish, mbv3_fused, mbv3_op, mbv3_op_se,
    op, reduce_to_1x1, squeeze_excite)


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
