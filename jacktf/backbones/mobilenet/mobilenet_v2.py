"""MobileNet v2 (inverted residuals, linear bottlenecks), as research/slim's mobilenet_v2.

``V2_DEF`` is the official spec; ``mobilenet`` builds it (inference mode unless under
``training_scope()``); ``mobilenet_v2_140``, ``mobilenet_v2_050`` and ``mobilenet_v2_035``
are the published multipliers (the last two in finegrain classification mode, keeping
1280 features). Checkpoint scope 'MobilenetV2', 1001 classes.
"""

import copy
import functools
import inspect

import tensorflow as tf
import tf_slim as slim

import jacktf
from jacktf.backbones.mobilenet import conv_blocks as ops
from jacktf.backbones.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor

V2_DEF = dict(
    defaults={
        # Batch norm is part of the architecture, so it is set here, not in the
        # training scope: a net built without any arg_scope has it.
        (slim.batch_norm,): {'center': True, 'scale': True},
        (slim.conv2d, slim.fully_connected, slim.separable_conv2d): {
            'normalizer_fn': slim.batch_norm, 'activation_fn': tf.nn.relu6},
        (ops.expanded_conv,): {
            'expansion_size': expand_input(6), 'split_expansion': 1,
            'normalizer_fn': slim.batch_norm, 'residual': True},
        (slim.conv2d, slim.separable_conv2d): {'padding': 'SAME'},
    },
    spec=[
        op(slim.conv2d, stride=2, num_outputs=32, kernel_size=[3, 3]),
        op(ops.expanded_conv, expansion_size=expand_input(1, divisible_by=1),
           num_outputs=16),
        op(ops.expanded_conv, stride=2, num_outputs=24),
        op(ops.expanded_conv, stride=1, num_outputs=24),
        op(ops.expanded_conv, stride=2, num_outputs=32),
        op(ops.expanded_conv, stride=1, num_outputs=32),
        op(ops.expanded_conv, stride=1, num_outputs=32),
        op(ops.expanded_conv, stride=2, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=2, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=320),
        op(slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280),
    ],
)


@slim.add_arg_scope
def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0, scope='MobilenetV2',
              conv_defs=None, finegrain_classification_mode=False, min_depth=None,
              divisible_by=None, activation_fn=None, **kwargs):
    """Slim MobileNet v2. Inference mode by default; use ``training_scope()`` to train.

    Args:
      input_tensor: [batch, height, width, 3].
      num_classes: classes; 0 or None returns the pooled features.
      depth_multiplier: scales every layer's depth.
      scope: variable scope.
      conv_defs: the spec (default ``V2_DEF``).
      finegrain_classification_mode: keep the last layer at 1280 for multipliers < 1.
      min_depth: every layer gets at least this many channels (if given).
      divisible_by: every layer's depth is a multiple of this (if given; default 8).
      activation_fn: activation instead of ReLU6.
      **kwargs: for ``mobilenet.mobilenet``: prediction_fn, reuse, base_only,
        final_endpoint, output_stride, use_explicit_padding, is_training,
        use_reduce_mean_for_pooling.

    Returns:
      (logits, end_points).

    Raises:
      ValueError: a generic ``multiplier`` argument, or invalid options.
    """
    if conv_defs is None:
        conv_defs = V2_DEF
    if 'multiplier' in kwargs:
        raise ValueError('mobilenetv2 doesn\'t support generic multiplier parameter use '
                         '"depth_multiplier" instead.')
    if finegrain_classification_mode:
        conv_defs = copy.deepcopy(conv_defs)
        if depth_multiplier < 1:
            conv_defs['spec'][-1].params['num_outputs'] /= depth_multiplier
    if activation_fn:
        conv_defs = copy.deepcopy(conv_defs)
        defaults = conv_defs['defaults']
        defaults[(slim.conv2d, slim.fully_connected, slim.separable_conv2d)][
            'activation_fn'] = activation_fn
    depth_args = {}
    # Only what is given, so an outer arg_scope on depth_multiplier still applies.
    if min_depth is not None:
        depth_args['min_depth'] = min_depth
    if divisible_by is not None:
        depth_args['divisible_by'] = divisible_by
    with slim.arg_scope((lib.depth_multiplier,), **depth_args):
        return lib.mobilenet(input_tensor, num_classes=num_classes, conv_defs=conv_defs,
                             scope=scope, multiplier=depth_multiplier, **kwargs)


mobilenet.default_image_size = 224


def wrapped_partial(func, *args, **kwargs):
    """``functools.partial`` that keeps ``func``'s name and docstring."""
    partial_func = functools.partial(func, *args, **kwargs)
    functools.update_wrapper(partial_func, func)
    return partial_func


def with_defaults(func, name, doc, **defaults):
    """``func`` under ``name`` with other defaults: a named function gin can configure.

    The official code uses ``functools.partial``; a function keeps a name and a
    signature (showing the new defaults) for gin and for error messages.
    """
    signature = inspect.signature(func)

    def net(*args, **kwargs):
        return func(*args, **dict(defaults, **kwargs))
    net.__name__ = net.__qualname__ = name
    net.__doc__ = doc
    net.__signature__ = signature.replace(parameters=[
        p.replace(default=defaults[p.name]) if p.name in defaults else p
        for p in signature.parameters.values()])
    net.default_image_size = getattr(func, 'default_image_size', 224)
    return net


mobilenet_v2_140 = with_defaults(mobilenet, 'mobilenet_v2_140',
                                 'Slim MobileNet v2, depth 1.4.', depth_multiplier=1.4)
mobilenet_v2_050 = with_defaults(
    mobilenet, 'mobilenet_v2_050', 'Slim MobileNet v2, depth 0.5 (finegrain classification mode).',
    depth_multiplier=0.50, finegrain_classification_mode=True)
mobilenet_v2_035 = with_defaults(
    mobilenet, 'mobilenet_v2_035', 'Slim MobileNet v2, depth 0.35 (finegrain classification mode).',
    depth_multiplier=0.35, finegrain_classification_mode=True)


@slim.add_arg_scope
def mobilenet_base(input_tensor, depth_multiplier=1.0, **kwargs):
    """MobileNet v2 without pooling and logits (``final_endpoint`` stops earlier)."""
    return mobilenet(input_tensor, depth_multiplier=depth_multiplier, base_only=True,
                     **kwargs)


def training_scope(**kwargs):
    """The MobileNet v2 training arg_scope (``mobilenet.training_scope``'s options)."""
    return lib.training_scope(**kwargs)


__all__ = ['training_scope', 'mobilenet_base', 'mobilenet', 'V2_DEF']


# Options the official functions pass on to mobilenet.mobilenet(_base) through **kwargs.
_PASSED_ON = ('prediction_fn', 'reuse', 'base_only', 'use_reduce_mean_for_pooling',
              'final_endpoint', 'output_stride', 'use_explicit_padding', 'is_training')


def registered(func, name, doc, **defaults):
    """``with_defaults`` whose signature lists the passed-on options instead of **kwargs.

    gin checks bindings against it, so ``mobilenet_v2.output_strid = 16`` is refused
    when the recipe is read rather than when the net is built.
    """
    net = with_defaults(func, name, doc, **defaults)
    params = [p for p in net.__signature__.parameters.values()
              if p.kind != inspect.Parameter.VAR_KEYWORD]
    known = {p.name for p in params}
    for source in (lib.mobilenet, lib.mobilenet_base):
        for p in inspect.signature(source).parameters.values():
            if p.name in _PASSED_ON and p.name not in known:
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
                known.add(p.name)
    net.__signature__ = net.__signature__.replace(parameters=params)
    return net


def register(registry, fns, scope, cam_endpoint):
    """Registers MobileNet functions with their card (shared with mobilenet_v3)."""
    for name, fn in fns:
        registry.backbone(name, fn, scope=scope, arg_scope=lib.training_scope,
                          default_image_size=224, preprocessing='inception',
                          num_classes_official=1001, classifier_scopes=[f'{scope}/Logits'],
                          features_endpoint='global_pool', cam_endpoint=cam_endpoint,
                          native_logits_endpoint='Logits')


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers mobilenet_v2 and its 1.4, 0.5 and 0.35 multipliers."""
    register(registry, [
        (name, registered(mobilenet, name, doc, **defaults)) for name, doc, defaults in (
            ('mobilenet_v2', 'Slim MobileNet v2.', {}),
            ('mobilenet_v2_140', mobilenet_v2_140.__doc__, {'depth_multiplier': 1.4}),
            ('mobilenet_v2_050', mobilenet_v2_050.__doc__,
             {'depth_multiplier': 0.5, 'finegrain_classification_mode': True}),
            ('mobilenet_v2_035', mobilenet_v2_035.__doc__,
             {'depth_multiplier': 0.35, 'finegrain_classification_mode': True}))],
        'MobilenetV2', 'layer_19')
