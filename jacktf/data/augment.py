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

import random

import tensorflow as tf

import jacktf
from jacktf.core.errors import ConfigError
# Re-exported: the augmentations and their base class, by their documented path.
from jacktf.data.augment_base import STAGES, Augmentation, fold  # noqa: F401
from jacktf.data.batch_augment import CutMix, Mixup
from jacktf.data.image_augment import AutoAugment, RandAugment, RandomErasing


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
            image = augmentation.augment(image, fold(seed, 1000 + index))
        image = model_preprocess(image, training, seed, cropped)
        for index, augmentation in example_stage:
            image = augmentation.augment(image, fold(seed, 1000 + index))
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
                                                  fold(batch_seed, 1000 + index))
        return images, labels

    return dataset.enumerate().map(lambda k, batch: apply(k, *batch),
                                   num_parallel_calls=tf.data.AUTOTUNE,
                                   deterministic=True).prefetch(tf.data.AUTOTUNE)


@jacktf.hookimpl
def jacktf_register_augmentations(registry):
    """Registers randaugment, autoaugment, random_erasing, mixup and cutmix."""
    for cls in (RandAugment, AutoAugment, RandomErasing, Mixup, CutMix):
        registry.augmentation(cls.name, cls)
