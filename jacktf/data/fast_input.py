"""Faster decoding for the input pipeline: crop-window JPEG decode and the in-memory
cache of decoded images.

Crop-window decode: a training preprocessing whose first step is a random crop (the
fine-tuning cards' random resized crop) publishes that crop as ``crop_window(shape,
seed) -> (begin, size)``. For a JPEG the pipeline reads the shape from the header
(``tf.image.extract_jpeg_shape``), draws the same box from the same seed and decodes
only that window (``tf.image.decode_and_crop_jpeg``): the same pixels as decoding the
whole image and cutting the box out, without decoding the rest. Other formats decode
whole.

Decoded cache: when the training set fits a memory budget, the pipeline keeps every
image decoded, its shorter side brought down to ``side`` pixels (never enlarged), and
runs only the augmentation at each epoch (:func:`cache_plan` picks ``side``).
"""

import math

import tensorflow as tf

from jacktf.data import images

DEFAULT_BUDGET_MB = 1024
SIDE_FACTORS = (2.0, 1.5, 1.25)  # cached shorter side / model input side, best first
MARGIN = 2  # pixels decoded around a crop window (see decode_window)
_ASPECT = 4.0 / 3.0  # the frame assumed when estimating the cache's size (photos)


def cache_plan(examples, image_size, budget_mb=DEFAULT_BUDGET_MB):
    """(side, megabytes) of a decoded cache of ``examples`` images for an input of
    ``image_size``: the largest shorter side of SIDE_FACTORS x image_size whose cache
    fits ``budget_mb``; (None, megabytes at the smallest side) when none fits or the
    count is unknown (None)."""
    if not examples or not budget_mb:
        return None, None
    for factor in SIDE_FACTORS:
        side = int(math.ceil(factor * image_size))
        mb = examples * side * side * _ASPECT * 3 / 2 ** 20
        if mb <= budget_mb:
            return side, mb
    return None, mb


def describe_cache(examples, image_size, side, mb, budget_mb):
    """The start line's part about the decoded cache."""
    if side:
        return (f'input: {examples} decoded images kept in memory (shorter side <= {side} '
                f'px, at most about {mb:.0f} MB of Experiment.cache_budget_mb = {budget_mb}); '
                'augmentation runs at every epoch')
    if not examples:
        return 'input: decoded every epoch (the example count is unknown)'
    if not budget_mb:
        return 'input: decoded every epoch (Experiment.cache_budget_mb = 0)'
    return (f'input: decoded every epoch ({examples} images need about {mb:.0f} MB at '
            f'the smallest cached side, over Experiment.cache_budget_mb = {budget_mb})')


def decode(encoded):
    """Encoded bytes -> uint8 [H, W, 3], as the pipeline always decodes."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def shrink(image, side):
    """uint8 [H, W, 3] with its shorter side brought down to ``side`` (antialiased
    bilinear, rounded back to uint8); smaller images unchanged."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    short = tf.minimum(h, w)

    def resized():
        scale = tf.cast(side, tf.float32) / tf.cast(short, tf.float32)
        size = [tf.maximum(1, tf.cast(tf.round(tf.cast(h, tf.float32) * scale), tf.int32)),
                tf.maximum(1, tf.cast(tf.round(tf.cast(w, tf.float32) * scale), tf.int32))]
        out = tf.image.resize(image, size, method='bilinear', antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)
    out = tf.cond(short > side, resized, lambda: image)
    out.set_shape([None, None, 3])
    return out


def decode_window(encoded, begin, size, shape=None):
    """The window ``begin`` [y, x, 0], ``size`` [h, w, -1 or 3] of a JPEG, decoded alone.

    libjpeg's chroma upsampling reads the neighbours of a pixel, which a window cut at
    its edge lacks (the last column then differs by up to ~40 levels with 4:2:0
    subsampling), so the window is decoded with a margin of MARGIN pixels and cut
    after: the pixels equal those of the whole image decoded.
    """
    if shape is None:
        shape = tf.image.extract_jpeg_shape(encoded)
    y0, x0 = tf.maximum(begin[0] - MARGIN, 0), tf.maximum(begin[1] - MARGIN, 0)
    y1 = tf.minimum(begin[0] + size[0] + MARGIN, shape[0])
    x1 = tf.minimum(begin[1] + size[1] + MARGIN, shape[1])
    image = tf.image.decode_and_crop_jpeg(encoded, tf.stack([y0, x0, y1 - y0, x1 - x0]),
                                          channels=3)
    image = image[begin[0] - y0:begin[0] - y0 + size[0],
                  begin[1] - x0:begin[1] - x0 + size[1]]
    image.set_shape([None, None, 3])
    return image


def decode_and_preprocess(encoded, preprocess_fn, training, seed):
    """Decodes ``encoded`` and preprocesses it; a JPEG whose training preprocessing
    starts with a crop (``preprocess_fn.crop_window``) is decoded in that window only."""
    crop_window = getattr(preprocess_fn, 'crop_window', None) if training else None
    if crop_window is None or seed is None:
        return preprocess_fn(decode(encoded), training, seed)

    def windowed():
        shape = tf.image.extract_jpeg_shape(encoded)
        begin, size = crop_window(tf.stack([shape[0], shape[1], 3]), seed)
        return preprocess_fn(decode_window(encoded, begin, size, shape), training, seed,
                             cropped=True)
    is_jpeg = tf.equal(images.image_format(encoded), 1)
    return tf.cond(is_jpeg, windowed,
                   lambda: preprocess_fn(decode(encoded), training, seed))
