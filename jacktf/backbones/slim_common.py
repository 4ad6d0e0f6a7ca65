"""Helpers shared by the slim backbones: the official pooling and logits tail.

tf_slim.nets ships older copies of some nets whose classifier tail lacks what the
official research/slim code has (``num_classes=0`` for features, ``global_pool``,
pooling kernels reduced for small inputs, the pooling endpoints). ``classifier_tail``
is that official tail, shared by Inception and MobileNet.
"""

import tensorflow as tf
import tf_slim as slim


def fixed_padding(inputs, kernel, rate=1):
    """Pads so a VALID convolution matches SAME for any input size (explicit padding)."""
    effective = [kernel[0] + (kernel[0] - 1) * (rate - 1),
                 kernel[1] + (kernel[1] - 1) * (rate - 1)]
    total = [effective[0] - 1, effective[1] - 1]
    beg = [total[0] // 2, total[1] // 2]
    return tf.pad(inputs, [[0, 0], [beg[0], total[0] - beg[0]],
                           [beg[1], total[1] - beg[1]], [0, 0]])


def squeeze_logits(net, end_points, scope, spatial_squeeze=True):
    """Squeezes [N, 1, 1, K] logits to [N, K] and records the endpoint like slim does."""
    if spatial_squeeze and net.shape.rank == 4:
        net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
        end_points[scope + '/spatial_squeeze'] = net
    return net


def reduced_kernel_size(net, kernel_size):
    """The pooling kernel, shrunk to the feature map when the input is small (slim)."""
    shape = net.shape.as_list()
    if shape[1] is None or shape[2] is None:
        return list(kernel_size)
    return [min(shape[1], kernel_size[0]), min(shape[2], kernel_size[1])]


def classifier_tail(net, end_points, *, num_classes, global_pool, pool_kernel, pool_scope,
                    pool_endpoint, dropout_keep_prob, dropout_scope, logits_scope,
                    spatial_squeeze, prelogits=False, name_kernel=False):
    """Pooling, dropout and the 1x1-conv logits of the official slim classifiers.

    Must run inside the net's 'Logits' variable scope. Returns (net, end_points): the
    pooled features when ``num_classes`` is falsy, else the logits.
    """
    if global_pool:
        net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
        end_points['global_pool'] = net
    else:
        kernel = reduced_kernel_size(net, pool_kernel)
        scope = f'{pool_scope}_{kernel[0]}x{kernel[1]}' if name_kernel else pool_scope
        net = slim.avg_pool2d(net, kernel, padding='VALID', scope=scope)
        end_points[pool_endpoint] = net
    if not num_classes:
        return net, end_points
    net = slim.dropout(net, keep_prob=dropout_keep_prob, scope=dropout_scope)
    if prelogits:
        end_points['PreLogits'] = net
    logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                         scope=logits_scope)
    if spatial_squeeze:
        logits = tf.squeeze(logits, [1, 2], name='SpatialSqueeze')
    return logits, end_points


def finish_predictions(logits, end_points, prediction_fn=slim.softmax):
    """Records ``Logits`` and (unless ``prediction_fn`` is None) ``Predictions``."""
    end_points['Logits'] = logits
    if prediction_fn:
        end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
    return logits, end_points
