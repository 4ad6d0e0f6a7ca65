"""Class weights for the training loss (Keras' class_weight, scikit-learn's 'balanced').

``Trainer.class_weight`` is 'balanced', a list with one weight per class, or a dict
{class index or class name: weight}. :func:`class_weights` turns it into one weight per
class once the training set's counts and class names are known; the train step
multiplies each example's loss by its class's weight (:func:`weighted`).
"""

import numbers

import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.data.counts import balanced_weights

BALANCED = 'balanced'


def check_class_weight(spec):
    """Checks the form of ``Trainer.class_weight`` (the values are checked later).

    Raises:
      ConfigError: neither None, 'balanced', a list nor a dict, or a negative weight.
    """
    if spec is None or spec == BALANCED:
        return
    values = list(spec.values()) if isinstance(spec, dict) else \
        list(spec) if isinstance(spec, (list, tuple)) else None
    if values is None or not values or not all(
            isinstance(v, numbers.Real) and v >= 0 for v in values) or not any(values):
        raise ConfigError(
            f"Trainer.class_weight must be 'balanced', a list with one weight >= 0 per "
            f'class (e.g. [1.0, 4.0]) or a dict {{class index or name: weight}}, not all '
            f'zero; got {spec!r}.')


def class_weights(spec, counts=None, class_names=None, num_classes=None):
    """One weight per class, or None without class weights.

    Args:
      spec: Trainer.class_weight.
      counts: examples per class of the training set (needed for 'balanced').
      class_names: the classes' names (for a dict keyed by name, and messages).
      num_classes: the number of classes (default: len(counts) or len(class_names)).

    Raises:
      ConfigError: a list of the wrong length, a dict key that is no class, a class
        without examples under 'balanced'.
    """
    if spec is None:
        return None
    check_class_weight(spec)
    n = num_classes or (len(counts) if counts is not None else None) or \
        (len(class_names) if class_names else None)
    if spec == BALANCED:
        if counts is None:
            raise ConfigError("Trainer.class_weight = 'balanced' needs the training set's "
                              'class counts.')
        return balanced_weights(list(counts), class_names)
    if isinstance(spec, dict):
        weights = [1.0] * n
        names = list(class_names or [])
        for key, value in spec.items():
            index = names.index(key) if key in names else key
            if not isinstance(index, int) or not 0 <= index < n:
                raise ConfigError(
                    f'Trainer.class_weight has key {key!r}, which is no class: use class '
                    f'indexes 0..{n - 1}' + (f' or names {names[:10]}' if names else '')
                    + '.')
            weights[index] = float(value)
        return weights
    if n is not None and len(spec) != n:
        raise ConfigError(f'Trainer.class_weight has {len(spec)} weights but there are {n} '
                          f'classes (NUM_CLASSES): give one weight per class.')
    return [float(v) for v in spec]


def weighted(per_example_loss, labels, weights):
    """Each example's loss times its class's weight (``weights`` None: unchanged)."""
    if weights is None:
        return per_example_loss
    table = tf.constant(weights, tf.float32)
    return per_example_loss * tf.gather(table, tf.cast(labels, tf.int32))
