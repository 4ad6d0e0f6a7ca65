"""The TFRecord format jacktf reads and writes (the seed's keys plus optional ones)."""

import tensorflow as tf

ENCODED = 'image/encoded'
FORMAT = 'image/format'
LABEL = 'image/class/label'
TEXT = 'image/class/text'
HEIGHT = 'image/height'
WIDTH = 'image/width'
FILENAME = 'image/filename'


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _texts(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))


def make_example(*, encoded, image_format, label, text='', height=0, width=0,
                 filename=''):
    """A serialized tf.train.Example for one image.

    ``label`` is a class index, or a list of them for a multi-label image (then
    image/class/label holds the list and ``text`` may be a list of names).
    """
    many = isinstance(label, (list, tuple))
    feature = {
        ENCODED: _bytes(encoded), FORMAT: _bytes(image_format.encode()),
        LABEL: _ints(label) if many else _int(label),
        TEXT: _texts(text) if many else _bytes(text.encode()), HEIGHT: _int(height),
        WIDTH: _int(width), FILENAME: _bytes(filename.encode()),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
