"""Decoder plugins: a record -> {'encoded': image bytes, 'label': int32} and optionally
'filename' (string: the image's file name, shown in eval's top-losses list).

A decoder factory returns ``decode(record)``. Decoders whose records are not TFRecords
give ``decode`` a ``source(files)`` attribute returning a tf.data.Dataset of
``(file, index, record)``; the pipeline then uses it instead of reading TFRecord files.
Pixels are decoded by the pipeline after its checks (see jacktf.data.images).

Two optional attributes let a run check its input before it writes anything (see
jacktf.data.preflight): ``features``, for decoders of ``tf.train.Example`` records,
maps each feature key ``decode`` reads to ``(kind, option, what)`` (kind 'bytes',
'int64' or 'float'; the factory option that names the key; what the feature holds);
``check(files)`` validates a ``source`` decoder's input and raises DataError.
"""

import logging
import os

import tensorflow as tf

import jacktf
from jacktf.data import example as ex
from jacktf.data import image_check, split_file
from jacktf.data.image_check import IMAGE_EXTENSIONS

log = logging.getLogger('jacktf')


def tfexample_classification(*, image_key=ex.ENCODED, label_key=ex.LABEL,
                             filename_key=ex.FILENAME):
    """tf.train.Example with image/encoded and image/class/label (the seed's keys).

    Args:
      image_key: the bytes feature holding the encoded image (JPEG, PNG, GIF, BMP).
      label_key: the int64 feature holding the 0-based class index.
      filename_key: the optional bytes feature naming the image file (written by
        `jacktf convert`); records without it give ''.
    """
    features = {
        image_key: tf.io.FixedLenFeature([], tf.string, default_value=''),
        label_key: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        filename_key: tf.io.FixedLenFeature([], tf.string, default_value=''),
    }

    def decode(serialized):
        parsed = tf.io.parse_single_example(serialized, features)
        return {'encoded': parsed[image_key],
                'label': tf.cast(parsed[label_key], tf.int32),
                'filename': parsed[filename_key]}

    decode.features = {
        image_key: ('bytes', 'image_key', 'the encoded image: JPEG/PNG/GIF/BMP bytes'),
        label_key: ('int64', 'label_key', 'the 0-based class index'),
    }
    return decode


def _folder_listing(directory, extensions, allow_empty_classes):
    """(classes, items) of an image folder; DataError naming what is wrong with it."""
    if not os.path.isdir(directory):
        hint = (" For TFRecord files use the default decoder (Experiment.decoder = "
                "'tfexample_classification').") if '.tfrecord' in directory else ''
        raise jacktf.DataError(f'image_folder expects a folder with one subfolder per '
                               f'class, got {directory!r}, which is not a folder.{hint}')
    classes, items, others = image_check.list_image_folder(directory, extensions)
    if not classes:
        entries = [e for e in os.listdir(directory) if not image_check.is_litter(e)]
        records = [e for e in entries if e.endswith('.tfrecord')]
        images = [e for e in entries if e.lower().endswith(tuple(extensions))]
        if records:
            hint = (f' It holds {len(records)} .tfrecord files: read them with the default '
                    f"decoder (Experiment.decoder = 'tfexample_classification') and "
                    f"FILES = '{os.path.join(directory, '*.tfrecord')}'.")
        elif images:
            hint = (f' It holds {len(images)} images directly: give the folder above it, '
                    'whose subfolders are the classes.')
        else:
            hint = ' Put each class in its own subfolder (e.g. cats/, dogs/).'
        raise jacktf.DataError(f'{directory!r} has no class subfolders.{hint}')
    if not items:
        raise jacktf.DataError(f'No images with extensions {", ".join(extensions)} in the '
                               f'class folders of {directory!r}.')
    empty = image_check.empty_classes(classes, [label for _, label in items])
    if empty and not allow_empty_classes:
        raise jacktf.DataError(image_check.empty_classes_message(
            directory, empty, 'set image_folder.allow_empty_classes = True (with '
            'Experiment.decoder = @image_folder)'))
    for path in others[:20]:
        log.warning('image_folder: skipping %s: not an image file (extension %r; images '
                    'are %s).', path, os.path.splitext(path)[1], ', '.join(extensions))
    if len(others) > 20:
        log.warning('image_folder: skipping %d more files that are not images.',
                    len(others) - 20)
    return classes, items


def image_folder(*, extensions=IMAGE_EXTENSIONS, allow_empty_classes=False):
    """Reads a class-per-subfolder image directory directly (labels: sorted folder names).

    FILES is the directory (e.g. '/data/pets/train'); no conversion step is needed.
    Operating-system litter (``__MACOSX/``, dot-files, ``Thumbs.db``, ``@eaDir``, ...)
    is neither a class nor an image; other files without an image extension are named
    once and skipped.

    Args:
      extensions: file name endings (lower case) that are read as images.
      allow_empty_classes: keep a class folder without any image as a class instead of
        failing.
    """
    extensions = tuple(e.lower() for e in extensions)
    listings = {}

    def check(files):
        """(classes, items) of the one folder in ``files``; DataError when unusable."""
        files = [files] if isinstance(files, str) else list(files)
        if len(files) != 1:
            shown = ', '.join(repr(f) for f in files[:3])
            raise jacktf.DataError(
                f'image_folder reads one folder with a subfolder per class, but the files '
                f'setting matched {len(files)} paths ({shown}{", ..." if len(files) > 3 else ""}). '
                'Give that one folder.')
        directory = files[0]
        if directory not in listings:
            listings[directory] = _folder_listing(directory, extensions,
                                                  allow_empty_classes)
        return listings[directory]

    def source(files):
        return _path_records(check(files)[1])

    decode = _path_decoder(source, check)
    return decode


def _path_records(items):
    """(file, index, record) elements of [(image path, label)] (one file, one record)."""
    paths = tf.constant([p for p, _ in items])
    labels = tf.constant([label for _, label in items], tf.int32)
    return tf.data.Dataset.from_tensor_slices(
        (paths, tf.zeros([len(items)], tf.int64), {'path': paths, 'label': labels}))


def _path_decoder(source, check):
    """The decode of records that name an image file (image_folder, image_list)."""
    def decode(record):
        encoded = tf.numpy_function(image_check.exif_upright,  # EXIF-rotated photos
                                    [tf.io.read_file(record['path'])], tf.string)
        return {'encoded': tf.reshape(encoded, []), 'label': record['label'],
                'filename': record['path']}

    decode.source = source
    decode.check = check
    return decode


def image_list():
    """Reads the images a split file lists (MODEL_DIR/split.json, see
    jacktf.data.split_file): FILES is ``'/path/split.json#train'`` (or #validation,
    #test). `jacktf train DATA` writes the split file and sets this decoder; the images
    are read where they are, not converted."""
    verified = set()  # split files checked against their data (once per decoder)

    def check(files):
        files = [files] if isinstance(files, str) else list(files)
        found = []
        for f in files:
            parsed = split_file.parse_ref(f)
            if parsed is None:
                raise jacktf.DataError(
                    f"image_list reads split files ('/path/split.json#train'), got {f!r}. "
                    "For TFRecord files use Experiment.decoder = 'tfexample_classification'.")
            if parsed[0] not in verified:  # still the data's files
                split_file.verify(parsed[0])
                verified.add(parsed[0])
            found += split_file.items(*parsed)
        return None, found

    def source(files):
        return _path_records(check(files)[1])

    return _path_decoder(source, check)


@jacktf.hookimpl
def jacktf_register_decoders(registry):
    """Registers tfexample_classification, image_folder and image_list."""
    registry.decoder('tfexample_classification', tfexample_classification)
    registry.decoder('image_folder', image_folder)
    registry.decoder('image_list', image_list)
