"""The tf.data input pipeline (the seed's read_dataset semantics, made robust).

list files -> (shuffle files) -> (shard per worker) -> interleave records, each tagged
with its file and index -> (cache) -> check the encoded image (not empty, a known
format, complete, not over the pixel limit) -> (repeat) -> (shuffle) -> decode + check
the label + preprocess in parallel -> batch -> prefetch.

Bad records: with ``skip_corrupt`` (the default) each one is named once on stderr with
its reason and counted once in ``counters`` (not again in later epochs); without it the
first one stops the run with an error naming the file and the record. The checks come
before ``repeat``, so a pass that yields no usable record ends the dataset instead of
spinning forever: the caller turns that end into :func:`no_usable_records`. Errors the
pipeline raises in-graph become one clean sentence with :func:`data_error`. The
checks and counters live in jacktf.data.record_checks, the file listing in
jacktf.data.record_files (both re-exported here).
"""

import random

import tensorflow as tf

from jacktf.data import fast_input, record_checks, sampling
# Re-exported: jacktf.data.pipeline is where callers find the pipeline's helpers.
from jacktf.data.record_checks import (  # noqa: F401
    ERROR_MARKER, MAX_NAMED_SKIPS, SKIP_REASONS, data_error, make_counters,
    no_usable_records, skipped_records)
from jacktf.data.record_files import labels_for, list_files, raw_records  # noqa: F401

DEFAULT_MAX_PIXELS = 100_000_000


def read_dataset(file_pattern, *, decode_fn, preprocess_fn, batch_size, is_training,
                 num_classes=None, shuffle_files=None, shuffle_buffer=2048, repeat=None,
                 cycle_length=4, cache=False, input_context=None, seed=None,
                 skip_corrupt=True, max_pixels=DEFAULT_MAX_PIXELS, counters=None,
                 with_info=False, balance_counts=None, cache_side=None):
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
      skip_corrupt: drop, name (once) and count bad records instead of failing.
      max_pixels: images whose header declares more pixels are bad records.
      counters: from make_counters() (default: fresh ones), updated for each distinct
        skipped record.
      with_info: batches are (images, labels, info) with info {'filename': the
        record's image file name ('' when the decoder gives none), 'record': where the
        record is stored (file and index)}, e.g. for the eval's top-losses list.
      balance_counts: examples per class of the files: when training, resample the
        records so that every class is equally frequent (see jacktf.data.sampling).
      cache_side: keep the checked records decoded in memory, shorter side brought
        down to this many pixels (jacktf.data.fast_input.cache_plan); then the files
        are read once and the examples reshuffled at every epoch.

    Returns:
      A tf.data.Dataset. A repeating one ends (OutOfRangeError) when a whole pass over
      the files yields no usable record.
    """
    files = list_files(file_pattern)
    shuffle_files = is_training if shuffle_files is None else shuffle_files
    repeat = is_training if repeat is None else repeat
    deterministic = not is_training or seed is not None
    source = getattr(decode_fn, 'source', None)
    ds = _record_stream(files, source, shuffle=shuffle_files and not cache_side,
                        input_context=input_context, seed=seed, cycle_length=cycle_length,
                        deterministic=deterministic)
    if cache:
        ds = ds.cache('' if cache is True else cache)
    name_of = record_checks.record_name(source)
    check = record_checks.record_checker(
        decode_fn, name_of, skip_corrupt=skip_corrupt, max_pixels=max_pixels,
        counters=counters or make_counters())
    ds = ds.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if skip_corrupt:
        ds = ds.filter(lambda path, index, fields, ok: ok)
    if cache_side:  # decoded once; the augmentation still runs at every epoch
        ds = ds.map(lambda path, index, fields, ok: (path, index, dict(
            fields, image=fast_input.shrink(fast_input.decode(fields['encoded']),
                                            cache_side), encoded=tf.constant('')), ok),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
        ds = ds.cache()
        if shuffle_files:
            ds = ds.shuffle(100_000, seed=seed, reshuffle_each_iteration=True)
    # After the checks: an epoch without a usable record ends the repeated dataset.
    if repeat:
        ds = ds.repeat()
    if is_training and balance_counts is not None:
        ds = sampling.balanced(ds, lambda path, index, fields, ok: fields['label'],
                               balance_counts, seed)
    if is_training and shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = _with_element_seeds(ds, seed, input_context)
    parse = _parser(preprocess_fn, is_training, num_classes, name_of, with_info,
                    multi_label=bool(getattr(decode_fn, 'multi_label', False)))
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=is_training)
    options = tf.data.Options()
    # The iterator can be checkpointed: its only external state is the skip counters
    # (which the trainer checkpoints itself) and the checks' assertions.
    options.experimental_external_state_policy = \
        tf.data.experimental.ExternalStatePolicy.IGNORE
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


def _record_stream(files, source, *, shuffle, input_context, seed, cycle_length,
                   deterministic):
    """(path, index, record) of ``files``: sharded per input pipeline, in shuffled file
    order when ``shuffle``, the records of ``cycle_length`` files interleaved (a source
    decoder's files are its records)."""
    sharded = input_context and input_context.num_input_pipelines > 1
    if source is not None:
        ds = source(files)
        if sharded:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if shuffle:
            ds = ds.shuffle(100_000, seed=seed, reshuffle_each_iteration=True)
        return ds
    ds = tf.data.Dataset.from_tensor_slices(files)
    if sharded and len(files) >= input_context.num_input_pipelines:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    return ds.interleave(
        lambda path: tf.data.TFRecordDataset(path).enumerate().map(
            lambda index, record: (path, index, record)),
        cycle_length=min(cycle_length, len(files)), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic)


def _with_element_seeds(ds, seed, input_context):
    """Every element gets its own augmentation seed: (run seed, position in this stream,
    interleaved over the input pipelines of a distributed run)."""
    base = random.randrange(2 ** 31) if seed is None else int(seed)
    pipelines, pipeline_id = (input_context.num_input_pipelines,
                              input_context.input_pipeline_id) if input_context else (1, 0)
    return ds.enumerate().map(lambda k, item: (
        tf.stack([tf.constant(base, tf.int64), k * pipelines + pipeline_id]), *item))


def _parser(preprocess_fn, is_training, num_classes, name_of, with_info, multi_label):
    """``fn(element_seed, path, index, fields, ok)`` -> (image, label[, info]): the
    label checked, the image decoded (unless cached decoded) and preprocessed."""
    def parse(element_seed, path, index, fields, ok):
        label = record_checks.checked_label(fields['label'], num_classes, multi_label,
                                            lambda: name_of(path, index))
        element_seed = element_seed if is_training else None
        if 'image' in fields:  # the decoded cache
            image = preprocess_fn(fields['image'], is_training, element_seed)
        else:
            image = fast_input.decode_and_preprocess(fields['encoded'], preprocess_fn,
                                                     is_training, element_seed)
        if with_info:
            return image, label, {'filename': fields.get('filename', tf.constant('')),
                                  'record': name_of(path, index)}
        return image, label
    return parse
