"""The tf.data input pipeline (the seed's read_dataset semantics, made robust).

list files -> (shuffle files) -> (shard per worker) -> interleave records, each tagged
with its file and index -> (cache) -> (repeat) -> (shuffle) -> check the encoded image
(complete, known format, not over the pixel limit) -> decode + check the label +
preprocess in parallel -> batch -> prefetch.

Bad records: with ``skip_corrupt`` (the default) they are dropped and counted in
``counters['skipped']``; without it the first one stops the run with an error naming
the file and the record.
"""

import os
import random

import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data import demo, images

DEFAULT_MAX_PIXELS = 100_000_000


def list_files(file_pattern):
    """Expands a glob, a comma list of globs, or demo://split; errors when empty."""
    patterns = file_pattern if isinstance(file_pattern, (list, tuple)) else \
        str(file_pattern).split(',')
    files = []
    for pattern in patterns:
        pattern = pattern.strip()
        if demo.is_demo(pattern):
            pattern = demo.resolve(pattern)
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
    """Class names from the labels.txt next to the first file (or in the folder)."""
    first = list_files(file_pattern)[0]
    folder = first if tf.io.gfile.isdir(first) else os.path.dirname(first)
    path = os.path.join(folder, 'labels.txt')
    if not tf.io.gfile.exists(path):
        if tf.io.gfile.isdir(first):
            return sorted(d for d in tf.io.gfile.listdir(first)
                          if tf.io.gfile.isdir(os.path.join(first, d)))
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


def make_counters():
    """Variables the pipeline increments: records skipped as corrupt or oversized."""
    return {'skipped': tf.Variable(0, dtype=tf.int64, trainable=False,
                                   name='skipped_records')}


def read_dataset(file_pattern, *, decode_fn, preprocess_fn, batch_size, is_training,
                 num_classes=None, shuffle_files=None, shuffle_buffer=2048, repeat=None,
                 cycle_length=4, cache=False, input_context=None, seed=None,
                 skip_corrupt=True, max_pixels=DEFAULT_MAX_PIXELS, counters=None):
    """Builds batches of (images float32 [B, S, S, 3], labels int32 [B]).

    Args:
      file_pattern: TFRecord glob(s), demo://split, or a folder for source decoders.
      decode_fn: record -> dict(encoded, label); may carry a ``source`` attribute.
      preprocess_fn: (uint8 image, training, seed) -> float32 [S, S, 3]; ``seed`` is the
        element's stateless seed (int64 [2]) when training, else None.
      batch_size: examples per batch for this input pipeline.
      is_training: shuffle, repeat, drop the last partial batch.
      num_classes: a label outside [0, num_classes) fails naming the file and record.
      shuffle_files / repeat: default to is_training.
      shuffle_buffer: examples in the shuffle buffer when training.
      cycle_length: files read at once.
      cache: cache the raw records in memory (True) or in a file (a path).
      input_context: tf.distribute.InputContext for per-worker sharding.
      seed: makes file and example order, and the augmentation, deterministic (None: a
        random seed per pipeline).
      skip_corrupt: drop and count bad records instead of failing.
      max_pixels: images whose header declares more pixels are bad records.
      counters: from make_counters(), incremented for each skipped record.
    """
    files = list_files(file_pattern)
    shuffle_files = is_training if shuffle_files is None else shuffle_files
    repeat = is_training if repeat is None else repeat
    deterministic = not is_training or seed is not None
    source = getattr(decode_fn, 'source', None)
    if source is not None:
        ds = source(files)
        if input_context and input_context.num_input_pipelines > 1:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if shuffle_files:
            ds = ds.shuffle(100_000, seed=seed, reshuffle_each_iteration=True)
    else:
        ds = tf.data.Dataset.from_tensor_slices(files)
        if input_context and input_context.num_input_pipelines > 1 and \
                len(files) >= input_context.num_input_pipelines:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if shuffle_files:
            ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        ds = ds.interleave(
            lambda path: tf.data.TFRecordDataset(path).enumerate().map(
                lambda index, record: (path, index, record)),
            cycle_length=min(cycle_length, len(files)), num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=deterministic)
    if cache:
        ds = ds.cache('' if cache is True else cache)
    if repeat:
        ds = ds.repeat()
    if is_training and shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    # Every element gets its own augmentation seed: (run seed, position in this stream,
    # interleaved over the input pipelines of a distributed run).
    base = random.randrange(2 ** 31) if seed is None else int(seed)
    pipelines, pipeline_id = (input_context.num_input_pipelines,
                              input_context.input_pipeline_id) if input_context else (1, 0)
    ds = ds.enumerate().map(lambda k, item: (
        tf.stack([tf.constant(base, tf.int64), k * pipelines + pipeline_id]), *item))
    skipped = (counters or {}).get('skipped')

    def check(element_seed, path, index, record):
        fields = decode_fn(record)
        encoded = fields['encoded']
        complete = images.looks_complete(encoded)
        pixels = tf.cond(complete, lambda: images.declared_pixels(encoded),
                         lambda: tf.constant(0, tf.int64))
        ok = tf.logical_and(complete, pixels <= max_pixels)
        if not skip_corrupt:
            tf.debugging.Assert(ok, ['Corrupt, truncated, non-image or oversized record in',
                                     path, 'record', index, '; declared pixels', pixels,
                                     'limit', max_pixels,
                                     '(skip_corrupt=True skips such records)'])
        elif skipped is not None:
            tf.cond(ok, lambda: skipped.read_value(), lambda: skipped.assign_add(1))
        return element_seed, path, index, fields, ok

    def parse(element_seed, path, index, fields, ok):
        label = fields['label']
        if num_classes is not None:
            tf.debugging.Assert(
                tf.logical_and(label >= 0, label < num_classes),
                ['Label out of range [0, NUM_CLASSES =', num_classes, ') in', path,
                 'record', index, 'label', label, '. Fix the data or NUM_CLASSES.'])
        image = tf.io.decode_image(fields['encoded'], channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return preprocess_fn(image, is_training, element_seed if is_training else None), label

    ds = ds.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if skip_corrupt:
        ds = ds.filter(lambda element_seed, path, index, fields, ok: ok)
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=is_training)
    options = tf.data.Options()
    # The iterator can be checkpointed: its only external state is the skip counter
    # (a variable the trainer checkpoints itself) and the checks' assertions.
    options.experimental_external_state_policy = \
        tf.data.experimental.ExternalStatePolicy.IGNORE
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)
