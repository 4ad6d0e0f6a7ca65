"""Decoder plugins: serialized records -> {'image': uint8 [H, W, 3], 'label': int32}."""

import tensorflow as tf

import jacktf
from jacktf.data import example as ex


def tfexample_classification(*, image_key=ex.ENCODED, label_key=ex.LABEL):
    """tf.train.Example with image/encoded (JPEG/PNG/BMP/GIF) and image/class/label."""
    features = {
        image_key: tf.io.FixedLenFeature([], tf.string, default_value=''),
        label_key: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        ex.FILENAME: tf.io.FixedLenFeature([], tf.string, default_value=''),
    }

    def decode(serialized):
        parsed = tf.io.parse_single_example(serialized, features)
        image = tf.io.decode_image(parsed[image_key], channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return {'image': image, 'label': tf.cast(parsed[label_key], tf.int32),
                'filename': parsed[ex.FILENAME]}

    return decode


@jacktf.hookimpl
def jacktf_register_decoders(registry):
    """Registers tfexample_classification."""
    registry.decoder('tfexample_classification', tfexample_classification)
