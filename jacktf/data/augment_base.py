"""What every augmentation shares: the Augmentation base class, its stages, the
stateless random draws (each from the element's or batch's seed) and the option checks.
See jacktf.data.augment for how to add one."""

import abc

import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.data import augment_ops

STAGES = ('image', 'example', 'batch')


def fold(seed, index):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), index)


def uniform(seed, index, low=0.0, high=1.0):
    return tf.random.stateless_uniform([], fold(seed, index), low, high)


def beta(alpha, seed):
    """One Beta(alpha, alpha) draw from two stateless gamma draws."""
    a = tf.random.stateless_gamma([], fold(seed, 101), alpha)
    b = tf.random.stateless_gamma([], fold(seed, 102), alpha)
    return a / tf.maximum(a + b, 1e-12)


def check_probability(name, value):
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f'{name} must be a probability in [0, 1], got {value!r}.')
    return float(value)


def check_level(name, value):
    if not 0.0 <= float(value) <= augment_ops.MAX_LEVEL:
        raise ConfigError(f'{name} must be in [0, 10] (the papers\' magnitude scale), '
                          f'got {value!r}.')
    return float(value)


class Augmentation(abc.ABC):
    """Base class of augmentation plugins: a ``name``, a ``stage`` ('image', 'example'
    or 'batch': what ``augment`` takes and returns, see the module docstring) and
    ``augment``."""
    name = 'augmentation'
    stage = 'image'

    @abc.abstractmethod
    def augment(self, *args):
        """The augmented input of this stage."""

    def __repr__(self):
        return f'{self.name}()'
