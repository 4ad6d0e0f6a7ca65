"""Balanced sampling: a training stream in which every class is equally frequent.

``Experiment.sampling = 'balanced'`` resamples the (repeated) training records with
tf.data's rejection resampling, from the training set's class counts to the uniform
distribution over the classes that have examples: records of frequent classes are
dropped at random, so each class makes up about 1/k of every batch. With a seed the
choice is repeatable (deterministic mode included).
"""

import tensorflow as tf

from jacktf.core.errors import ConfigError

SAMPLING = (None, 'balanced')


def check_sampling(value):
    """Raises ConfigError unless ``value`` is None or 'balanced'."""
    if value not in SAMPLING:
        raise ConfigError(f"Experiment.sampling must be None or 'balanced', got {value!r}.")


def target_distribution(per_class):
    """The uniform distribution over the classes with examples.

    Raises:
      ConfigError: no class has examples.
    """
    present = [c > 0 for c in per_class]
    if not any(present):
        raise ConfigError('Balanced sampling needs examples: TRAIN_FILES holds none.')
    return [1.0 / sum(present) if p else 0.0 for p in present]


def balanced(ds, label_fn, per_class, seed=None):
    """``ds`` resampled so that every class with examples is equally frequent.

    Args:
      ds: a repeated dataset of records.
      label_fn: record (its components as arguments) -> int32 label.
      per_class: examples per class in one pass over ``ds``'s source.
      seed: the resampler's seed (None: random).
    """
    total = float(sum(per_class))
    initial = [c / total for c in per_class]
    return ds.rejection_resample(label_fn, target_dist=target_distribution(per_class),
                                 initial_dist=initial, seed=seed).map(
        lambda label, record: record)
