"""Multi-label loss and outputs: sigmoid per label, binary cross-entropy.

A multi-label Model (``Model.multi_label``, or a head with ``multi_label = True`` such
as ``@multilabel_logits``) uses these in place of the softmax ones: labels are
multi-hot float [N, K] (mixup and cutmix mix them as they are).
"""

import numbers

import tensorflow as tf

from jacktf.core.errors import ConfigError

DEFAULT_THRESHOLD = 0.5
BALANCED = 'balanced'


def check_pos_weight(pos_weight, num_classes):
    """None, 'balanced', or a list of K positive weights (a number is repeated K
    times)."""
    if pos_weight is None:
        return None
    if pos_weight == BALANCED:
        return BALANCED  # resolved from the training counts (balanced_pos_weight)
    if isinstance(pos_weight, numbers.Number) and not isinstance(pos_weight, bool):
        pos_weight = [pos_weight] * num_classes
    try:
        values = [float(w) for w in pos_weight]
    except (TypeError, ValueError):
        values = None
    if values is None or len(values) != num_classes or any(w <= 0 for w in values):
        raise ConfigError(f'Model.pos_weight must be a positive number or {num_classes} '
                          f"positive numbers (one per label) or 'balanced', got "
                          f'{pos_weight!r}.')
    return values


def balanced_pos_weight(per_label, total):
    """Negatives / positives of each label (a label without positives gets 1).

    Raises:
      ConfigError: a label has no positive example in the training set.
    """
    missing = [i for i, n in enumerate(per_label) if n <= 0]
    if missing:
        raise ConfigError(f"Model.pos_weight = 'balanced' needs examples of every label, "
                          f'but the training set has none of label {missing[:10]}. Give '
                          'those labels examples or give Model.pos_weight as a list.')
    return [max(total - n, 1) / n for n in per_label]


def binary_cross_entropy(labels, logits, label_smoothing=0.0, pos_weight=None):
    """Per-example binary cross-entropy [N], summed over the K labels.

    ``labels``: multi-hot (or mixed) float [N, K]; ``label_smoothing`` s moves the
    targets to y (1 - s) + s / 2; ``pos_weight`` [K] weighs each label's positive term.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.float32)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if pos_weight is None:
        per_label = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    else:
        per_label = tf.nn.weighted_cross_entropy_with_logits(
            labels=labels, logits=logits, pos_weight=tf.constant(pos_weight, tf.float32))
    return tf.reduce_sum(per_label, -1)


def postprocess(logits, thresholds=DEFAULT_THRESHOLD):
    """Logits -> dict(probabilities [N, K] sigmoid, predicted [N, K] bool)."""
    probabilities = tf.sigmoid(tf.cast(logits, tf.float32))
    return {'probabilities': probabilities,
            'predicted': probabilities >= tf.cast(thresholds, tf.float32)}


def exact_match(labels, logits):
    """Fraction of examples whose predicted label set (at 0.5) is their label set."""
    predicted = tf.cast(logits, tf.float32) > 0.0
    truth = tf.cast(labels, tf.float32) > 0.5
    same = tf.reduce_all(tf.equal(predicted, truth), -1)
    return tf.reduce_mean(tf.cast(same, tf.float32))
