"""Decoder plugins: a record -> {'encoded': image bytes, 'label': int32}.

A decoder factory returns ``decode(record)``. Decoders whose records are not TFRecords
give ``decode`` a ``source(file_pattern)`` attribute returning a tf.data.Dataset of
``(file, index, record)``; the pipeline then uses it instead of reading TFRecord files.
Pixels are decoded by the pipeline after its checks (see jacktf.data.images).
"""

import os

import tensorflow as tf

import jacktf
from jacktf.data import example as ex
from jacktf.data.image_check import IMAGE_EXTENSIONS, list_image_folder


def tfexample_classification(*, image_key=ex.ENCODED, label_key=ex.LABEL):
    """tf.train.Example with image/encoded and image/class/label (the seed's keys)."""
    features = {
        image_key: tf.io.FixedLenFeature([], tf.string, default_value=''),
        label_key: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    }

    def decode(serialized):
        parsed = tf.io.parse_single_example(serialized, features)
        return {'encoded': parsed[image_key],
                'label': tf.cast(parsed[label_key], tf.int32)}

    return decode


def image_folder(*, extensions=IMAGE_EXTENSIONS):
    """Reads a class-per-subfolder image directory directly (labels: sorted folder names).

    FILES is the directory (e.g. '/data/pets/train'); no conversion step is needed.
    """
    def source(directory):
        if isinstance(directory, (list, tuple)):
            directory = directory[0]
        if not os.path.isdir(directory):
            raise jacktf.DataError(f'image_folder expects a directory, got {directory!r}.')
        classes, items = list_image_folder(directory)
        items = [(p, l) for p, l in items if p.lower().endswith(tuple(extensions))]
        if not items:
            raise jacktf.DataError(f'No images with extensions {extensions} in class '
                                   f'folders of {directory!r}.')
        paths = tf.constant([p for p, _ in items])
        labels = tf.constant([l for _, l in items], tf.int32)
        return tf.data.Dataset.from_tensor_slices(
            (paths, tf.zeros([len(items)], tf.int64), {'path': paths, 'label': labels}))

    def decode(record):
        return {'encoded': tf.io.read_file(record['path']), 'label': record['label']}

    decode.source = source
    return decode


@jacktf.hookimpl
def jacktf_register_decoders(registry):
    """Registers tfexample_classification and image_folder."""
    registry.decoder('tfexample_classification', tfexample_classification)
    registry.decoder('image_folder', image_folder)
