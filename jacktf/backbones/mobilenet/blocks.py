"""Building blocks of the official slim MobileNet v2/v3, with explicit scopes.

Layers are described by a spec (a list of ``Op``); ``mobilenet_base`` runs the spec with
the official depth multiplier (``make_divisible`` by 8, min depth 8) and returns the
official end_points: ``layer_<i>`` for every op, then ``layer_<i>/expansion_output``,
``layer_<i>/depthwise_output`` and ``layer_<i>/output`` of the expanded convolutions.
Batch norm comes from the arg_scope's ``normalizer_fn`` (so jacktf can freeze it per
scope); activations, padding and batch-norm centering/scaling are set here.
"""

import collections

import numpy as np
import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.slim_common import fixed_padding

Op = collections.namedtuple('Op', ['kind', 'params'])


def conv(**params):
    return Op('conv', params)


def expanded(**params):
    return Op('expanded', params)


def pool_to_1x1(**params):
    return Op('pool_to_1x1', params)


def make_divisible(value, divisor=8, min_value=None):
    """Rounds to a multiple of ``divisor``, never below 90% of ``value`` (slim)."""
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return int(new)


def expand_input_by_factor(factor, divisible_by=8):
    return lambda num_inputs: make_divisible(num_inputs * factor, divisible_by)


def hard_swish(x):
    with tf.name_scope('hard_swish'):
        return x * tf.nn.relu6(x + np.float32(3)) * np.float32(1. / 6.)


def hard_sigmoid(x):
    return tf.nn.relu6(x + 3) * 0.16667


def squeeze_excite(net, squeeze_factor=4, divisible_by=8, inner_activation_fn=tf.nn.relu,
                   gating_fn=hard_sigmoid):
    """Channel gating from a global average (MobileNet v3's SE block, scope squeeze_excite)."""
    with tf.compat.v1.variable_scope('squeeze_excite'):
        channels = net.shape.as_list()[3]
        height, width = net.shape.as_list()[1:3]
        pooled = tf.nn.avg_pool(net, (1, height, width, 1), strides=(1, 1, 1, 1),
                                padding='VALID')
        squeeze = slim.conv2d(pooled, make_divisible(channels / squeeze_factor, divisible_by),
                              [1, 1], normalizer_fn=None, activation_fn=inner_activation_fn,
                              scope='Conv')
        excite = slim.conv2d(squeeze, channels, [1, 1], normalizer_fn=None,
                             activation_fn=gating_fn, scope='Conv_1')
        return net * excite


def expanded_conv(net, *, num_outputs, scope, endpoints, expansion_size=None, stride=1,
                  rate=1, kernel_size=(3, 3), residual=True, inner_activation_fn=None,
                  squeeze_excite_block=False, explicit_padding=False):
    """1x1 expansion -> depthwise -> (squeeze-excite) -> linear 1x1 projection (+ input).

    ``rate`` dilates the depthwise convolution; ``explicit_padding`` pads its input so
    that a VALID convolution gives SAME's output size.
    """
    expansion_size = expansion_size or expand_input_by_factor(6)
    activation = {} if inner_activation_fn is None else {'activation_fn': inner_activation_fn}
    with tf.compat.v1.variable_scope(scope):
        inputs = net
        inner = expansion_size(net.shape.as_list()[3]) if callable(expansion_size) \
            else expansion_size
        if inner > net.shape.as_list()[3]:
            net = slim.conv2d(net, inner, [1, 1], stride=1, scope='expand', **activation)
            net = tf.identity(net, 'expansion_output')
            endpoints['expansion_output'] = net
        if explicit_padding:
            net = fixed_padding(net, kernel_size, rate)
        net = slim.separable_conv2d(net, None, list(kernel_size), depth_multiplier=1,
                                    stride=stride, rate=rate, scope='depthwise',
                                    padding='VALID' if explicit_padding else 'SAME',
                                    **activation)
        net = tf.identity(net, name='depthwise_output')
        endpoints['depthwise_output'] = net
        if squeeze_excite_block:
            net = squeeze_excite(net)
        net = slim.conv2d(net, num_outputs, [1, 1], stride=1, activation_fn=tf.identity,
                          scope='project')
        if residual and stride == 1 and net.shape[3] == inputs.shape[3]:
            net += inputs
        net = tf.identity(net, name='output')
        endpoints['output'] = net
        return net


def mobilenet_base(images, spec, *, multiplier, default_activation, finegrain=False,
                   output_stride=None, use_explicit_padding=False):
    """Runs ``spec``; returns (net, end_points) in the official order.

    ``output_stride`` (None, 1 or even) caps the ratio of input to output size: once
    the running stride reaches it, later strides become dilation (atrous) rates, with
    the same variables. ``use_explicit_padding`` pads before each convolution wider
    than 1x1 and runs it VALID, giving SAME's output sizes with symmetric padding.
    """
    if multiplier <= 0:
        raise ValueError('depth_multiplier is not greater than zero.')
    if output_stride is not None and (output_stride <= 0 or
                                      (output_stride > 1 and output_stride % 2)):
        raise ValueError(f'output_stride must be None, 1 or a positive even number, got '
                         f'{output_stride!r}.')
    end_points, inner_points = {}, []
    counts = collections.Counter()
    net = images
    current_stride, rate = 1, 1
    padding = 'VALID' if use_explicit_padding else 'SAME'
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d], padding=padding,
                        activation_fn=default_activation), \
            slim.arg_scope([slim.batch_norm], center=True, scale=True):
        for i, op in enumerate(spec):
            params = dict(op.params)
            last = i == len(spec) - 1
            if 'num_outputs' in params and not (finegrain and last):
                params['num_outputs'] = make_divisible(params['num_outputs'] * multiplier, 8, 8)
            stride = params.get('stride', 1)
            if output_stride is not None and current_stride == output_stride:
                layer_stride, layer_rate = 1, rate
                rate *= stride
            else:
                layer_stride, layer_rate = stride, 1
                current_stride *= stride
            layer = f'layer_{i + 1}'
            if op.kind == 'conv':
                name = 'Conv' if not counts['conv'] else f'Conv_{counts["conv"]}'
                counts['conv'] += 1
                kernel = params.pop('kernel_size')
                params['stride'] = layer_stride
                if use_explicit_padding:
                    net = fixed_padding(net, kernel, layer_rate)
                net = slim.conv2d(net, params.pop('num_outputs'), kernel, scope=name,
                                  rate=layer_rate, **params)
            elif op.kind == 'expanded':
                name = 'expanded_conv' if not counts['expanded'] else \
                    f'expanded_conv_{counts["expanded"]}'
                counts['expanded'] += 1
                points = {}
                params.update(stride=layer_stride, rate=layer_rate,
                              explicit_padding=use_explicit_padding)
                net = expanded_conv(net, scope=name, endpoints=points, **params)
                inner_points.append((layer, points))
            else:
                size = net.shape.as_list()[1:3]
                default = params.get('default_size', 7)
                kernel = [size[0], size[0]] if size[0] is not None and size[0] == size[1] \
                    else [default, default]
                net = slim.avg_pool2d(net, kernel, stride=1, padding='VALID')
            end_points[layer] = net
    for layer, points in inner_points:
        for key in ('expansion_output', 'depthwise_output', 'output'):
            if key in points:
                end_points[f'{layer}/{key}'] = points[key]
    return net, end_points


def mobilenet(images, spec, *, num_classes, is_training, multiplier, default_activation,
              finegrain, reuse, scope, dropout_keep_prob=0.8, output_stride=None,
              use_explicit_padding=False):
    """The official MobileNet classifier: tower, global pool, dropout, 1x1 logits."""
    with tf.compat.v1.variable_scope(scope, 'Mobilenet', [images], reuse=reuse):
        with slim.arg_scope([slim.batch_norm], is_training=is_training):
            net, end_points = mobilenet_base(images, spec, multiplier=multiplier,
                                             default_activation=default_activation,
                                             finegrain=finegrain,
                                             output_stride=output_stride,
                                             use_explicit_padding=use_explicit_padding)
        net = tf.identity(net, name='embedding')
        with tf.compat.v1.variable_scope('Logits'):
            height, width = net.shape.as_list()[1:3]
            if height is None or width is None:
                net = tf.reduce_mean(net, [1, 2], keepdims=True)
            else:
                net = tf.nn.avg_pool(net, ksize=[1, height, width, 1], strides=[1, 1, 1, 1],
                                     padding='VALID')
            end_points['global_pool'] = net
            if not num_classes:
                return net, end_points
            net = slim.dropout(net, keep_prob=dropout_keep_prob, scope='Dropout',
                               is_training=is_training)
            logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                                 normalizer_fn=None,
                                 biases_initializer=tf.compat.v1.zeros_initializer(),
                                 scope='Conv2d_1c_1x1')
            logits = tf.identity(tf.squeeze(logits, [1, 2]), name='output')
        end_points['Logits'] = logits
        end_points['Predictions'] = tf.nn.softmax(logits, name='Predictions')
        return logits, end_points


def training_scope(is_training=True, weight_decay=0.00004, stddev=0.09, bn_decay=0.997):
    """The official MobileNet v2/v3 arg_scope: truncated-normal init, batch norm, L2."""
    init = (slim.initializers.xavier_initializer() if stddev < 0 else
            tf.compat.v1.truncated_normal_initializer(stddev=stddev))
    bn = {'decay': bn_decay}
    if is_training is not None:
        bn['is_training'] = is_training
    with slim.arg_scope([slim.conv2d, slim.fully_connected, slim.separable_conv2d],
                        weights_initializer=init, normalizer_fn=slim.batch_norm), \
            slim.arg_scope([slim.batch_norm], **bn), \
            slim.arg_scope([slim.conv2d], weights_regularizer=slim.l2_regularizer(weight_decay)), \
            slim.arg_scope([slim.separable_conv2d], weights_regularizer=None) as sc:
        return sc


def register(registry, fns, scope, default_image_size, cam_endpoint):
    for fn in fns:
        registry.backbone(fn.__name__, fn, scope=scope, arg_scope=training_scope,
                          default_image_size=default_image_size, preprocessing='inception',
                          num_classes_official=1001, classifier_scopes=[f'{scope}/Logits'],
                          features_endpoint='global_pool', cam_endpoint=cam_endpoint,
                          native_logits_endpoint='Logits')
