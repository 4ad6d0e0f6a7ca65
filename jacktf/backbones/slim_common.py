"""Helpers shared by the wrappers around tf_slim.nets builders.

tf_slim.nets omits a few pooling endpoints the official research/slim code adds
(``global_pool``, ``<scope>/spatial_squeeze``); ``finish_endpoints`` adds them so every
backbone exposes what the official code does.
"""

import tensorflow as tf


def squeeze_logits(net, end_points, scope, spatial_squeeze=True):
    """Squeezes [N, 1, 1, K] logits to [N, K] and records the endpoint like slim does."""
    if spatial_squeeze and net.shape.rank == 4:
        net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
        end_points[scope + '/spatial_squeeze'] = net
    return net

