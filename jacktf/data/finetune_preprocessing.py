"""Fine-tuning preprocessors: mild augmentation for a warm-started run.

The ImageNet training augmentations (``inception``: crops down to 5% of the image plus
colour distortion; ``vgg``: rescale-and-crop) were designed for 90 epochs on a million
images. Fine-tuning on a few hundred images for ten epochs wants the augmentation of
fastai's ``aug_transforms`` and of the Keras transfer-learning guide: a random resized
crop that keeps most of the image (area 0.6-1, aspect 3/4-4/3), an optional horizontal
flip, and no colour distortion (colour is often what tells the classes apart).

There is one per backbone family: ``inception_finetune``, ``vgg_finetune`` and
``simple_finetune``. Each keeps its family's normalization and its evaluation path
unchanged (evaluation, export and serving see exactly what they saw before); only the
training branch differs. A run that warm-starts from a checkpoint and leaves
``Model.preprocessing`` unset trains with the fine-tuning one of its backbone's family
(see ``finetune_name``); training from scratch keeps the ImageNet augmentation.
``Model.flip = False`` turns the flip off (text, digits, classes told apart by their
left and right).
"""

import tensorflow as tf

import jacktf
from jacktf.data import preprocessing as base

AREA_RANGE = (0.6, 1.0)
ASPECT_RANGE = (3. / 4., 4. / 3.)


def random_resized_crop(image, size, seed, *, area_range=AREA_RANGE,
                        aspect_ratio_range=ASPECT_RANGE, flip=True):
    """A random box of ``area_range`` of the image and ``aspect_ratio_range``, resized to
    ``size`` x ``size`` (bilinear); flipped left-right half of the time when ``flip``.

    ``image`` is float [H, W, 3]; ``seed`` an int [2] stateless seed (None: random).
    """
    s_box, s_flip = base._seeds(seed, 2)
    bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4])
    begin, box, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=bbox, seed=s_box, min_object_covered=0.0,
        aspect_ratio_range=aspect_ratio_range, area_range=area_range, max_attempts=100,
        use_image_if_no_bounding_boxes=True)
    image = tf.image.resize(tf.slice(image, begin, box), [size, size], method='bilinear')
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, s_flip)
    return tf.reshape(image, [size, size, 3])


def inception_finetune(image, *, image_size, is_training, flip=True, seed=None,
                       area_range=AREA_RANGE, aspect_ratio_range=ASPECT_RANGE):
    """Random resized crop (area 0.6-1) + optional flip, [-1, 1]; eval: ``inception``'s."""
    if not is_training:
        return base.inception(image, image_size=image_size, is_training=False)
    image = random_resized_crop(base._to_float(image), image_size, seed, flip=flip,
                                area_range=area_range,
                                aspect_ratio_range=aspect_ratio_range)
    return (image - 0.5) * 2.0


def vgg_finetune(image, *, image_size, is_training, flip=True, seed=None,
                 area_range=AREA_RANGE, aspect_ratio_range=ASPECT_RANGE):
    """Random resized crop (area 0.6-1) + optional flip, mean-subtracted; eval: ``vgg``'s."""
    if not is_training:
        return base.vgg(image, image_size=image_size, is_training=False)
    image = random_resized_crop(tf.cast(image, tf.float32), image_size, seed, flip=flip,
                                area_range=area_range,
                                aspect_ratio_range=aspect_ratio_range)
    return image - tf.constant(base.VGG_MEANS, tf.float32)


def simple_finetune(image, *, image_size, is_training, flip=True, seed=None,
                    area_range=AREA_RANGE, aspect_ratio_range=ASPECT_RANGE):
    """Random resized crop (area 0.6-1) + optional flip, [-1, 1]; eval: ``simple``'s."""
    if not is_training:
        return base.simple(image, image_size=image_size, is_training=False)
    image = random_resized_crop(base._to_float(image), image_size, seed, flip=flip,
                                area_range=area_range,
                                aspect_ratio_range=aspect_ratio_range)
    return (image - 0.5) * 2.0


# Each keeps its family's normalization, so its inverse too.
inception_finetune.to_pixels = base.inception.to_pixels
vgg_finetune.to_pixels = base.vgg.to_pixels
simple_finetune.to_pixels = base.simple.to_pixels

FINETUNE = {'inception': 'inception_finetune', 'vgg': 'vgg_finetune',
            'simple': 'simple_finetune'}


def finetune_name(preprocessing):
    """The fine-tuning preprocessor of ``preprocessing``'s family (itself when it has
    none, e.g. a third-party preprocessor or one that already is a fine-tuning one)."""
    return FINETUNE.get(preprocessing, preprocessing)


@jacktf.hookimpl
def jacktf_register_preprocessors(registry):
    """Registers inception_finetune, vgg_finetune and simple_finetune."""
    for fn in (inception_finetune, vgg_finetune, simple_finetune):
        registry.preprocessor(fn.__name__, fn)
