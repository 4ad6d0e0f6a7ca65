"""Balanced sampling: a training stream in which every class is equally frequent.

``Experiment.sampling = 'balanced'`` resamples the (repeated) training records by
rejection, from the training set's class counts to the uniform distribution over the
classes that have examples: a record of class c is kept with probability
``a_c = (1 / p_c) / max_j (1 / p_j)`` (p: the class frequencies), so the rarest class is
always kept, frequent ones are dropped at random, and each class makes up about 1/k of
every batch. The coin of the record at position n of the stream is a stateless draw
from (seed, n): with a seed the choice is repeatable, and in deterministic mode a
checkpointed input resumes with the same choices.
"""

import random

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


def acceptance(per_class):
    """The probability of keeping a record of each class (see the module docstring)."""
    target = target_distribution(per_class)
    total = float(sum(per_class))
    ratios = [t / (c / total) if c else 0.0 for t, c in zip(target, per_class)]
    top = max(ratios)
    return [r / top for r in ratios]


def kept_fraction(per_class):
    """The fraction of the records read that balanced sampling keeps."""
    total = float(sum(per_class))
    return sum(a * c / total for a, c in zip(acceptance(per_class), per_class))


def balanced(ds, label_fn, per_class, seed=None):
    """``ds`` resampled so that every class with examples is equally frequent.

    Args:
      ds: a repeated dataset of records (tuples).
      label_fn: a record's components -> its int label.
      per_class: examples per class in one pass over ``ds``'s source.
      seed: the sampler's seed (None: random).
    """
    accept = tf.constant(acceptance(per_class), tf.float32)
    base = random.randrange(2 ** 31) if seed is None else int(seed)

    def keep(position, record):
        coin = tf.random.stateless_uniform([], seed=tf.stack(
            [tf.constant(base, tf.int64), position]))
        return coin < tf.gather(accept, tf.cast(label_fn(*record), tf.int32))

    return ds.enumerate().filter(keep).map(lambda position, record: record)
