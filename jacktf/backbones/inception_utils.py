"""The arg_scope shared by the slim Inception nets (research/slim's inception_utils)."""

import tensorflow as tf
import tf_slim as slim


def inception_arg_scope(weight_decay=0.00004, use_batch_norm=True, batch_norm_decay=0.9997,
                        batch_norm_epsilon=0.001, activation_fn=tf.nn.relu,
                        batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
                        batch_norm_scale=False):
    """The official Inception arg_scope: batch norm after every convolution, L2 decay.

    Args:
      weight_decay: L2 weight decay of convolutions and fully connected layers.
      use_batch_norm: batch norm after each convolution.
      batch_norm_decay: moving-average decay.
      batch_norm_epsilon: added to the variance.
      activation_fn: activation of the convolutions.
      batch_norm_updates_collections: collection of the batch-norm update ops.
      batch_norm_scale: add the ``gamma`` scale to batch norm (official checkpoints
        have none).

    Returns:
      An arg_scope dict.
    """
    batch_norm_params = {
        'decay': batch_norm_decay,
        'epsilon': batch_norm_epsilon,
        'updates_collections': batch_norm_updates_collections,
        'fused': None,  # fused batch norm where possible
        'scale': batch_norm_scale,
    }
    normalizer_fn = slim.batch_norm if use_batch_norm else None
    normalizer_params = batch_norm_params if use_batch_norm else {}
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        weights_regularizer=slim.l2_regularizer(weight_decay)):
        with slim.arg_scope([slim.conv2d],
                            weights_initializer=slim.variance_scaling_initializer(),
                            activation_fn=activation_fn, normalizer_fn=normalizer_fn,
                            normalizer_params=normalizer_params) as sc:
            return sc
