"""MobileNet v1 in the slim style, computing what the official research/slim code does.

Depthwise-separable convolutions with batch norm and ReLU6, depth = max(int(d *
depth_multiplier), min_depth), SAME padding (or explicit padding), output_stride via
atrous rates, and the official classifier tail (average pool reduced for small inputs,
dropout, 1x1-conv logits with biases, spatial squeeze). Official checkpoints have 1001
classes and use Inception preprocessing.
"""

import collections
import functools
import inspect

import tensorflow as tf
import tf_slim as slim

import jacktf
from jacktf.backbones.slim_common import classifier_tail, fixed_padding, reduced_kernel_size

Conv = collections.namedtuple('Conv', ['kernel', 'stride', 'depth'])
DepthSepConv = collections.namedtuple('DepthSepConv', ['kernel', 'stride', 'depth'])

MOBILENETV1_CONV_DEFS = (
    Conv(kernel=[3, 3], stride=2, depth=32),
    DepthSepConv(kernel=[3, 3], stride=1, depth=64),
    DepthSepConv(kernel=[3, 3], stride=2, depth=128),
    DepthSepConv(kernel=[3, 3], stride=1, depth=128),
    DepthSepConv(kernel=[3, 3], stride=2, depth=256),
    DepthSepConv(kernel=[3, 3], stride=1, depth=256),
    DepthSepConv(kernel=[3, 3], stride=2, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=2, depth=1024),
    DepthSepConv(kernel=[3, 3], stride=1, depth=1024),
)


def mobilenet_v1_base(inputs, final_endpoint='Conv2d_13_pointwise', min_depth=8,
                      depth_multiplier=1.0, conv_defs=None, output_stride=None,
                      use_explicit_padding=False, scope=None):
    """The convolutional tower up to ``final_endpoint``; returns (net, end_points)."""
    if depth_multiplier <= 0:
        raise ValueError('depth_multiplier is not greater than zero.')
    if output_stride is not None and output_stride not in (8, 16, 32):
        raise ValueError('Only allowed output_stride values are 8, 16, 32.')

    def depth(d):
        return max(int(d * depth_multiplier), min_depth)

    conv_defs = conv_defs or MOBILENETV1_CONV_DEFS
    end_points = {}
    padding = 'VALID' if use_explicit_padding else 'SAME'
    with tf.compat.v1.variable_scope(scope, 'MobilenetV1', [inputs]):
        with slim.arg_scope([slim.conv2d, slim.separable_conv2d], padding=padding):
            current_stride, rate, net = 1, 1, inputs
            for i, conv_def in enumerate(conv_defs):
                base = f'Conv2d_{i}'
                if output_stride is not None and current_stride == output_stride:
                    layer_stride, layer_rate = 1, rate
                    rate *= conv_def.stride
                else:
                    layer_stride, layer_rate = conv_def.stride, 1
                    current_stride *= conv_def.stride
                if isinstance(conv_def, Conv):
                    if use_explicit_padding:
                        net = fixed_padding(net, conv_def.kernel)
                    net = slim.conv2d(net, depth(conv_def.depth), conv_def.kernel,
                                      stride=conv_def.stride, scope=base)
                    end_points[base] = net
                    if base == final_endpoint:
                        return net, end_points
                    continue
                name = base + '_depthwise'
                if use_explicit_padding:
                    net = fixed_padding(net, conv_def.kernel, layer_rate)
                net = slim.separable_conv2d(net, None, conv_def.kernel, depth_multiplier=1,
                                            stride=layer_stride, rate=layer_rate, scope=name)
                end_points[name] = net
                if name == final_endpoint:
                    return net, end_points
                name = base + '_pointwise'
                net = slim.conv2d(net, depth(conv_def.depth), [1, 1], stride=1, scope=name)
                end_points[name] = net
                if name == final_endpoint:
                    return net, end_points
    raise ValueError(f'Unknown final endpoint {final_endpoint}')


def mobilenet_v1(inputs, num_classes=1000, dropout_keep_prob=0.999, is_training=True,
                 min_depth=8, depth_multiplier=1.0, conv_defs=None,
                 prediction_fn=slim.softmax, spatial_squeeze=True, reuse=None,
                 scope='MobilenetV1', global_pool=False):
    """Slim MobileNet v1 classifier.

    Args:
      inputs: [batch, height, width, 3].
      num_classes: classes; 0 or None returns the pooled features (``AvgPool_1a``).
      dropout_keep_prob: keep probability of the dropout before the logits.
      is_training: batch-norm and dropout mode.
      min_depth: minimum depth of every layer (active with depth_multiplier < 1).
      depth_multiplier: scales every layer's depth (> 0).
      conv_defs: the layer list (default ``MOBILENETV1_CONV_DEFS``).
      prediction_fn: maps logits to ``end_points['Predictions']`` (None: none).
      spatial_squeeze: squeeze the logits to [batch, num_classes].
      reuse: reuse the variables of ``scope``.
      scope: variable scope.
      global_pool: average over the whole final map instead of a 7x7 pool.

    Returns:
      (logits, end_points), or (features, end_points).

    Raises:
      ValueError: ``inputs`` is not of rank 4, or ``depth_multiplier`` <= 0.
    """
    shape = inputs.get_shape().as_list()
    if len(shape) != 4:
        raise ValueError('Invalid input tensor rank, expected 4, was: %d' % len(shape))
    with tf.compat.v1.variable_scope(scope, 'MobilenetV1', [inputs], reuse=reuse) as sc:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = mobilenet_v1_base(inputs, scope=sc, min_depth=min_depth,
                                                depth_multiplier=depth_multiplier,
                                                conv_defs=conv_defs)
            with tf.compat.v1.variable_scope('Logits'):
                net, end_points = classifier_tail(
                    net, end_points, num_classes=num_classes, global_pool=global_pool,
                    pool_kernel=[7, 7], pool_scope='AvgPool_1a', pool_endpoint='AvgPool_1a',
                    dropout_keep_prob=dropout_keep_prob, dropout_scope='Dropout_1b',
                    logits_scope='Conv2d_1c_1x1', spatial_squeeze=spatial_squeeze)
            if not num_classes:
                return net, end_points
            end_points['Logits'] = net
            if prediction_fn:
                end_points['Predictions'] = prediction_fn(net, scope='Predictions')
            return net, end_points


mobilenet_v1.default_image_size = 224


def wrapped_partial(func, *args, **kwargs):
    """``functools.partial`` that keeps ``func``'s name and docstring."""
    partial_func = functools.partial(func, *args, **kwargs)
    functools.update_wrapper(partial_func, func)
    return partial_func


def _with_multiplier(multiplier, name):
    signature = inspect.signature(mobilenet_v1)

    def net(*args, **kwargs):
        kwargs.setdefault('depth_multiplier', multiplier)
        return mobilenet_v1(*args, **kwargs)
    net.__name__ = net.__qualname__ = name
    net.__doc__ = f'Slim MobileNet v1, depth multiplier {multiplier}.'
    net.__signature__ = signature.replace(parameters=[
        p.replace(default=multiplier) if p.name == 'depth_multiplier' else p
        for p in signature.parameters.values()])
    net.default_image_size = 224
    return net


mobilenet_v1_075 = _with_multiplier(0.75, 'mobilenet_v1_075')
mobilenet_v1_050 = _with_multiplier(0.50, 'mobilenet_v1_050')
mobilenet_v1_025 = _with_multiplier(0.25, 'mobilenet_v1_025')


def _reduced_kernel_size_for_small_input(input_tensor, kernel_size):
    """The pooling kernel, shrunk to the feature map when the input is small."""
    return reduced_kernel_size(input_tensor, kernel_size)


def mobilenet_v1_arg_scope(is_training=True, weight_decay=0.00004, stddev=0.09,
                           regularize_depthwise=False, batch_norm_decay=0.9997,
                           batch_norm_epsilon=0.001,
                           batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
                           normalizer_fn=slim.batch_norm):
    """The official arg_scope: truncated-normal init, ReLU6, batch norm, L2 on convs.

    Args:
      is_training: batch-norm mode; None leaves it unset.
      weight_decay: L2 weight decay of the convolutions.
      stddev: truncated-normal initializer stddev.
      regularize_depthwise: also regularize the depthwise weights.
      batch_norm_decay: moving-average decay.
      batch_norm_epsilon: added to the variance.
      batch_norm_updates_collections: collection of the batch-norm update ops.
      normalizer_fn: the normalizer of every convolution.

    Returns:
      An arg_scope dict.
    """
    bn_params = {'center': True, 'scale': True, 'decay': batch_norm_decay,
                 'epsilon': batch_norm_epsilon,
                 'updates_collections': batch_norm_updates_collections}
    if is_training is not None:
        bn_params['is_training'] = is_training
    init = tf.compat.v1.truncated_normal_initializer(stddev=stddev)
    regularizer = slim.l2_regularizer(weight_decay)
    depthwise_regularizer = regularizer if regularize_depthwise else None
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d], weights_initializer=init,
                        activation_fn=tf.nn.relu6, normalizer_fn=normalizer_fn):
        with slim.arg_scope([slim.batch_norm], **bn_params):
            with slim.arg_scope([slim.conv2d], weights_regularizer=regularizer):
                with slim.arg_scope([slim.separable_conv2d],
                                    weights_regularizer=depthwise_regularizer) as sc:
                    return sc


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers mobilenet_v1 and its 0.75, 0.5 and 0.25 multipliers."""
    for fn in (mobilenet_v1, mobilenet_v1_075, mobilenet_v1_050, mobilenet_v1_025):
        registry.backbone(fn.__name__, fn, scope='MobilenetV1',
                          arg_scope=mobilenet_v1_arg_scope, default_image_size=224,
                          preprocessing='inception', num_classes_official=1001,
                          classifier_scopes=['MobilenetV1/Logits'],
                          features_endpoint='AvgPool_1a', cam_endpoint='Conv2d_13_pointwise',
                          native_logits_endpoint='Logits')
