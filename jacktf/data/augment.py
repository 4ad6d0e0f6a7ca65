"""Augmentation plugins: RandAugment, AutoAugment, random erasing, mixup, cutmix.

A recipe lists them: ``Experiment.augmentations = [@randaugment(), @mixup()]`` (with
options such as ``randaugment.magnitude = 9``). Each is an object with a ``stage``:

- ``'image'``: ``augment(image, seed)`` on the decoded uint8 image [H, W, 3], before
  the preprocessor (RandAugment, AutoAugment).
- ``'example'``: ``augment(image, seed)`` on the preprocessed float image [S, S, 3]
  (random erasing).
- ``'batch'``: ``augment(images, labels, seed)`` on a batch with one-hot labels
  [B, K]; returns soft labels (mixup, cutmix). The loss then takes soft labels.

Only training input is augmented. Every random choice is a stateless op driven by
``seed`` (int64 [2]): per example, the element's own seed from the input pipeline
(folded with the augmentation's position in the list); per batch, the run's seed and
the batch's position. Deterministic runs therefore stay repeatable across a resume.

To add one, register a factory in a plugin:
``registry.augmentation('my_aug', MyAugmentation)`` in ``jacktf_register_augmentations``;
the factory's keyword options become gin parameters.
"""

import abc
import random

import tensorflow as tf

import jacktf
from jacktf.core.errors import ConfigError
from jacktf.data import augment_ops

STAGES = ('image', 'example', 'batch')


def _fold(seed, index):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), index)


def _uniform(seed, index, low=0.0, high=1.0):
    return tf.random.stateless_uniform([], _fold(seed, index), low, high)


def _beta(alpha, seed):
    """One Beta(alpha, alpha) draw from two stateless gamma draws."""
    a = tf.random.stateless_gamma([], _fold(seed, 101), alpha)
    b = tf.random.stateless_gamma([], _fold(seed, 102), alpha)
    return a / tf.maximum(a + b, 1e-12)


def _check_probability(name, value):
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f'{name} must be a probability in [0, 1], got {value!r}.')
    return float(value)


def _check_level(name, value):
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
        self.magnitude = _check_level('randaugment.magnitude', magnitude)
        self.ops = tuple(ops or augment_ops.RANDAUGMENT_OPS)
        unknown = [op for op in self.ops if op not in augment_ops.OPS]
        if unknown:
            raise ConfigError(f'randaugment.ops: unknown {unknown}; the ops are '
                              f'{", ".join(augment_ops.OPS)}.')

    def augment(self, image, seed):
        image = tf.cast(image, tf.float32)
        for layer in range(self.num_layers):
            pick = _fold(seed, 2 * layer)
            index = tf.random.stateless_uniform([], pick, 0, len(self.ops), dtype=tf.int32)
            op_seed = _fold(seed, 2 * layer + 1)
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
        index = tf.random.stateless_uniform([], _fold(seed, 0), 0, len(self.policy),
                                            dtype=tf.int32)
        # One switch over the policy's distinct ops per step (not one graph per
        # sub-policy): the tables give the drawn sub-policy's op, probability, level.
        for k in range(2):
            op = tf.gather([self.names.index(steps[k][0]) for steps in self.policy], index)
            probability = tf.gather([float(steps[k][1]) for steps in self.policy], index)
            level = tf.gather([float(steps[k][2]) for steps in self.policy], index)
            op_seed = _fold(seed, 11 + 2 * k)
            branches = [lambda name=name, image=image: augment_ops.OPS[name](
                image, level, op_seed) for name in self.names]
            image = tf.cond(_uniform(seed, 10 + 2 * k) < probability,
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
        self.probability = _check_probability('random_erasing.probability', probability)
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
        area = _uniform(seed, 1, *self.area) * h * w
        log_aspect = _uniform(seed, 2, tf.math.log(float(self.aspect[0])),
                              tf.math.log(float(self.aspect[1])))
        aspect = tf.exp(log_aspect)
        eh = tf.clip_by_value(tf.round(tf.sqrt(area * aspect)), 1.0, h)
        ew = tf.clip_by_value(tf.round(tf.sqrt(area / aspect)), 1.0, w)
        top = tf.floor(_uniform(seed, 3) * (h - eh + 1))
        left = tf.floor(_uniform(seed, 4) * (w - ew + 1))
        rows = tf.range(h)[:, None]
        cols = tf.range(w)[None, :]
        inside = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew)
        if self.fill == 'zero':
            fill = tf.zeros_like(image)
        else:
            mean, variance = tf.nn.moments(image, [0, 1, 2])
            fill = mean + tf.sqrt(variance) * tf.random.stateless_normal(
                shape, _fold(seed, 5), dtype=image.dtype)
        erase = inside[..., None] & (_uniform(seed, 0) < self.probability)
        return tf.where(erase, fill, image)


class Mixup(Augmentation):
    """mixup (Zhang et al. 2017): each batch is blended with itself reversed, images and
    one-hot labels alike, by lam ~ Beta(alpha, alpha).

    Args:
      alpha: the Beta distribution's parameter (0.2 is common for ImageNet).
      probability: chance that a batch is mixed.
    """
    name = 'mixup'
    stage = 'batch'

    def __init__(self, *, alpha=0.2, probability=1.0):
        if not float(alpha) > 0:
            raise ConfigError(f'mixup.alpha must be > 0, got {alpha!r}.')
        self.alpha = float(alpha)
        self.probability = _check_probability('mixup.probability', probability)

    def augment(self, images, labels, seed):
        lam = _beta(self.alpha, seed)
        lam = tf.where(_uniform(seed, 0) < self.probability, lam, 1.0)
        images = lam * images + (1 - lam) * tf.reverse(images, [0])
        labels = lam * labels + (1 - lam) * tf.reverse(labels, [0])
        return images, labels


class CutMix(Augmentation):
    """CutMix (Yun et al. 2019): a rectangle of each image is replaced by the same
    rectangle of the batch reversed; the labels mix by the pasted area.

    Args:
      alpha: lam ~ Beta(alpha, alpha); the rectangle covers about 1 - lam of the image.
      probability: chance that a batch is cut and mixed.
    """
    name = 'cutmix'
    stage = 'batch'

    def __init__(self, *, alpha=1.0, probability=1.0):
        if not float(alpha) > 0:
            raise ConfigError(f'cutmix.alpha must be > 0, got {alpha!r}.')
        self.alpha = float(alpha)
        self.probability = _check_probability('cutmix.probability', probability)

    def augment(self, images, labels, seed):
        shape = tf.shape(images)
        h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        ratio = tf.sqrt(1.0 - _beta(self.alpha, seed))
        cy, cx = _uniform(seed, 1) * h, _uniform(seed, 2) * w
        top = tf.clip_by_value(tf.round(cy - ratio * h / 2), 0.0, h)
        bottom = tf.clip_by_value(tf.round(cy + ratio * h / 2), 0.0, h)
        left = tf.clip_by_value(tf.round(cx - ratio * w / 2), 0.0, w)
        right = tf.clip_by_value(tf.round(cx + ratio * w / 2), 0.0, w)
        apply = _uniform(seed, 0) < self.probability
        rows = tf.range(h)[:, None]
        cols = tf.range(w)[None, :]
        box = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right) & apply
        images = tf.where(box[None, :, :, None], tf.reverse(images, [0]), images)
        pasted = tf.reduce_sum(tf.cast(box, tf.float32)) / (h * w)
        labels = (1 - pasted) * labels + pasted * tf.reverse(labels, [0])
        return images, labels


# -- applying a list of augmentations ----------------------------------------------------
def check(augmentations):
    """The list, each item an augmentation object (not a factory).

    Raises:
      ConfigError: an item without a known ``stage`` (e.g. ``@mixup`` without
        parentheses).
    """
    augmentations = list(augmentations or ())
    for item in augmentations:
        if isinstance(item, type) or getattr(item, 'stage', None) not in STAGES or \
                not callable(getattr(item, 'augment', None)):
            raise ConfigError(f'Experiment.augmentations takes augmentations such as '
                              f'@randaugment() (note the parentheses), got {item!r}. Run '
                              '`jacktf plugins --kind augmentation`.')
    return augmentations


def preprocess_fn(model, augmentations):
    """(uint8 image, training, seed) -> preprocessed image, with the image and example
    stages of ``augmentations`` around the model's preprocessing when training."""
    image_stage = [(i, a) for i, a in enumerate(augmentations) if a.stage == 'image']
    example_stage = [(i, a) for i, a in enumerate(augmentations) if a.stage == 'example']
    def model_preprocess(image, training, seed, cropped):
        if cropped:  # only models with a train_crop_window are asked for this
            return model.preprocess(image, training, seed, cropped=True)
        return model.preprocess(image, training, seed)

    def preprocess(image, training, seed, cropped=False):
        if not training or not (image_stage or example_stage):
            return model_preprocess(image, training, seed, cropped)
        if seed is None:
            seed = tf.random.uniform([2], 0, 2 ** 31 - 1, dtype=tf.int64)
        for index, augmentation in image_stage:
            image = augmentation.augment(image, _fold(seed, 1000 + index))
        image = model_preprocess(image, training, seed, cropped)
        for index, augmentation in example_stage:
            image = augmentation.augment(image, _fold(seed, 1000 + index))
        return image

    # The pipeline may decode only the preprocessing's first crop (jacktf.data.
    # fast_input) unless an image-stage augmentation needs the whole image first.
    crop_window = getattr(model, 'train_crop_window', None)
    window = None if image_stage or crop_window is None else crop_window()
    if window is not None:
        preprocess.crop_window = window
    return preprocess


def batch_stage(dataset, augmentations, num_classes, seed=None):
    """Applies the batch stage (with one-hot labels) to a batched dataset, if any."""
    stage = [(i, a) for i, a in enumerate(augmentations) if a.stage == 'batch']
    if not stage:
        return dataset
    base = tf.constant(random.randrange(2 ** 31) if seed is None else int(seed), tf.int64)

    def apply(position, images, labels):
        batch_seed = tf.stack([base, position])
        if not labels.dtype.is_floating:  # multi-label batches are multi-hot already
            labels = tf.one_hot(labels, num_classes, dtype=tf.float32)
        for index, augmentation in stage:
            images, labels = augmentation.augment(images, labels,
                                                  _fold(batch_seed, 1000 + index))
        return images, labels

    return dataset.enumerate().map(lambda k, batch: apply(k, *batch),
                                   num_parallel_calls=tf.data.AUTOTUNE,
                                   deterministic=True).prefetch(tf.data.AUTOTUNE)


@jacktf.hookimpl
def jacktf_register_augmentations(registry):
    """Registers randaugment, autoaugment, random_erasing, mixup and cutmix."""
    for cls in (RandAugment, AutoAugment, RandomErasing, Mixup, CutMix):
        registry.augmentation(cls.name, cls)
