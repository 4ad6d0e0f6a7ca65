"""In-graph checks of encoded images, before their pixels are decoded.

``looks_complete`` catches what would crash a training run later (empty records,
unknown formats, truncated JPEG/PNG/GIF/BMP files); ``declared_pixels`` reads width and
height from the header so oversized images are rejected without decoding them.
"""

import tensorflow as tf

JPEG = b'\xff\xd8\xff'
PNG = b'\x89PNG\r\n\x1a\n'
GIF = b'GIF8'
BMP = b'BM'


def _starts(data, prefix):
    return tf.equal(tf.strings.substr(data, 0, len(prefix)), prefix)


def _tail(data, n):
    length = tf.strings.length(data)
    return tf.strings.substr(data, tf.maximum(length - n, 0), n)


def _contains(data, needle):
    return tf.size(tf.strings.split(tf.reshape(data, [1]), sep=needle).flat_values) > 1


def _uint(data, offset, size, little_endian):
    raw = tf.io.decode_raw(tf.strings.substr(data, offset, size), tf.uint8)
    raw = tf.cast(raw[:size], tf.int64)
    weights = tf.constant([256 ** i for i in range(size)], tf.int64)
    if not little_endian:
        weights = tf.reverse(weights, [0])
    return tf.reduce_sum(raw * weights)


def image_format(data):
    """0 unknown, 1 jpeg, 2 png, 3 gif, 4 bmp."""
    return tf.case([(_starts(data, JPEG), lambda: 1), (_starts(data, PNG), lambda: 2),
                    (_starts(data, GIF), lambda: 3), (_starts(data, BMP), lambda: 4)],
                   default=lambda: 0, exclusive=False)


def looks_complete(data):
    """True when ``data`` is a JPEG/PNG/GIF/BMP whose end marker is present."""
    fmt = image_format(data)
    length = tf.strings.length(data)
    return tf.switch_case(fmt, [
        lambda: tf.constant(False),
        lambda: _contains(_tail(data, 64), b'\xff\xd9'),
        lambda: _contains(_tail(data, 16), b'IEND'),
        lambda: tf.equal(_tail(data, 1), b';'),
        lambda: tf.logical_and(length >= 26, _uint(data, 2, 4, True) <= tf.cast(
            length, tf.int64)),
    ])


def declared_pixels(data):
    """Width x height from the header of a complete-looking image (0 if unknown)."""
    fmt = image_format(data)

    def jpeg():
        shape = tf.io.extract_jpeg_shape(data, output_type=tf.int64)
        return shape[0] * shape[1]

    return tf.switch_case(fmt, [
        lambda: tf.constant(0, tf.int64),
        jpeg,
        lambda: _uint(data, 16, 4, False) * _uint(data, 20, 4, False),
        lambda: _uint(data, 6, 2, True) * _uint(data, 8, 2, True),
        lambda: _uint(data, 18, 4, True) * tf.abs(
            _uint(data, 22, 4, True) - tf.where(_uint(data, 22, 4, True) >= 2 ** 31,
                                                tf.constant(2 ** 32, tf.int64), 0)),
    ])
