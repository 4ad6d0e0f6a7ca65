"""What one serving request may cost: images are measured by their header first.

An encoded image of a few kilobytes can declare 20000x20000 pixels (1.2 GB decoded);
``tf.io.decode_image`` would allocate that and more. ``checked_decode`` reads the
declared width and height from the header (JPEG, PNG, GIF, BMP through
``jacktf.data.images`` as the training pipeline does, WebP here) and fails the request
with InvalidArgument when they exceed the limit saved with the export
(``ServingModule.max_pixels``), before any pixel is decoded. The REST helper
(``serve.rest``) applies the same limit and its own to the request's JSON.
"""

import tensorflow as tf

from jacktf.data import images

DEFAULT_MAX_PIXELS = 40_000_000  # e.g. 8000x5000: more than any camera photo needs
RIFF, WEBP = b'RIFF', b'WEBP'


def _bits(value, shift, width):
    return tf.bitwise.bitwise_and(tf.bitwise.right_shift(value, shift), 2 ** width - 1)


def webp_pixels(data):
    """Width x height declared by a WebP header (VP8, VP8L or VP8X); 0 if not WebP."""
    chunk = tf.strings.substr(data, 12, 4)
    u = images._uint  # (data, offset, size, little_endian)

    def vp8():
        return _bits(u(data, 26, 2, True), 0, 14) * _bits(u(data, 28, 2, True), 0, 14)

    def vp8l():
        packed = u(data, 21, 4, True)
        return (_bits(packed, 0, 14) + 1) * (_bits(packed, 14, 14) + 1)

    def vp8x():
        return (u(data, 24, 3, True) + 1) * (u(data, 27, 3, True) + 1)

    is_webp = tf.logical_and(tf.equal(tf.strings.substr(data, 0, 4), RIFF),
                             tf.equal(tf.strings.substr(data, 8, 4), WEBP))
    return tf.case([(tf.logical_and(is_webp, tf.equal(chunk, b'VP8 ')), vp8),
                    (tf.logical_and(is_webp, tf.equal(chunk, b'VP8L')), vp8l),
                    (tf.logical_and(is_webp, tf.equal(chunk, b'VP8X')), vp8x)],
                   default=lambda: tf.constant(0, tf.int64), exclusive=False)


@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def declared_pixels(data):
    """Pixels an encoded image's header declares (0: a format the header reader does
    not know; ``decode_image`` then refuses it or it is WebP-free)."""
    return tf.maximum(images.declared_pixels(data), webp_pixels(data))


def checked_decode(data, max_pixels):
    """``tf.io.decode_image`` (RGB, first frame) after checking the declared size.

    Raises (when run):
      tf.errors.InvalidArgumentError: the header declares more than ``max_pixels``.
    """
    pixels = declared_pixels(data)
    check = tf.debugging.Assert(
        pixels <= tf.cast(max_pixels, tf.int64),
        ['image too large: its header declares', pixels, 'pixels, more than the limit of',
         max_pixels, 'saved with this export'], summarize=3)
    with tf.control_dependencies([check]):
        return tf.io.decode_image(tf.identity(data), channels=3, expand_animations=False)
