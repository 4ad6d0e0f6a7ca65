"""The augmentations of one image: RandAugment and AutoAugment on the decoded uint8
image (stage 'image'), random erasing on the preprocessed one (stage 'example')."""

import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.data import augment_ops
from jacktf.data.augment_base import Augmentation, check_level, check_probability, \
    fold, uniform


class RandAugment(Augmentation):
    """RandAugment (Cubuk et al. 2019): ``num_layers`` ops drawn uniformly from 16, each
    at the same ``magnitude`` (0..10) with a random sign where it has one.

    Args:
      num_layers: ops applied in a row to each image.
      magnitude: strength of every op on the papers' 0..10 scale.
      ops: names of the ops to draw from (default: all of RANDAUGMENT_OPS).
    """
    name = 'randaugment'
    stage = 'image'

    def __init__(self, *, num_layers=2, magnitude=9.0, ops=None):
        if int(num_layers) < 1:
            raise ConfigError(f'randaugment.num_layers must be >= 1, got {num_layers}.')
        self.num_layers = int(num_layers)
        self.magnitude = check_level('randaugment.magnitude', magnitude)
        self.ops = tuple(ops or augment_ops.RANDAUGMENT_OPS)
        unknown = [op for op in self.ops if op not in augment_ops.OPS]
        if unknown:
            raise ConfigError(f'randaugment.ops: unknown {unknown}; the ops are '
                              f'{", ".join(augment_ops.OPS)}.')

    def augment(self, image, seed):
        image = tf.cast(image, tf.float32)
        for layer in range(self.num_layers):
            pick = fold(seed, 2 * layer)
            index = tf.random.stateless_uniform([], pick, 0, len(self.ops), dtype=tf.int32)
            op_seed = fold(seed, 2 * layer + 1)
            branches = [lambda name=name, image=image: augment_ops.OPS[name](
                image, self.magnitude, op_seed) for name in self.ops]
            image = tf.switch_case(index, branches)
        return tf.cast(tf.round(image), tf.uint8)


class AutoAugment(Augmentation):
    """AutoAugment (Cubuk et al. 2018) with its ImageNet policy: one of 25 sub-policies
    per image, each two ops applied with their own probability and magnitude."""
    name = 'autoaugment'
    stage = 'image'

    def __init__(self, *, policy='imagenet'):
        if policy != 'imagenet':
            raise ConfigError(f"autoaugment.policy must be 'imagenet', got {policy!r}.")
        self.policy = augment_ops.IMAGENET_POLICY
        self.names = sorted({name for steps in self.policy for name, _, _ in steps})

    def augment(self, image, seed):
        image = tf.cast(image, tf.float32)
        index = tf.random.stateless_uniform([], fold(seed, 0), 0, len(self.policy),
                                            dtype=tf.int32)
        # One switch over the policy's distinct ops per step (not one graph per
        # sub-policy): the tables give the drawn sub-policy's op, probability, level.
        for k in range(2):
            op = tf.gather([self.names.index(steps[k][0]) for steps in self.policy], index)
            probability = tf.gather([float(steps[k][1]) for steps in self.policy], index)
            level = tf.gather([float(steps[k][2]) for steps in self.policy], index)
            op_seed = fold(seed, 11 + 2 * k)
            branches = [lambda name=name, image=image: augment_ops.OPS[name](
                image, level, op_seed) for name in self.names]
            image = tf.cond(uniform(seed, 10 + 2 * k) < probability,
                            lambda image=image, op=op, branches=branches:
                            tf.switch_case(op, branches), lambda image=image: image)
        return tf.cast(tf.round(image), tf.uint8)


class RandomErasing(Augmentation):
    """Random erasing (Zhong et al. 2017): with ``probability`` one rectangle of the
    preprocessed image, of ``area`` fraction and ``aspect`` ratio drawn at random
    (log-uniform aspect), is replaced.

    Args:
      probability: chance that an image gets a rectangle.
      area: (min, max) fraction of the image area.
      aspect: (min, max) height/width ratio.
      fill: 'noise' (Gaussian noise with the image's own mean and spread) or 'zero'
        (0 after normalization: mid-gray for inception, the mean colour for vgg).
    """
    name = 'random_erasing'
    stage = 'example'

    def __init__(self, *, probability=0.25, area=(0.02, 1 / 3), aspect=(0.3, 3.3),
                 fill='noise'):
        self.probability = check_probability('random_erasing.probability', probability)
        if not 0 < area[0] <= area[1] <= 1:
            raise ConfigError(f'random_erasing.area must be (min, max) fractions with '
                              f'0 < min <= max <= 1, got {area!r}.')
        if not 0 < aspect[0] <= aspect[1]:
            raise ConfigError(f'random_erasing.aspect must be (min, max) > 0, got '
                              f'{aspect!r}.')
        if fill not in ('noise', 'zero'):
            raise ConfigError(f"random_erasing.fill must be 'noise' or 'zero', got "
                              f'{fill!r}.')
        self.area, self.aspect, self.fill = tuple(area), tuple(aspect), fill

    def augment(self, image, seed):
        shape = tf.shape(image)
        h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
        area = uniform(seed, 1, *self.area) * h * w
        log_aspect = uniform(seed, 2, tf.math.log(float(self.aspect[0])),
                              tf.math.log(float(self.aspect[1])))
        aspect = tf.exp(log_aspect)
        eh = tf.clip_by_value(tf.round(tf.sqrt(area * aspect)), 1.0, h)
        ew = tf.clip_by_value(tf.round(tf.sqrt(area / aspect)), 1.0, w)
        top = tf.floor(uniform(seed, 3) * (h - eh + 1))
        left = tf.floor(uniform(seed, 4) * (w - ew + 1))
        rows = tf.range(h)[:, None]
        cols = tf.range(w)[None, :]
        inside = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew)
        if self.fill == 'zero':
            fill = tf.zeros_like(image)
        else:
            mean, variance = tf.nn.moments(image, [0, 1, 2])
            fill = mean + tf.sqrt(variance) * tf.random.stateless_normal(
                shape, fold(seed, 5), dtype=image.dtype)
        erase = inside[..., None] & (uniform(seed, 0) < self.probability)
        return tf.where(erase, fill, image)
