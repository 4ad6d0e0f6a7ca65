"""Preprocessor plugins: uint8 [H, W, 3] -> float32 [S, S, 3].

Training-time randomness uses stateless random ops driven by ``seed`` (int [2]): the
input pipeline gives every element its own seed, so augmentation is a function of the
run's seed and the element's position in the stream. That keeps a deterministic run
repeatable after a resume and lets the tf.data iterator be checkpointed.

``vgg`` and ``inception`` follow the official research/slim preprocessing (at 224 the
VGG resize range is slim's [256, 512]; at other sizes it scales with the output, so
small inputs keep the same framing). ``simple`` resizes the whole image and maps it to
[-1, 1], for data already framed like the model input.
"""

import tensorflow as tf

import jacktf

VGG_MEANS = (123.68, 116.78, 103.94)


def _seeds(seed, count):
    """``count`` independent stateless seeds [2] from ``seed`` (None: a random one)."""
    if seed is None:
        seed = tf.random.uniform([2], 0, 2 ** 31 - 1, dtype=tf.int64)
    return tf.unstack(tf.random.experimental.stateless_split(
        tf.cast(seed, tf.int64), num=count))


def _to_float(image):
    return tf.image.convert_image_dtype(image, tf.float32)  # [0, 1]


def _resize_smaller_side(image, side):
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    side = tf.cast(side, tf.float32)
    scale = side / tf.minimum(h, w)
    new_h = tf.cast(tf.math.round(h * scale), tf.int32)
    new_w = tf.cast(tf.math.round(w * scale), tf.int32)
    return tf.image.resize(image, [tf.maximum(new_h, 1), tf.maximum(new_w, 1)],
                           method='bilinear')


def _central_crop_to(image, size):
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return tf.image.crop_to_bounding_box(image, top, left, size, size)


def vgg(image, *, image_size, is_training, resize_side_min=None, resize_side_max=None,
        seed=None):
    """Slim VGG/ResNet-v1: smaller side to [256, 512] (train) or 256 (eval), crop, mean."""
    low = resize_side_min or int(round(image_size * 256 / 224))
    high = resize_side_max or int(round(image_size * 512 / 224))
    image = tf.cast(image, tf.float32)
    if is_training:
        s_side, s_crop, s_flip = _seeds(seed, 3)
        side = tf.random.stateless_uniform([], s_side, low, high + 1, dtype=tf.int32)
        image = _resize_smaller_side(image, side)
        image = tf.image.stateless_random_crop(image, [image_size, image_size, 3], s_crop)
        image = tf.image.stateless_random_flip_left_right(image, s_flip)
    else:
        image = _resize_smaller_side(image, low)
        image = _central_crop_to(image, image_size)
    image = tf.reshape(image, [image_size, image_size, 3])
    return image - tf.constant(VGG_MEANS, tf.float32)


def _distort_color(image, seed):
    """Slim's fast-mode colour distortion: brightness and saturation, random order."""
    s_order, s_bright, s_sat = _seeds(seed, 3)

    def brightness(x):
        return tf.image.stateless_random_brightness(x, 32. / 255., s_bright)

    def saturation(x):
        return tf.image.stateless_random_saturation(x, 0.5, 1.5, s_sat)

    image = tf.cond(tf.random.stateless_uniform([], s_order) < 0.5,
                    lambda: saturation(brightness(image)),
                    lambda: brightness(saturation(image)))
    return tf.clip_by_value(image, 0.0, 1.0)


def inception(image, *, image_size, is_training, central_fraction=0.875,
              min_object_covered=0.1, area_range=(0.05, 1.0),
              aspect_ratio_range=(0.75, 1.33), fast_mode=True, seed=None):
    """Slim Inception: distorted box crop + flip + colour (train) or 0.875 crop; [-1, 1]."""
    image = _to_float(image)
    if is_training:
        s_box, s_flip, s_color, s_hue, s_contrast = _seeds(seed, 5)
        bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4])
        begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image), bounding_boxes=bbox, seed=s_box,
            min_object_covered=min_object_covered,
            aspect_ratio_range=aspect_ratio_range, area_range=area_range,
            max_attempts=100, use_image_if_no_bounding_boxes=True)
        image = tf.slice(image, begin, size)
        image = tf.image.resize(image, [image_size, image_size], method='bilinear')
        image = tf.image.stateless_random_flip_left_right(image, s_flip)
        image = _distort_color(image, s_color)
        if not fast_mode:
            image = tf.image.stateless_random_hue(image, 0.2, s_hue)
            image = tf.clip_by_value(
                tf.image.stateless_random_contrast(image, 0.5, 1.5, s_contrast), 0.0, 1.0)
    else:
        if central_fraction:
            image = tf.image.central_crop(image, central_fraction=central_fraction)
        image = tf.image.resize(image, [image_size, image_size], method='bilinear')
    image = tf.reshape(image, [image_size, image_size, 3])
    return (image - 0.5) * 2.0


def simple(image, *, image_size, is_training, seed=None):
    """Resize the whole image to the input size, random flip when training, [-1, 1]."""
    image = tf.image.resize(_to_float(image), [image_size, image_size], method='bilinear')
    if is_training:
        image = tf.image.stateless_random_flip_left_right(image, _seeds(seed, 1)[0])
    image = tf.reshape(image, [image_size, image_size, 3])
    return (image - 0.5) * 2.0


def _unit_range_to_pixels(images):
    """[-1, 1] (inception, simple) -> float pixels in [0, 255]."""
    return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 127.5, 0.0, 255.0)


def _vgg_to_pixels(images):
    """Mean-subtracted (vgg) -> float pixels in [0, 255]."""
    return tf.clip_by_value(tf.cast(images, tf.float32) + tf.constant(VGG_MEANS), 0.0,
                            255.0)


# The inverse of each style's normalization, for looking at preprocessed batches
# (Model.to_pixels). A third-party preprocessor may set ``fn.to_pixels`` the same way.
vgg.to_pixels = _vgg_to_pixels
inception.to_pixels = _unit_range_to_pixels
simple.to_pixels = _unit_range_to_pixels


@jacktf.hookimpl
def jacktf_register_preprocessors(registry):
    """Registers vgg, inception and simple."""
    for fn in (vgg, inception, simple):
        registry.preprocessor(fn.__name__, fn)
