"""Convolution blocks of the slim MobileNets, as research/slim's nets/mobilenet/conv_blocks.

``expanded_conv`` is the inverted-residual block of MobileNet v2/v3 (1x1 expansion,
depthwise convolution, optional expansion transform such as squeeze-excite, linear 1x1
projection, residual), ``squeeze_excite`` MobileNet v3's channel gating, and
``split_separable_conv2d`` the MobileNet v1 block. Every function takes the options of
the official one, with the same defaults and variable names; the intermediate tensors
named ``*output`` are registered with ``mobilenet.named_output`` so the builder can list
them as end_points in eager mode too.
"""

import contextlib
import functools

import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.mobilenet.spec import make_divisible, named_output
from jacktf.backbones.slim_common import fixed_padding

_make_divisible = make_divisible  # the official private name
_fixed_padding = fixed_padding


def _split_divisible(num, num_ways, divisible_by=8):
    """Splits ``num`` into ``num_ways`` parts, each a multiple of ``divisible_by``."""
    if num % divisible_by or num / num_ways < divisible_by:
        raise ValueError(f'Cannot split {num} channels {num_ways} ways into multiples of '
                         f'{divisible_by}.')
    base = num // num_ways // divisible_by * divisible_by
    parts, total = [], 0
    for i in range(num_ways):
        part = base
        while total + part < num * (i + 1) / num_ways:
            part += divisible_by
        parts.append(part)
        total += part
    if total != num:
        raise ValueError(f'Split of {num} into {parts} does not add up.')
    return parts


@contextlib.contextmanager
def _v1_compatible_scope_naming(scope):
    if scope is None:  # a fresh, uniquified 'separable' scope
        with tf.compat.v1.variable_scope(None, default_name='separable') as s, \
                tf.compat.v1.name_scope(s.original_name_scope):
            yield ''
    else:  # '<scope>_depthwise' and '<scope>_pointwise', as MobileNet v1 checkpoints
        yield scope + '_'


@slim.add_arg_scope
def split_separable_conv2d(input_tensor, num_outputs, scope=None, normalizer_fn=None,
                           stride=1, rate=1, endpoints=None, use_explicit_padding=False):
    """MobileNet v1's separable convolution: 3x3 depthwise then 1x1 pointwise.

    Unlike ``slim.separable_conv2d`` both halves get the normalizer and activation.
    Returns the pointwise output; ``endpoints`` (a dict) receives both halves.
    """
    with _v1_compatible_scope_naming(scope) as prefix:
        endpoints = endpoints if endpoints is not None else {}
        kernel_size = [3, 3]
        padding = 'SAME'
        if use_explicit_padding:
            padding = 'VALID'
            input_tensor = fixed_padding(input_tensor, kernel_size, rate)
        dw_scope = prefix + 'depthwise'
        net = slim.separable_conv2d(input_tensor, None, kernel_size, depth_multiplier=1,
                                    stride=stride, rate=rate, normalizer_fn=normalizer_fn,
                                    padding=padding, scope=dw_scope)
        endpoints[dw_scope] = net
        pw_scope = prefix + 'pointwise'
        net = slim.conv2d(net, num_outputs, [1, 1], stride=1, normalizer_fn=normalizer_fn,
                          scope=pw_scope)
        endpoints[pw_scope] = net
    return net


def expand_input_by_factor(n, divisible_by=8):
    """An ``expansion_size`` callable: input depth times ``n``, rounded (slim)."""
    return lambda num_inputs, **_: make_divisible(num_inputs * n, divisible_by)


def split_conv(input_tensor, num_outputs, num_ways, scope, divisible_by=8, **kwargs):
    """A 1x1 convolution split ``num_ways`` into independent groups of channels.

    No split happens when a group would get fewer than ``divisible_by`` channels.
    """
    depth = input_tensor.get_shape().as_list()[3]
    if num_ways == 1 or min(depth // num_ways, num_outputs // num_ways) < divisible_by:
        return slim.conv2d(input_tensor, num_outputs, [1, 1], scope=scope, **kwargs)
    outs = []
    input_splits = _split_divisible(depth, num_ways, divisible_by=divisible_by)
    output_splits = _split_divisible(num_outputs, num_ways, divisible_by=divisible_by)
    inputs = tf.split(input_tensor, input_splits, axis=3, name='split_' + scope)
    part_scope = scope
    for i, (part, size) in enumerate(zip(inputs, output_splits)):
        part_scope = f'{scope}_part_{i}'
        out = slim.conv2d(part, size, [1, 1], scope=part_scope, **kwargs)
        outs.append(named_output(out, part_scope + '_output'))
    return tf.concat(outs, 3, name=part_scope + '_concat')


@slim.add_arg_scope
def expanded_conv(input_tensor, num_outputs, expansion_size=expand_input_by_factor(6),
                  stride=1, rate=1, kernel_size=(3, 3), residual=True, normalizer_fn=None,
                  split_projection=1, split_expansion=1, split_divisible_by=8,
                  expansion_transform=None, depthwise_location='expansion',
                  depthwise_channel_multiplier=1, endpoints=None,
                  use_explicit_padding=False, padding='SAME', inner_activation_fn=None,
                  depthwise_activation_fn=None, project_activation_fn=tf.identity,
                  depthwise_fn=slim.separable_conv2d, expansion_fn=split_conv,
                  projection_fn=split_conv, scope=None):
    """Inverted residual: 1x1 expansion -> depthwise -> linear 1x1 projection (+ input).

    Args:
      input_tensor: [N, H, W, C] input.
      num_outputs: depth of the projection.
      expansion_size: inner depth, or a callable of ``num_inputs`` (default 6x).
      stride: depthwise stride.
      rate: depthwise dilation rate.
      kernel_size: depthwise kernel.
      residual: add the input when shapes allow; a callable
        ``residual(input_tensor=, output_tensor=)`` replaces the addition.
      normalizer_fn: normalizer of the three convolutions (batch norm in the specs).
      split_projection: groups of the projection (split_conv).
      split_expansion: groups of the expansion (split_conv).
      split_divisible_by: every group's depth is a multiple of this.
      expansion_transform: optional ``fn(expansion_tensor=, input_tensor=)`` applied
        after the depthwise convolution (MobileNet v3's squeeze-excite).
      depthwise_location: 'expansion' (default), 'input', 'output' or None.
      depthwise_channel_multiplier: channel multiplier of the depthwise convolution.
      endpoints: optional dict receiving 'expansion_output', 'depthwise_output' and
        'projection_output'.
      use_explicit_padding: pad symmetrically and run VALID, giving SAME's sizes.
      padding: padding when ``use_explicit_padding`` is False ('SAME' only with it).
      inner_activation_fn: activation of the expansion and depthwise convolutions;
        None keeps the arg_scope's.
      depthwise_activation_fn: activation of the depthwise convolution only.
      project_activation_fn: activation of the projection (linear by default).
      depthwise_fn: the depthwise convolution function.
      expansion_fn: the expansion function (split options apply to split_conv only).
      projection_fn: the projection function (split options apply to split_conv only).
      scope: variable scope; default 'expanded_conv', uniquified.

    Returns:
      [N, H / stride, W / stride, num_outputs].

    Raises:
      TypeError: unknown ``depthwise_location`` or explicit padding with non-SAME padding.
    """
    conv_defaults, dw_defaults = {}, {}
    if inner_activation_fn is not None:
        conv_defaults['activation_fn'] = inner_activation_fn
        dw_defaults['activation_fn'] = inner_activation_fn
    if depthwise_activation_fn is not None:
        dw_defaults['activation_fn'] = depthwise_activation_fn
    with tf.compat.v1.variable_scope(scope, default_name='expanded_conv') as s, \
            tf.compat.v1.name_scope(s.original_name_scope), \
            slim.arg_scope((slim.conv2d,), **conv_defaults), \
            slim.arg_scope((slim.separable_conv2d,), **dw_defaults):
        prev_depth = input_tensor.get_shape().as_list()[3]
        if depthwise_location not in (None, 'input', 'output', 'expansion'):
            raise TypeError(f'{depthwise_location!r} is unknown value for '
                            'depthwise_location')
        if use_explicit_padding:
            if padding != 'SAME':
                raise TypeError('`use_explicit_padding` should only be used with "SAME" '
                                'padding.')
            padding = 'VALID'
        depthwise = functools.partial(
            depthwise_fn, num_outputs=None, kernel_size=kernel_size,
            depth_multiplier=depthwise_channel_multiplier, stride=stride, rate=rate,
            normalizer_fn=normalizer_fn, padding=padding, scope='depthwise')

        def run_depthwise(net, **kwargs):
            if use_explicit_padding:
                net = fixed_padding(net, kernel_size, rate)
            net = named_output(depthwise(net, **kwargs), 'depthwise_output')
            if endpoints is not None:
                endpoints['depthwise_output'] = net
            return net

        input_tensor = tf.identity(input_tensor, 'input')
        net = input_tensor
        if depthwise_location == 'input':
            net = run_depthwise(net, activation_fn=None)
        inner_size = (expansion_size(num_inputs=prev_depth) if callable(expansion_size)
                      else expansion_size)
        if inner_size > net.shape[3]:
            expand = expansion_fn
            if expand == split_conv:
                expand = functools.partial(split_conv, num_ways=split_expansion,
                                           divisible_by=split_divisible_by, stride=1)
            net = expand(net, inner_size, scope='expand', normalizer_fn=normalizer_fn)
            net = named_output(net, 'expansion_output')
            if endpoints is not None:
                endpoints['expansion_output'] = net
        if depthwise_location == 'expansion':
            net = run_depthwise(net)
        if expansion_transform:
            net = expansion_transform(expansion_tensor=net, input_tensor=input_tensor)
        project = projection_fn
        if project == split_conv:
            project = functools.partial(split_conv, num_ways=split_projection,
                                        divisible_by=split_divisible_by, stride=1)
        net = project(net, num_outputs, scope='project', normalizer_fn=normalizer_fn,
                      activation_fn=project_activation_fn)
        if endpoints is not None:
            endpoints['projection_output'] = net
        if depthwise_location == 'output':
            net = run_depthwise(net, activation_fn=None)
        if callable(residual):
            net = residual(input_tensor=input_tensor, output_tensor=net)
        elif (residual and stride == 1 and
              net.get_shape().as_list()[3] == input_tensor.get_shape().as_list()[3]):
            net += input_tensor
        return named_output(net, 'output')


@slim.add_arg_scope
def squeeze_excite(input_tensor, divisible_by=8, squeeze_factor=3,
                   inner_activation_fn=tf.nn.relu, gating_fn=tf.sigmoid,
                   squeeze_input_tensor=None, pool=None):
    """Squeeze-excite gating: ``input_tensor * gate(mean of squeeze_input_tensor)``.

    The squeeze is an average pool over the whole (static) feature map, or a mean over
    height and width when they are unknown; ``pool`` (an int) pools with that kernel
    and stride instead and resizes the gate back bilinearly.
    """
    with tf.compat.v1.variable_scope('squeeze_excite'):
        if squeeze_input_tensor is None:
            squeeze_input_tensor = input_tensor
        input_size = input_tensor.shape.as_list()[1:3]
        pool_height, pool_width = squeeze_input_tensor.shape.as_list()[1:3]
        stride = 1
        if pool is not None and pool_height is not None and pool_height >= pool:
            pool_height, pool_width, stride = pool, pool, pool
        input_channels = squeeze_input_tensor.shape.as_list()[3]
        output_channels = input_tensor.shape.as_list()[3]
        squeeze_channels = make_divisible(input_channels / squeeze_factor,
                                          divisor=divisible_by)
        if pool_height is None or pool_width is None:
            pooled = tf.reduce_mean(squeeze_input_tensor, axis=[1, 2], keepdims=True)
        else:
            pooled = tf.nn.avg_pool2d(squeeze_input_tensor, (1, pool_height, pool_width, 1),
                                      strides=(1, stride, stride, 1), padding='VALID')
        squeeze = slim.conv2d(pooled, kernel_size=(1, 1), num_outputs=squeeze_channels,
                              normalizer_fn=None, activation_fn=inner_activation_fn)
        excite = slim.conv2d(squeeze, num_outputs=output_channels, kernel_size=[1, 1],
                             normalizer_fn=None, activation_fn=gating_fn)
        if pool is not None:
            excite = tf.compat.v1.image.resize_bilinear(excite, input_size,
                                                        align_corners=True)
        return input_tensor * excite
