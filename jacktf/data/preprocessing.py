"""The built-in preprocessing cards (``simple``, ``vgg``, ``inception``) and their
training augmentations.

A preprocessing is one :class:`jacktf.PreprocessingCard`: the eval geometry, the
normalization and the training path (a function to float pixels in [0, 255]). The
training/eval input, the batch preview, the galleries and the export's client steps are
all derived from the card. To add one, write a card (reuse a geometry, a normalization
or a training path) and register it::

    FINETUNE = dataclasses.replace(INCEPTION, train=my_train, summary='...')
    CARDS['inception_finetune'] = FINETUNE

Training-time randomness uses stateless random ops driven by ``seed`` (int64 [2]): the
input pipeline gives every element its own seed, so augmentation is a function of the
run's seed and the element's position in the stream.

``vgg`` and ``inception`` follow the official research/slim preprocessing
(``preprocessing/vgg_preprocessing.py`` and ``preprocessing/inception_preprocessing.py``
of tensorflow/models; at 224 the VGG resize range is slim's [256, 512]; at other sizes it
scales with the output, so small inputs keep the same framing). ``simple`` resizes the
whole image and maps it to [-1, 1], for data already framed like the model input.
"""

import tensorflow as tf

import jacktf
from jacktf.core.preprocessing_card import Geometry, Normalization, PreprocessingCard

VGG_MEANS = (123.68, 116.78, 103.94)  # slim vgg_preprocessing _R_MEAN, _G_MEAN, _B_MEAN
SLIM = 'tensorflow/models research/slim/preprocessing/'

# x / 127.5 - 1: slim's inception "image - 0.5, * 2.0" on [0, 1] floats.
UNIT_RANGE = Normalization(mean=127.5, std=127.5)
VGG_MEAN = Normalization(mean=VGG_MEANS, std=1.0)


def seeds(seed, count):
    """``count`` independent stateless seeds [2] from ``seed`` (None: a random one)."""
    if seed is None:
        seed = tf.random.uniform([2], 0, 2 ** 31 - 1, dtype=tf.int64)
    return tf.unstack(tf.random.experimental.stateless_split(
        tf.cast(seed, tf.int64), num=count))


def _resize_smaller_side(image, side):
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.minimum(h, w)
    new_h = tf.cast(tf.math.round(h * scale), tf.int32)
    new_w = tf.cast(tf.math.round(w * scale), tf.int32)
    return tf.image.resize(image, [tf.maximum(new_h, 1), tf.maximum(new_w, 1)],
                           method='bilinear')


def vgg_train(image, *, image_size, seed, resize_side_min=None, resize_side_max=None):
    """Slim VGG/ResNet-v1 training: smaller side to a random value in [256, 512] (at
    224; scaled with the size), a random crop, a random flip; float pixels."""
    low = resize_side_min or int(round(image_size * 256 / 224))
    high = resize_side_max or int(round(image_size * 512 / 224))
    s_side, s_crop, s_flip = seeds(seed, 3)
    side = tf.random.stateless_uniform([], s_side, low, high + 1, dtype=tf.int32)
    image = _resize_smaller_side(tf.cast(image, tf.float32), side)
    image = tf.image.stateless_random_crop(image, [image_size, image_size, 3], s_crop)
    return tf.image.stateless_random_flip_left_right(image, s_flip)


def _distort_color(image, seed):
    """Slim's fast-mode colour distortion: brightness and saturation, random order."""
    s_order, s_bright, s_sat = seeds(seed, 3)

    def brightness(x):
        return tf.image.stateless_random_brightness(x, 32. / 255., s_bright)

    def saturation(x):
        return tf.image.stateless_random_saturation(x, 0.5, 1.5, s_sat)

    image = tf.cond(tf.random.stateless_uniform([], s_order) < 0.5,
                    lambda: saturation(brightness(image)),
                    lambda: brightness(saturation(image)))
    return tf.clip_by_value(image, 0.0, 1.0)


def inception_train(image, *, image_size, seed, min_object_covered=0.1,
                    area_range=(0.05, 1.0), aspect_ratio_range=(0.75, 1.33),
                    fast_mode=True):
    """Slim Inception training: a distorted bounding-box crop (5-100% of the area),
    resize, random flip and colour distortion; float pixels."""
    image = tf.image.convert_image_dtype(image, tf.float32)  # [0, 1], as slim's
    s_box, s_flip, s_color, s_hue, s_contrast = seeds(seed, 5)
    bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4])
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=bbox, seed=s_box,
        min_object_covered=min_object_covered, aspect_ratio_range=aspect_ratio_range,
        area_range=area_range, max_attempts=100, use_image_if_no_bounding_boxes=True)
    image = tf.slice(image, begin, size)
    image = tf.image.resize(image, [image_size, image_size], method='bilinear')
    image = tf.image.stateless_random_flip_left_right(image, s_flip)
    image = _distort_color(image, s_color)
    if not fast_mode:
        image = tf.image.stateless_random_hue(image, 0.2, s_hue)
        image = tf.clip_by_value(
            tf.image.stateless_random_contrast(image, 0.5, 1.5, s_contrast), 0.0, 1.0)
    return image * 255.0


def simple_train(image, *, image_size, seed):
    """Resize the whole image, random flip; float pixels."""
    image = tf.image.resize(tf.cast(image, tf.float32), [image_size, image_size],
                            method='bilinear')
    return tf.image.stateless_random_flip_left_right(image, seeds(seed, 1)[0])


SIMPLE = PreprocessingCard(
    geometry=Geometry('crop_then_resize', 1.0), normalization=UNIT_RANGE,
    train=simple_train,
    summary='Resize the whole image to the input size, random flip when training, '
            '[-1, 1].',
    source="jacktf's own (for data framed like the model input); the range is slim "
           "inception's")
VGG = PreprocessingCard(
    geometry=Geometry('resize_then_crop', 224 / 256), normalization=VGG_MEAN,
    train=vgg_train,
    summary='Slim VGG/ResNet-v1: smaller side to [256, 512] (train) or 256 (eval), crop, '
            'minus the ImageNet mean.',
    source=SLIM + 'vgg_preprocessing.py (preprocess_for_train, preprocess_for_eval)')
INCEPTION = PreprocessingCard(
    geometry=Geometry('crop_then_resize', 0.875), normalization=UNIT_RANGE,
    train=inception_train,
    summary='Slim Inception: distorted box crop + flip + colour (train) or central 0.875 '
            'crop (eval); [-1, 1].',
    source=SLIM + 'inception_preprocessing.py (preprocess_for_train, '
                  'preprocess_for_eval)')

CARDS = {'simple': SIMPLE, 'vgg': VGG, 'inception': INCEPTION}


def simple(image, *, image_size, is_training, seed=None):
    """The ``simple`` card's preprocessing: uint8 [H, W, 3] -> model input."""
    return SIMPLE.preprocess(image, image_size=image_size, is_training=is_training,
                             seed=seed)


def vgg(image, *, image_size, is_training, seed=None):
    """The ``vgg`` card's preprocessing: uint8 [H, W, 3] -> model input."""
    return VGG.preprocess(image, image_size=image_size, is_training=is_training, seed=seed)


def inception(image, *, image_size, is_training, seed=None):
    """The ``inception`` card's preprocessing: uint8 [H, W, 3] -> model input."""
    return INCEPTION.preprocess(image, image_size=image_size, is_training=is_training,
                                seed=seed)


@jacktf.hookimpl
def jacktf_register_preprocessors(registry):
    """Registers the built-in cards (simple, vgg, inception)."""
    for name, card in CARDS.items():
        registry.preprocessor(name, card)
