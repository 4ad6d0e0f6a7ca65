"""Linear heads: ``logits`` (the seed's), ``dropout_logits``, ``multilabel_logits``
(sigmoid per label) and ``native``."""

import tensorflow as tf
import tf_slim as slim

import jacktf


def _flatten(features):
    if features.shape.rank == 4:
        if features.shape[1] == 1 and features.shape[2] == 1:
            return tf.squeeze(features, [1, 2])
        return tf.reduce_mean(features, [1, 2])
    return features


def logits(features, *, num_classes, is_training, weight_decay=0.0, zero_init=True):
    """Squeezes pooled features, one fully connected layer; scope Predict/logits.

    ``zero_init`` starts the classifier at zero weights (as Big Transfer does): the first
    steps then move the head before they move the backbone, which keeps fine-tuning and
    from-scratch runs stable. False uses slim's Xavier initialization.
    """
    del is_training  # No dropout or batch norm here.
    regularizer = slim.l2_regularizer(weight_decay) if weight_decay else None
    init = tf.compat.v1.zeros_initializer() if zero_init else \
        tf.compat.v1.glorot_uniform_initializer()
    with tf.compat.v1.variable_scope('Predict'):
        return slim.fully_connected(_flatten(features), num_classes, activation_fn=None,
                                    weights_initializer=init,
                                    weights_regularizer=regularizer, scope='logits')


def dropout_logits(features, *, num_classes, is_training, dropout_keep_prob=0.8,
                   weight_decay=0.0, zero_init=True):
    """Dropout on the pooled features, then the ``logits`` head."""
    with tf.compat.v1.variable_scope('Predict'):
        net = slim.dropout(_flatten(features), dropout_keep_prob,
                           is_training=is_training, scope='Dropout')
    return logits(net, num_classes=num_classes, is_training=is_training,
                  weight_decay=weight_decay, zero_init=zero_init)


def multilabel_logits(features, *, num_classes, is_training, weight_decay=0.0,
                      zero_init=True, dropout_keep_prob=None):
    """The ``logits`` head for several labels per image: the Model then applies a
    sigmoid per label and binary cross-entropy (see jacktf.core.multilabel_loss).

    ``dropout_keep_prob`` (e.g. 0.8) adds dropout on the pooled features.
    """
    if dropout_keep_prob is not None:
        return dropout_logits(features, num_classes=num_classes, is_training=is_training,
                              dropout_keep_prob=dropout_keep_prob,
                              weight_decay=weight_decay, zero_init=zero_init)
    return logits(features, num_classes=num_classes, is_training=is_training,
                  weight_decay=weight_decay, zero_init=zero_init)


multilabel_logits.multi_label = True


def native(features, *, num_classes, is_training):
    """The backbone's own logits layer, with its official scope (see Model)."""
    raise RuntimeError('The native head is built by the backbone itself; Model calls '
                       'the backbone with num_classes instead of calling this function.')


native.uses_backbone_logits = True


@jacktf.hookimpl
def jacktf_register_heads(registry):
    """Registers logits, dropout_logits, multilabel_logits and native."""
    registry.head('logits', logits)
    registry.head('multilabel_logits', multilabel_logits,
                  summary='Sigmoid per label (several labels per image), binary '
                          'cross-entropy.')
    registry.head('dropout_logits', dropout_logits)
    registry.head('native', native,
                  summary="The backbone's own logits layer with its official scope.")
