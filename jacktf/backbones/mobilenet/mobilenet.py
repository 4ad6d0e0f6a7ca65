"""The spec-driven MobileNet builder, as research/slim's nets/mobilenet/mobilenet.py.

A network is a ``conv_defs`` dict: ``spec``, a list of ``op(function, **params)``;
``defaults``, arg_scope defaults that belong to the architecture (batch norm with
center and scale after every convolution, activations, padding), applied by
``mobilenet_base`` itself so a net built without any arg_scope is the published one;
and optional ``overrides``. ``mobilenet_base`` scales every op's ``num_outputs`` with
the op's ``multiplier_func`` (``depth_multiplier``: rounded to ``divisible_by``, at
least ``min_depth``, both settable through ``slim.arg_scope([depth_multiplier])``),
turns strides into atrous rates past ``output_stride``, and stops at
``final_endpoint``. ``mobilenet`` adds the global pool and the 1x1-convolution logits.
Inference mode is the default; ``training_scope()`` sets up training.

End_points are ``layer_<i>`` for every op (1-based), then ``layer_<i>/<name>`` for the
intermediate tensors the blocks name ``*output`` (``expansion_output``,
``depthwise_output``, ``output``), in creation order, in graph and in eager mode.

The pieces specs are written with (``op``, ``depth_multiplier``, ``make_divisible``,
``safe_arg_scope``, ``named_output``, ...) live in ``spec`` and are importable from here,
as from the official module.
"""

import contextlib
import copy
import inspect

import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.mobilenet.spec import (  # noqa: F401  (the official module's names)
    NoOpScope, _collecting_outputs, _current, _make_divisible, _Op,
    _set_arg_scope_defaults, apply_activation, depth_multiplier, make_divisible,
    named_output, op, safe_arg_scope)
from jacktf.backbones.slim_common import fixed_padding

_fixed_padding = fixed_padding  # the official private name


def _takes(fn, name):
    """Whether ``fn`` has a parameter ``name``."""
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@contextlib.contextmanager
def _scope_all(scope, default_scope=None):
    with tf.compat.v1.variable_scope(scope, default_name=default_scope) as s, \
            tf.compat.v1.name_scope(s.original_name_scope):
        yield s


@slim.add_arg_scope
def mobilenet_base(inputs, conv_defs, multiplier=1.0, final_endpoint=None,
                   output_stride=None, use_explicit_padding=False, scope=None,
                   is_training=False):
    """MobileNet from ``inputs`` to ``final_endpoint`` (default: the whole spec).

    Args:
      inputs: [batch, height, width, channels]; height and width may be unknown.
      conv_defs: the network, a dict with 'spec' and optional 'defaults'/'overrides'.
      multiplier: depth multiplier of every op (> 0).
      final_endpoint: 'layer_<i>' to stop after; None builds every op.
      output_stride: None, 1 or an even number: once the running stride reaches it,
        later strides become atrous rates (same variables, finer maps).
      use_explicit_padding: pad symmetrically and run convolutions VALID, giving
        SAME's output sizes.
      scope: variable scope (default 'Mobilenet', uniquified).
      is_training: batch-norm mode; None leaves it to the arg_scope.

    Returns:
      (net, end_points).

    Raises:
      ValueError: ``multiplier`` <= 0 or an invalid ``output_stride``.
    """
    if multiplier <= 0:
        raise ValueError('multiplier is not greater than zero.')
    defaults = conv_defs.get('defaults', {})
    overrides = conv_defs.get('overrides', {})
    if use_explicit_padding:
        overrides = copy.deepcopy(overrides)
        overrides[(slim.conv2d, slim.separable_conv2d)] = {'padding': 'VALID'}
    if output_stride is not None and (output_stride <= 0 or
                                      (output_stride > 1 and output_stride % 2)):
        raise ValueError(f'Output stride must be None, 1 or a multiple of 2, got '
                         f'{output_stride!r}.')
    with _scope_all(scope, default_scope='Mobilenet'), \
            safe_arg_scope([slim.batch_norm], is_training=is_training), \
            _set_arg_scope_defaults(defaults), \
            _set_arg_scope_defaults(overrides):
        current_stride, rate = 1, 1
        net = inputs
        end_points, inner = {}, []
        for i, opdef in enumerate(conv_defs['spec']):
            params = dict(opdef.params)
            opdef.multiplier_func(params, multiplier)
            stride = params.get('stride', 1)
            if output_stride is not None and current_stride == output_stride:
                layer_stride, layer_rate = 1, rate
                rate *= stride
            else:
                layer_stride, layer_rate = stride, 1
                current_stride *= stride
            params['stride'] = layer_stride
            if layer_rate > 1 and tuple(params.get('kernel_size', [])) != (1, 1):
                params['rate'] = layer_rate  # 1x1 convolutions need no dilation
            if use_explicit_padding:
                # Blocks that pad themselves (expanded_conv) are told to, also when
                # their params name a kernel (MobileNet v3): padding their 1x1
                # expansion's input instead would grow the map. Other ops with a
                # kernel get padded input.
                if 'kernel_size' in params and not _takes(opdef.op, 'use_explicit_padding'):
                    net = fixed_padding(net, params['kernel_size'], layer_rate)
                else:
                    params['use_explicit_padding'] = True
            if params.get('normalizer_fn') is not None:
                params['normalizer_fn'] = _current(params['normalizer_fn'])
            end_point = 'layer_%d' % (i + 1)
            with _collecting_outputs() as outputs:
                net = opdef.op(net, **params)
            end_points[end_point] = net
            inner.append((end_point, outputs))
            if final_endpoint is not None and end_point == final_endpoint:
                break
        for end_point, outputs in inner:
            for name, tensor in outputs:
                end_points[f'{end_point}/{name}'] = tensor
        return net, end_points


def global_pool(input_tensor, use_reduce_mean_for_pooling=False,
                pool_op=tf.nn.avg_pool2d):
    """Average over height and width: [N, H, W, C] -> [N, 1, 1, C].

    An average pool with the whole map as kernel (``pool_op``), or ``reduce_mean`` when
    asked or when the map's size is unknown.
    """
    if use_reduce_mean_for_pooling:
        return tf.reduce_mean(input_tensor, [1, 2], keepdims=True, name='ReduceMean')
    shape = input_tensor.get_shape().as_list()
    if shape[1] is None or shape[2] is None:
        output = tf.reduce_mean(input_tensor, [1, 2], keepdims=True, name='global_pool')
    else:
        output = pool_op(input_tensor, ksize=[1, shape[1], shape[2], 1],
                         strides=[1, 1, 1, 1], padding='VALID')
    output.set_shape([None, 1, 1, None])
    return output


@slim.add_arg_scope
def mobilenet(inputs, num_classes=1001, prediction_fn=slim.softmax, reuse=None,
              scope='Mobilenet', base_only=False, use_reduce_mean_for_pooling=False,
              **mobilenet_args):
    """MobileNet classifier: ``mobilenet_base``, global pool, dropout, 1x1-conv logits.

    Args:
      inputs: [batch, height, width, channels].
      num_classes: classes; 0 or None returns the pooled features (``global_pool``).
      prediction_fn: maps logits to ``end_points['Predictions']`` (None: none).
      reuse: reuse the variables of ``scope``.
      scope: variable scope.
      base_only: return ``mobilenet_base``'s output (no pooling, no logits).
      use_reduce_mean_for_pooling: global pool with ``reduce_mean``.
      **mobilenet_args: for ``mobilenet_base`` (conv_defs, multiplier, final_endpoint,
        output_stride, use_explicit_padding, is_training).

    Returns:
      (logits [batch, num_classes], end_points), or (features, end_points).

    Raises:
      ValueError: ``inputs`` is not of rank 4.
    """
    is_training = mobilenet_args.get('is_training', False)
    input_shape = inputs.get_shape().as_list()
    if len(input_shape) != 4:
        raise ValueError('Expected rank 4 input, was: %d' % len(input_shape))
    with tf.compat.v1.variable_scope(scope, 'Mobilenet', reuse=reuse) as scope:
        inputs = tf.identity(inputs, 'input')
        net, end_points = mobilenet_base(inputs, scope=scope, **mobilenet_args)
        if base_only:
            return net, end_points
        net = tf.identity(net, name='embedding')
        with tf.compat.v1.variable_scope('Logits'):
            net = global_pool(net, use_reduce_mean_for_pooling)
            end_points['global_pool'] = net
            if not num_classes:
                return net, end_points
            net = slim.dropout(net, scope='Dropout', is_training=is_training)
            logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                                 normalizer_fn=None,
                                 biases_initializer=tf.compat.v1.zeros_initializer(),
                                 scope='Conv2d_1c_1x1')
            logits = tf.squeeze(logits, [1, 2])
            logits = tf.identity(logits, name='output')
        end_points['Logits'] = logits
        if prediction_fn:
            end_points['Predictions'] = prediction_fn(logits, 'Predictions')
    return logits, end_points


def training_scope(is_training=True, weight_decay=0.00004, stddev=0.09,
                   dropout_keep_prob=0.8, bn_decay=0.997):
    """The official MobileNet training arg_scope.

    Args:
      is_training: batch norm and dropout mode (also passed to ``mobilenet``); None
        leaves them unset.
      weight_decay: L2 weight decay of the (non-depthwise) convolutions.
      stddev: truncated-normal initializer stddev; negative uses Xavier.
      dropout_keep_prob: dropout keep probability (None: unset).
      bn_decay: batch-norm moving-average decay (None: unset).

    Returns:
      An arg_scope dict.
    """
    if stddev < 0:
        initializer = slim.initializers.xavier_initializer()
    else:
        initializer = tf.compat.v1.truncated_normal_initializer(stddev=stddev)
    with slim.arg_scope([slim.conv2d, slim.fully_connected, slim.separable_conv2d],
                        weights_initializer=initializer, normalizer_fn=slim.batch_norm), \
            slim.arg_scope([mobilenet_base, mobilenet], is_training=is_training), \
            safe_arg_scope([slim.batch_norm], decay=bn_decay, is_training=is_training), \
            safe_arg_scope([slim.dropout], is_training=is_training,
                           keep_prob=dropout_keep_prob), \
            slim.arg_scope([slim.conv2d],
                           weights_regularizer=slim.l2_regularizer(weight_decay)), \
            slim.arg_scope([slim.separable_conv2d], weights_regularizer=None) as s:
        return s
