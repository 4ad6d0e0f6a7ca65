"""Image operations of RandAugment and AutoAugment, in TensorFlow, stateless.

Each op takes a float32 image [H, W, 3] holding pixel values in [0, 255], a magnitude
on the papers' 0..10 scale and a stateless seed (int64 [2], used only for the random
sign of signed ops), and returns an image of the same shape and range. They follow the
PIL operations the papers used (ImageOps / ImageEnhance), written from their
definitions: an enhance factor f blends the image with a "degenerate" image,
degenerate + f * (image - degenerate).
"""

import math

import tensorflow as tf

MAX_LEVEL = 10.0
FILL = 128.0  # pixels uncovered by a geometric op: middle gray


def _signed(value, seed):
    """``value`` or ``-value``, each with probability 1/2 (stateless)."""
    flip = tf.random.stateless_uniform([], seed) < 0.5
    return tf.where(flip, -value, value)


def _blend(degenerate, image, factor):
    return tf.clip_by_value(degenerate + factor * (image - degenerate), 0.0, 255.0)


def _enhance_factor(level):
    return level / MAX_LEVEL * 1.8 + 0.1


def _grayscale(image):
    return tf.reduce_sum(image * tf.constant([0.299, 0.587, 0.114]), -1, keepdims=True)


def _transform(image, matrix):
    """Output pixel (x, y) reads input (a0 x + a1 y + a2, b0 x + b1 y + b2)."""
    shape = tf.shape(image)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=tf.reshape(tf.cast(matrix, tf.float32), [1, 8]),
        output_shape=shape[:2], fill_value=FILL, interpolation='NEAREST',
        fill_mode='CONSTANT')
    return tf.reshape(out[0], shape)


# -- ops without a magnitude -----------------------------------------------------------
def auto_contrast(image, level, seed):
    """Each channel stretched so its darkest pixel is 0 and its brightest 255 (PIL's
    lookup table: floor(x * scale + offset), in double precision)."""
    del level, seed
    x = tf.cast(image, tf.float64)
    low = tf.reduce_min(x, [0, 1], keepdims=True)
    high = tf.reduce_max(x, [0, 1], keepdims=True)
    scale = tf.where(high > low, 255.0 / tf.maximum(high - low, 1e-6), 1.0)
    offset = tf.where(high > low, -low * scale, 0.0)
    return tf.cast(tf.clip_by_value(tf.floor(x * scale + offset), 0.0, 255.0), tf.float32)


def equalize(image, level, seed):
    """Histogram equalization of each channel, as PIL's ImageOps.equalize: a channel's
    lookup table is (cumulative histogram + step // 2) // step, shifted by one bin, with
    step = (pixels - count of the brightest value) // 255; a channel whose step is 0
    stays as it is."""
    del level, seed
    values = tf.cast(image, tf.int32)
    offsets = tf.constant([0, 256, 512])
    hist = tf.reshape(tf.math.bincount(tf.reshape(values + offsets, [-1]),
                                       minlength=768, maxlength=768), [3, 256])
    # The count of each channel's brightest value present.
    present = tf.cast(hist > 0, tf.int32) * tf.range(256)[None]
    last = tf.gather(hist, tf.reduce_max(present, 1), batch_dims=1)
    step = (tf.reduce_sum(hist, 1) - last) // 255  # [3]
    safe = tf.maximum(step, 1)[:, None]
    lut = (tf.cumsum(hist, axis=1) + safe // 2) // safe
    lut = tf.clip_by_value(tf.concat([tf.zeros([3, 1], tf.int32), lut[:, :-1]], 1), 0, 255)
    mapped = tf.gather(tf.reshape(lut, [-1]), values + offsets)
    return tf.where(step > 0, tf.cast(mapped, tf.float32), image)


def invert(image, level, seed):
    del level, seed
    return 255.0 - image


# -- ops with a magnitude ----------------------------------------------------------------
def rotate(image, level, seed):
    """Rotation about the centre by up to 30 degrees (either way)."""
    angle = _signed(level / MAX_LEVEL * 30.0 * math.pi / 180.0, seed)
    shape = tf.cast(tf.shape(image), tf.float32)
    cx, cy = (shape[1] - 1) / 2, (shape[0] - 1) / 2
    cos, sin = tf.cos(angle), tf.sin(angle)
    return _transform(image, [cos, -sin, cx - cos * cx + sin * cy,
                              sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])


def shear_x(image, level, seed):
    s = _signed(level / MAX_LEVEL * 0.3, seed)
    return _transform(image, [1.0, s, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])


def shear_y(image, level, seed):
    s = _signed(level / MAX_LEVEL * 0.3, seed)
    return _transform(image, [1.0, 0.0, 0.0, s, 1.0, 0.0, 0.0, 0.0])


def translate_x(image, level, seed):
    """Shift by up to a third of the width (100 pixels of a 299 image)."""
    t = _signed(level / MAX_LEVEL / 3.0, seed) * tf.cast(tf.shape(image)[1], tf.float32)
    return _transform(image, [1.0, 0.0, -t, 0.0, 1.0, 0.0, 0.0, 0.0])


def translate_y(image, level, seed):
    t = _signed(level / MAX_LEVEL / 3.0, seed) * tf.cast(tf.shape(image)[0], tf.float32)
    return _transform(image, [1.0, 0.0, 0.0, 0.0, 1.0, -t, 0.0, 0.0])


def posterize(image, level, seed):
    """Keeps the 8 - 4 * level / 10 high bits of each pixel (4 bits at level 10)."""
    del seed
    shift = tf.cast(tf.math.floor(level / MAX_LEVEL * 4.0), tf.uint8)
    pixels = tf.cast(image, tf.uint8)
    return tf.cast(tf.bitwise.left_shift(tf.bitwise.right_shift(pixels, shift), shift),
                   tf.float32)


def solarize(image, level, seed):
    """Inverts the pixels at or above 256 - 256 * level / 10."""
    del seed
    threshold = 256.0 - level / MAX_LEVEL * 256.0
    return tf.where(image >= threshold, 255.0 - image, image)


def solarize_add(image, level, seed):
    """Adds up to 110 to the pixels below 128."""
    del seed
    added = tf.clip_by_value(image + level / MAX_LEVEL * 110.0, 0.0, 255.0)
    return tf.where(image < 128.0, added, image)


def color(image, level, seed):
    """Saturation: blends with the grayscale image."""
    del seed
    return _blend(tf.broadcast_to(_grayscale(image), tf.shape(image)), image,
                  _enhance_factor(level))


def contrast(image, level, seed):
    """Blends with the mean gray level."""
    del seed
    mean = tf.reduce_mean(_grayscale(image))
    return _blend(tf.fill(tf.shape(image), mean), image, _enhance_factor(level))


def brightness(image, level, seed):
    """Blends with black."""
    del seed
    return _blend(tf.zeros_like(image), image, _enhance_factor(level))


def sharpness(image, level, seed):
    """Blends with PIL's smoothed image (3x3 kernel, centre 5; the border kept)."""
    del seed
    kernel = tf.constant([[1., 1., 1.], [1., 5., 1.], [1., 1., 1.]]) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], 'VALID')[0]
    smooth = tf.round(smooth)
    inner = tf.pad(tf.ones_like(smooth), [[1, 1], [1, 1], [0, 0]])
    degenerate = tf.where(inner > 0, tf.pad(smooth, [[1, 1], [1, 1], [0, 0]]), image)
    return _blend(degenerate, image, _enhance_factor(level))


def cutout(image, level, seed):
    """A gray square of side up to a fifth of the image, at a random place."""
    shape = tf.shape(image)
    side = tf.cast(tf.round(level / MAX_LEVEL * 0.2 *
                            tf.cast(tf.minimum(shape[0], shape[1]), tf.float32)), tf.int32)
    cy = tf.random.stateless_uniform([], seed, 0, shape[0], dtype=tf.int32)
    cx = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(
        seed, 1), 0, shape[1], dtype=tf.int32)
    rows = tf.range(shape[0])[:, None]
    cols = tf.range(shape[1])[None, :]
    inside = (tf.abs(rows - cy) <= side // 2) & (tf.abs(cols - cx) <= side // 2) & \
        (side > 0)
    return tf.where(inside[..., None], FILL, image)


OPS = {
    'AutoContrast': auto_contrast, 'Equalize': equalize, 'Invert': invert,
    'Rotate': rotate, 'ShearX': shear_x, 'ShearY': shear_y,
    'TranslateX': translate_x, 'TranslateY': translate_y, 'Posterize': posterize,
    'Solarize': solarize, 'SolarizeAdd': solarize_add, 'Color': color,
    'Contrast': contrast, 'Brightness': brightness, 'Sharpness': sharpness,
    'Cutout': cutout,
}

# RandAugment's ops (Cubuk et al. 2019, as in the TPU EfficientNet code).
RANDAUGMENT_OPS = ('AutoContrast', 'Equalize', 'Invert', 'Rotate', 'Posterize',
                   'Solarize', 'Color', 'Contrast', 'Brightness', 'Sharpness', 'ShearX',
                   'ShearY', 'TranslateX', 'TranslateY', 'Cutout', 'SolarizeAdd')

# AutoAugment's ImageNet policy (Cubuk et al. 2018, appendix): 25 sub-policies of two
# (op, probability, magnitude) steps; one sub-policy is drawn per image.
IMAGENET_POLICY = (
    (('Posterize', 0.4, 8), ('Rotate', 0.6, 9)),
    (('Solarize', 0.6, 5), ('AutoContrast', 0.6, 5)),
    (('Equalize', 0.8, 8), ('Equalize', 0.6, 3)),
    (('Posterize', 0.6, 7), ('Posterize', 0.6, 6)),
    (('Equalize', 0.4, 7), ('Solarize', 0.2, 4)),
    (('Equalize', 0.4, 4), ('Rotate', 0.8, 8)),
    (('Solarize', 0.6, 3), ('Equalize', 0.6, 7)),
    (('Posterize', 0.8, 5), ('Equalize', 1.0, 2)),
    (('Rotate', 0.2, 3), ('Solarize', 0.6, 8)),
    (('Equalize', 0.6, 8), ('Posterize', 0.4, 6)),
    (('Rotate', 0.8, 8), ('Color', 0.4, 0)),
    (('Rotate', 0.4, 9), ('Equalize', 0.6, 2)),
    (('Equalize', 0.0, 7), ('Equalize', 0.8, 8)),
    (('Invert', 0.6, 4), ('Equalize', 1.0, 8)),
    (('Color', 0.6, 4), ('Contrast', 1.0, 8)),
    (('Rotate', 0.8, 8), ('Color', 1.0, 2)),
    (('Color', 0.8, 8), ('Solarize', 0.8, 7)),
    (('Sharpness', 0.4, 7), ('Invert', 0.6, 8)),
    (('ShearX', 0.6, 5), ('Equalize', 1.0, 9)),
    (('Color', 0.4, 0), ('Equalize', 0.6, 3)),
    (('Equalize', 0.4, 7), ('Solarize', 0.2, 4)),
    (('Solarize', 0.6, 5), ('AutoContrast', 0.6, 5)),
    (('Invert', 0.6, 4), ('Equalize', 1.0, 8)),
    (('Color', 0.6, 4), ('Contrast', 1.0, 8)),
    (('Equalize', 0.8, 8), ('Equalize', 0.6, 3)),
)
