"""How many examples of each class a split holds: what epochs and class balance need.

The counts come, in this order, from:

1. the ``dataset.json`` that ``jacktf convert`` (and the demo data) writes next to the
   shards, when the files given are exactly the shards of one split
   (``train-00000-of-00004.tfrecord`` ... for 'train');
2. one counting pass over the records that reads only the label (the decoder's
   ``label_key`` feature for tf.train.Example records; the file listing for an image
   folder), announced in one line.

Counts are of records: a record the pipeline later skips as corrupt still counts.
"""

import collections
import json
import logging
import os
import re
import time

import numpy as np
import tensorflow as tf

from jacktf.core.errors import ConfigError, DataError
from jacktf.data import pipeline

log = logging.getLogger('jacktf')
SHARD = re.compile(r'^(?P<split>.+)-(?P<index>\d+)-of-(?P<total>\d+)\.tfrecord$')
_COUNT_BATCH = 4096

ExampleCounts = collections.namedtuple('ExampleCounts', 'per_class total source')
ExampleCounts.__doc__ = """per_class: [examples of class 0, 1, ...]; total; source: the
dataset.json path, or 'counted' for a counting pass."""


def from_dataset_json(files, num_classes=None):
    """Counts from the dataset.json next to ``files``, or None when it does not describe
    exactly these files (another folder, a subset of a split's shards, no counts)."""
    folders = {os.path.dirname(f) for f in files}
    if len(folders) != 1:
        return None
    folder = folders.pop()
    path = os.path.join(folder, 'dataset.json')
    matches = [SHARD.match(os.path.basename(f)) for f in files]
    if not all(matches) or not tf.io.gfile.exists(path):
        return None
    splits = {m.group('split') for m in matches}
    totals = {int(m.group('total')) for m in matches}
    if len(splits) != 1 or len(totals) != 1 or len(set(files)) != totals.pop():
        return None  # not all the shards of one split
    split = splits.pop()
    try:
        with tf.io.gfile.GFile(path) as f:
            info = json.load(f)
        counts, classes = info['counts'][split], info['classes']
        per_class = [int(counts.get(name, 0)) for name in classes]
        # multi-label: counts are images per label; the images are counted apart
        total = int(info['images'][split]) if 'images' in info else sum(per_class)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if num_classes is not None and len(per_class) != num_classes:
        return None
    return ExampleCounts(per_class, total, path)


def near_duplicates(path):
    """The near-duplicate counts of a converter's dataset.json ('groups', 'conflicts',
    'leaks', ...), or None (no such file, or written before jacktf grouped them)."""
    try:
        with tf.io.gfile.GFile(path) as f:
            found = json.load(f).get('near_duplicates')
        return {k: int(found[k]) for k in ('groups', 'images_in_groups', 'within_class',
                                           'conflicts', 'leaks')}
    except (OSError, ValueError, KeyError, TypeError, AttributeError,
            tf.errors.OpError):
        return None


def _label_key(decode_fn):
    """The tf.train.Example feature holding the label, when the decoder says so."""
    for key, (kind, option, _) in (getattr(decode_fn, 'features', None) or {}).items():
        if option == 'label_key' and kind == 'int64':
            return key
    return None


def _labels(files, decode_fn):
    """A dataset of int64 label batches, reading as little of each record as it can."""
    source = getattr(decode_fn, 'source', None)
    if source is not None:
        def label_of(path, index, record):
            if isinstance(record, dict) and 'label' in record:
                return tf.cast(record['label'], tf.int64)
            return tf.cast(decode_fn(record)['label'], tf.int64)
        return source(files).map(label_of).batch(_COUNT_BATCH)
    records = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    key = _label_key(decode_fn)
    if key is not None:
        spec = {key: tf.io.FixedLenFeature([], tf.int64, default_value=-1)}
        return records.batch(_COUNT_BATCH).map(
            lambda batch: tf.io.parse_example(batch, spec)[key],
            num_parallel_calls=tf.data.AUTOTUNE)
    return records.map(lambda r: tf.cast(decode_fn(r)['label'], tf.int64),
                       num_parallel_calls=tf.data.AUTOTUNE).batch(_COUNT_BATCH)


def count_pass(file_pattern, decode_fn, num_classes, setting='TRAIN_FILES'):
    """Counts the examples of each class in one pass over the labels; logs one line.

    Raises:
      DataError: a label outside [0, num_classes), or a damaged file.
    """
    files = pipeline.list_files(file_pattern)
    start = time.time()
    if getattr(decode_fn, 'multi_label', False):
        return _count_multilabel(files, decode_fn, num_classes, setting, start)
    per_class = np.zeros([num_classes], np.int64)
    try:
        for labels in _labels(files, decode_fn):
            labels = labels.numpy()
            bad = labels[(labels < 0) | (labels >= num_classes)]
            if bad.size:
                raise DataError(
                    f'{setting} = {file_pattern!r} holds label {int(bad[0])}, outside '
                    f'[0, NUM_CLASSES={num_classes}) (-1: a record without a label). Fix '
                    'the data or set NUM_CLASSES.')
            per_class += np.bincount(labels, minlength=num_classes)
    except tf.errors.DataLossError as e:
        from jacktf.data import preflight
        raise preflight.damaged_data_error(e, file_pattern, setting) from None
    per_class = [int(c) for c in per_class]
    log.info('Counted %d examples in %s (%d file%s, no dataset.json; %.1f s): %s per '
             'class.', sum(per_class), setting, len(files), '' if len(files) == 1 else 's',
             time.time() - start, short_list(per_class))
    return ExampleCounts(per_class, sum(per_class), 'counted')


def _count_multilabel(files, decode_fn, num_classes, setting, start):
    """Images per label and images of multi-label records (one pass)."""
    per_class, total = np.zeros([num_classes], np.int64), 0
    records = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    for labels in records.map(lambda r: decode_fn(r)['label'],
                              num_parallel_calls=tf.data.AUTOTUNE):
        labels = labels.numpy()
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise DataError(f'{setting} holds label {int(labels.max())}, outside '
                            f'[0, NUM_CLASSES={num_classes}). Fix the data or set '
                            'NUM_CLASSES.')
        per_class[np.unique(labels)] += 1
        total += 1
    per_class = [int(c) for c in per_class]
    log.info('Counted %d multi-label examples in %s (%.1f s): %s per label.', total,
             setting, time.time() - start, short_list(per_class))
    return ExampleCounts(per_class, total, 'counted')


def example_counts(file_pattern, decode_fn, num_classes, setting='TRAIN_FILES'):
    """Examples per class of ``file_pattern``: from dataset.json, else a counting pass.

    Raises:
      DataError: no records, or a label out of range.
    """
    files = pipeline.list_files(file_pattern)
    counts = from_dataset_json(files, num_classes) or \
        count_pass(file_pattern, decode_fn, num_classes, setting)
    if not counts.total:
        raise DataError(f'{setting} = {file_pattern!r} holds no examples: point it at the '
                        'TFRecord files written by `jacktf convert`.')
    return counts


def short_list(values, limit=10):
    shown = ', '.join(str(v) for v in values[:limit])
    return f'[{shown}{", ..." if len(values) > limit else ""}]'


def balanced_weights(per_class, class_names=None):
    """scikit-learn's 'balanced' class weights: n_samples / (n_classes * count_c).

    Raises:
      ConfigError: a class has no examples (its weight would be infinite).
    """
    empty = [i for i, c in enumerate(per_class) if c <= 0]
    if empty:
        names = [class_names[i] if class_names and i < len(class_names) else str(i)
                 for i in empty]
        raise ConfigError(f'Balanced class weights need examples of every class, but '
                          f'TRAIN_FILES has none of class {", ".join(names)}. Give those '
                          'classes examples, lower NUM_CLASSES, or give Trainer.'
                          'class_weight as a list of weights.')
    total, k = float(sum(per_class)), len(per_class)
    return [total / (k * c) for c in per_class]
