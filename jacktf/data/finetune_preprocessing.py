"""Fine-tuning preprocessings: mild augmentation for a warm-started run.

The ImageNet training augmentations (``inception``: crops down to 5% of the image plus
colour distortion; ``vgg``: rescale-and-crop) were designed for 90 epochs on a million
images. Fine-tuning on a few hundred images for ten epochs wants the augmentation of
fastai's ``aug_transforms`` and of the Keras transfer-learning guide: a random resized
crop that keeps most of the image (area 0.6-1, aspect 3/4-4/3), no colour distortion
(colour is often what tells the classes apart), and a horizontal flip only when asked
(``Model.flip = True``): on digit scans it cost 2-4 points, on photos it gained nothing
measurable (bench/quality.py, docs/guides/defaults.md).

There is one card per backbone family: ``inception_finetune``, ``vgg_finetune`` and
``simple_finetune``. Each is its family's card (jacktf.data.preprocessing) with another
training path: the same geometry, normalization and inverse, so evaluation, export and
serving see exactly what they saw before. A run that warm-starts from a checkpoint and
leaves ``Model.preprocessing`` unset trains with the fine-tuning card of its backbone's
family (see ``finetune_name``); training from scratch keeps the ImageNet augmentation.
``Model.flip = True`` turns the flip on (photos whose left and right mean the same);
``Model.preprocessing_kwargs = {'area_range': (0.35, 1.0)}`` changes
the crop.
"""

import dataclasses

import tensorflow as tf

import jacktf
from jacktf.data import preprocessing as base

AREA_RANGE = (0.6, 1.0)
ASPECT_RANGE = (3. / 4., 4. / 3.)


def crop_window(shape, *, seed, area_range=AREA_RANGE, aspect_ratio_range=ASPECT_RANGE):
    """(begin, size) of the random box ``random_resized_crop`` cuts from an image of
    ``shape`` [H, W, 3] with ``seed``: the pipeline decodes a JPEG in this window only
    (jacktf.data.fast_input)."""
    s_box, _ = base.seeds(seed, 2)
    bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4])
    begin, box, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape, bounding_boxes=bbox, seed=s_box, min_object_covered=0.0,
        aspect_ratio_range=aspect_ratio_range, area_range=area_range, max_attempts=100,
        use_image_if_no_bounding_boxes=True)
    return begin, box


def random_resized_crop(image, *, image_size, seed, area_range=AREA_RANGE,
                        aspect_ratio_range=ASPECT_RANGE, flip=False, cropped=False):
    """A random box of ``area_range`` of the image and ``aspect_ratio_range``, resized to
    ``image_size`` x ``image_size`` (bilinear); flipped left-right half of the time when
    ``flip``. The training path of the fine-tuning cards.

    Args:
      image: uint8 or float pixels [H, W, 3] in [0, 255].
      image_size: the output side S.
      seed: int64 [2], a stateless seed.
      cropped: ``image`` already is the box ``crop_window`` gives for the whole
        image's shape and ``seed`` (decoded in that window only).

    Returns:
      float32 pixels [S, S, 3] in [0, 255].
    """
    _, s_flip = base.seeds(seed, 2)
    if not cropped:
        begin, box = crop_window(tf.shape(image), seed=seed, area_range=area_range,
                                 aspect_ratio_range=aspect_ratio_range)
        image = tf.slice(image, begin, box)
    image = tf.image.resize(tf.cast(image, tf.float32), [image_size, image_size],
                            method='bilinear')
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, s_flip)
    return tf.reshape(image, [image_size, image_size, 3])


random_resized_crop.crop_window = crop_window


def _finetune(card, family):
    return dataclasses.replace(
        card, train=random_resized_crop,
        summary=f'{family} for fine-tuning: random resized crop (area 0.6-1, aspect '
                '3/4-4/3), flipped when Model.flip (train); eval as ' + family + '.',
        source=card.source + '; training path: fastai aug_transforms / the Keras '
                             'transfer-learning guide (docs/guides/defaults.md)')


CARDS = {f'{name}_finetune': _finetune(base.CARDS[name], name)
         for name in ('inception', 'vgg', 'simple')}
FINETUNE = {name: f'{name}_finetune' for name in ('inception', 'vgg', 'simple')}


def finetune_name(preprocessing):
    """The fine-tuning preprocessing of ``preprocessing``'s family (itself when it has
    none, e.g. a third-party preprocessor or one that already is a fine-tuning one)."""
    return FINETUNE.get(preprocessing, preprocessing)


def _preprocess(name):
    card = CARDS[name]

    def preprocess(image, *, image_size, is_training, seed=None, **options):
        return card.preprocess(image, image_size=image_size, is_training=is_training,
                               seed=seed, options=options)
    preprocess.__name__ = name
    preprocess.__doc__ = f'The ``{name}`` card\'s preprocessing: uint8 [H, W, 3] -> model input.'
    return preprocess


inception_finetune = _preprocess('inception_finetune')
vgg_finetune = _preprocess('vgg_finetune')
simple_finetune = _preprocess('simple_finetune')


@jacktf.hookimpl
def jacktf_register_preprocessors(registry):
    """Registers inception_finetune, vgg_finetune and simple_finetune."""
    for name, card in CARDS.items():
        registry.preprocessor(name, card)
