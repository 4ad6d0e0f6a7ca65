"""Where a run's records are: file patterns expanded to files, the class names beside
them (labels.txt or an image folder's classes), and the raw records in file order."""

import os

import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data import demo, image_check, split_file


def list_files(file_pattern):
    """Expands a glob, a comma list of globs, or demo://split; errors when empty."""
    patterns = file_pattern if isinstance(file_pattern, (list, tuple)) else \
        str(file_pattern).split(',')
    files = []
    for pattern in patterns:
        pattern = pattern.strip()
        if demo.is_demo(pattern):
            pattern = demo.resolve(pattern)
        if split_file.parse_ref(pattern):  # a split of MODEL_DIR/split.json
            if not tf.io.gfile.exists(split_file.parse_ref(pattern)[0]):
                raise DataError(f'{pattern!r}: no such split file. `jacktf train DATA` '
                                'writes it; give DATA again to make it.')
            files.append(pattern)
            continue
        if tf.io.gfile.isdir(pattern):
            files.append(pattern)
            continue
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise DataError(f'No files match {pattern!r}. Check the path, or convert an '
                            'image folder with `jacktf convert --image_dir DIR '
                            '--output_dir OUT`.')
        files.extend(matched)
    return files


def labels_for(file_pattern):
    """Class names from the labels.txt next to the first file (or in the folder).

    A folder without labels.txt is an image folder: its class folders, listed by the
    rules of the image_folder decoder and the converter (litter is never a class).
    """
    first = list_files(file_pattern)[0]
    if split_file.parse_ref(first):
        return split_file.classes(split_file.parse_ref(first)[0])
    folder = first if tf.io.gfile.isdir(first) else os.path.dirname(first)
    path = os.path.join(folder, 'labels.txt')
    if not tf.io.gfile.exists(path):
        if tf.io.gfile.isdir(first):
            return image_check.class_names(first) or None
        return None
    with tf.io.gfile.GFile(path) as f:
        return [line.strip() for line in f if line.strip()]


def raw_records(file_pattern, decode_fn):
    """Decoded records (dict with 'encoded' bytes and 'label'), in file order, unchecked."""
    files = list_files(file_pattern)
    source = getattr(decode_fn, 'source', None)
    if source is not None:
        return source(files).map(lambda path, index, record: decode_fn(record))
    return tf.data.TFRecordDataset(files).map(decode_fn)
