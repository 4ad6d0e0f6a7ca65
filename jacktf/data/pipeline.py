"""The tf.data input pipeline (the seed's read_dataset semantics).

list files -> (shuffle files) -> (shard per worker) -> (repeat) -> interleave ->
(cache) -> (shuffle) -> parallel decode + preprocess -> batch -> prefetch.
"""

import os

import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data import demo


def list_files(file_pattern):
    """Expands a glob, a comma list of globs, or demo://split; errors when empty."""
    patterns = file_pattern if isinstance(file_pattern, (list, tuple)) else \
        str(file_pattern).split(',')
    files = []
    for pattern in patterns:
        pattern = pattern.strip()
        if demo.is_demo(pattern):
            pattern = demo.resolve(pattern)
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise DataError(f'No files match {pattern!r}. Check the path, or convert an '
                            'image folder with `jacktf convert --image_dir DIR '
                            '--output_dir OUT`.')
        files.extend(matched)
    return files


def labels_for(file_pattern):
    """Class names from the labels.txt next to the first file, or None."""
    first = list_files(file_pattern)[0]
    path = os.path.join(os.path.dirname(first), 'labels.txt')
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_dataset(file_pattern, *, decode_fn, preprocess_fn, batch_size, is_training,
                 num_classes=None, shuffle_files=None, shuffle_buffer=2048, repeat=None,
                 cycle_length=4, cache=False, input_context=None, seed=None):
    """Builds batches of (images float32 [B, S, S, 3], labels int32 [B]).

    Args:
      file_pattern: TFRecord glob(s) or demo://split.
      decode_fn: serialized record -> dict(image uint8, label int32).
      preprocess_fn: (image, training) -> float32 [S, S, 3].
      batch_size: examples per batch for this input pipeline (per replica or worker).
      is_training: shuffle, repeat, drop the last partial batch.
      num_classes: when set, a label outside [0, num_classes) fails naming the file.
      shuffle_files / repeat: default to is_training.
      shuffle_buffer: examples in the shuffle buffer when training.
      cycle_length: files read at once.
      cache: cache decoded records in memory (True) or in a file path (str).
      input_context: tf.distribute.InputContext for per-worker sharding.
      seed: makes file and example order deterministic.
    """
    files = list_files(file_pattern)
    shuffle_files = is_training if shuffle_files is None else shuffle_files
    repeat = is_training if repeat is None else repeat
    ds = tf.data.Dataset.from_tensor_slices(files)
    if input_context and input_context.num_input_pipelines > 1:
        if len(files) >= input_context.num_input_pipelines:
            ds = ds.shard(input_context.num_input_pipelines,
                          input_context.input_pipeline_id)
    if shuffle_files:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(cycle_length, len(files)),
                       num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=not shuffle_files or seed is not None)
    if cache:
        ds = ds.cache('' if cache is True else cache)
    if repeat:
        ds = ds.repeat()
    if is_training and shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)

    def parse(serialized):
        record = decode_fn(serialized)
        label = record['label']
        if num_classes is not None:
            tf.debugging.assert_less(
                label, num_classes,
                message=f'label >= num_classes={num_classes} in a record of '
                        f'{file_pattern}; file:')
            tf.debugging.assert_non_negative(label, message='negative label in a record')
        return preprocess_fn(record['image'], is_training), label

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=seed is not None or not is_training)
    ds = ds.batch(batch_size, drop_remainder=is_training)
    return ds.prefetch(tf.data.AUTOTUNE)
