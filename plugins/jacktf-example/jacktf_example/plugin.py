"""The plugin module named by the `jacktf` entry point of this distribution."""

import tensorflow as tf
import tf_slim as slim

import jacktf
from jacktf_example import callbacks, nets


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Adds TinyNet, a small slim-style CNN (checkpoint scope 'TinyNet')."""
    registry.backbone('tiny_net', nets.tiny_net, arg_scope=nets.tiny_net_arg_scope,
                      default_image_size=64, preprocessing='inception',
                      classifier_scopes=['TinyNet/Logits'], features_endpoint='global_pool',
                      cam_endpoint='Conv2d_3', native_logits_endpoint='Logits')


def mlp(features, *, num_classes, is_training, hidden_units=64, dropout_keep_prob=0.9):
    """A hidden ReLU layer with dropout, then the logits (scope MLPHead)."""
    net = tf.reshape(features, [-1, features.shape[-1]])
    with tf.compat.v1.variable_scope('MLPHead'):
        net = slim.fully_connected(net, hidden_units, activation_fn=tf.nn.relu,
                                   scope='hidden')
        net = slim.dropout(net, dropout_keep_prob, is_training=is_training)
        return slim.fully_connected(net, num_classes, activation_fn=None, scope='logits')


@jacktf.hookimpl
def jacktf_register_heads(registry):
    """Adds the mlp head."""
    registry.head('mlp', mlp)


@jacktf.hookimpl
def jacktf_register_callbacks(registry):
    """Adds the loss_log callback (``Trainer.callbacks = [@loss_log()]``)."""
    registry.callback('loss_log', callbacks.LossLog)
