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
pipeline raises in-graph become one clean sentence with :func:`data_error`.
"""

import collections
import os
import random
import sys

import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data import demo, fast_input, image_check, images, sampling, split_file

DEFAULT_MAX_PIXELS = 100_000_000
MAX_NAMED_SKIPS = 100  # bad records named one by one; later ones are only counted
ERROR_MARKER = 'jacktf data error: '
# Why a record is skipped, by the reason code the in-graph check computes (0 = usable):
# a short name for counts, and the sentence that names a skipped record.
SKIP_REASONS = {1: 'empty', 2: 'not an image', 3: 'truncated', 4: 'over max_pixels'}
_REASON_TEXT = {1: 'empty (no image bytes)', 2: 'not a JPEG, PNG, GIF or BMP image',
                3: 'truncated (the end of the image is missing)'}


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


def make_counters():
    """State the pipeline keeps about skipped records (give one to read_dataset).

    Returns:
      {'skipped': int64 variable, the number of distinct records skipped;
       'seen': a table {record name: reason code} of those records}. Both can be
      checkpointed, so a resumed run neither names nor counts a record twice.
    """
    with tf.init_scope():
        return {'skipped': tf.Variable(0, dtype=tf.int64, trainable=False,
                                       name='skipped_records'),
                'seen': tf.lookup.experimental.MutableHashTable(
                    tf.string, tf.int64, default_value=0, name='skipped_record_names')}


def skipped_records(counters):
    """[(record name, reason)] of the records skipped so far, sorted by name."""
    keys, codes = counters['seen'].export()
    return sorted((k.decode('utf-8', 'replace'), SKIP_REASONS.get(int(c), 'unknown'))
                  for k, c in zip(keys.numpy(), codes.numpy()))


def no_usable_records(file_pattern, counters, setting='TRAIN_FILES'):
    """The DataError for a whole pass over ``file_pattern`` that yielded no record."""
    skipped = skipped_records(counters) if counters else []
    try:
        n_files = len(list_files(file_pattern))
    except DataError:
        n_files = 0
    where = f'{setting} = {file_pattern!r} ({n_files} file{"s" if n_files != 1 else ""})'
    if not skipped:
        return DataError(f'{where} holds no records: every file is empty. Point {setting} '
                         'at the TFRecord files written by `jacktf convert`.')
    counts = collections.Counter(reason for _, reason in skipped)
    reasons = ', '.join(f'{n} {reason}' for reason, n in counts.most_common())
    examples = ', '.join(name for name, _ in skipped[:3])
    named = 'each is named' if len(skipped) <= MAX_NAMED_SKIPS else \
        f'the first {MAX_NAMED_SKIPS} are named'
    return DataError(
        f'No usable record in a whole pass over {where}: all {len(skipped)} records were '
        f'skipped ({reasons}; {named} above with the reason, e.g. {examples}). Fix '
        'or re-create the data (`jacktf convert` checks every image), or raise '
        'Experiment.max_pixels if the images are only large.')


def data_error(error):
    """The DataError for an error the pipeline raised in-graph, or None for others."""
    text = getattr(error, 'message', None) or str(error)
    if ERROR_MARKER not in text:
        return None
    message = text[text.index(ERROR_MARKER) + len(ERROR_MARKER):].split('\n')[0]
    message = message.replace('\\"', '"').rstrip()
    if message.endswith(']'):  # tf.debugging.Assert brackets its data
        message = message[:-1]
    return DataError(message)


def _raise_unless(ok, message_fn):
    """Fails with ``message_fn()`` (a string tensor) when ``ok`` is false.

    The message is only built for a failing element, and reaches the user through
    :func:`data_error` as one sentence.
    """
    def fail():
        message = tf.strings.join([ERROR_MARKER, message_fn()])
        with tf.control_dependencies([tf.debugging.Assert(ok, [message])]):
            return tf.constant(0)
    tf.cond(ok, lambda: tf.constant(0), fail)


def _reason_text(code, pixels, max_pixels):
    return tf.switch_case(tf.cast(tf.clip_by_value(code - 1, 0, 3), tf.int32), [
        lambda: tf.constant(_REASON_TEXT[1]),
        lambda: tf.constant(_REASON_TEXT[2]),
        lambda: tf.constant(_REASON_TEXT[3]),
        lambda: tf.strings.join([
            'image too large: its header declares ', tf.strings.as_string(pixels),
            f' pixels, more than max_pixels = {max_pixels}'])])


def _multi_hot(indexes, num_classes, name):
    """A multi-label record's class indexes -> multi-hot [K]; an index outside
    [0, num_classes) fails naming the record."""
    if num_classes is None:
        raise ValueError('A multi-label decoder needs num_classes.')
    _raise_unless(tf.reduce_all((indexes >= 0) & (indexes < num_classes)),
                  lambda: tf.strings.join([
                      'Labels ', tf.strings.reduce_join(tf.strings.as_string(indexes),
                                                        separator=' '),
                      f' out of range [0, NUM_CLASSES={num_classes}) in ', name(),
                      '. Fix the data or set NUM_CLASSES (the lines of labels.txt).']))
    hot = tf.reduce_sum(tf.one_hot(indexes, num_classes, dtype=tf.float32), 0)
    return tf.minimum(hot, 1.0)  # an empty list: no label (all negatives)


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
    if source is not None:
        ds = source(files)
        if input_context and input_context.num_input_pipelines > 1:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if shuffle_files and not cache_side:
            ds = ds.shuffle(100_000, seed=seed, reshuffle_each_iteration=True)
    else:
        ds = tf.data.Dataset.from_tensor_slices(files)
        if input_context and input_context.num_input_pipelines > 1 and \
                len(files) >= input_context.num_input_pipelines:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if shuffle_files and not cache_side:
            ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        ds = ds.interleave(
            lambda path: tf.data.TFRecordDataset(path).enumerate().map(
                lambda index, record: (path, index, record)),
            cycle_length=min(cycle_length, len(files)), num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=deterministic)
    if cache:
        ds = ds.cache('' if cache is True else cache)
    counters = counters or make_counters()
    skipped, seen = counters['skipped'], counters['seen']

    def name_of(path, index):
        if source is not None:  # one file is one record
            return path
        return tf.strings.join([path, ' record ', tf.strings.as_string(index)])

    def note_skip(name, code, pixels):
        """Names and counts a skipped record the first time it is seen."""
        def first_time():
            seen.insert(tf.reshape(name, [1]), tf.reshape(code, [1]))
            n = skipped.assign_add(1)
            message = tf.strings.join(['jacktf: warning: skipped ', name, ': ',
                                       _reason_text(code, pixels, max_pixels)])
            tf.cond(n <= MAX_NAMED_SKIPS,
                    lambda: tf.print(message, output_stream=sys.stderr),
                    lambda: tf.no_op())
            tf.cond(tf.equal(n, MAX_NAMED_SKIPS + 1), lambda: tf.print(
                f'jacktf: warning: more than {MAX_NAMED_SKIPS} records skipped; further '
                'ones are counted, not named.', output_stream=sys.stderr),
                lambda: tf.no_op())
            return tf.constant(0)
        return tf.cond(tf.equal(seen.lookup(name), 0), first_time, lambda: tf.constant(0))

    def check(path, index, record):
        fields = decode_fn(record)
        encoded = fields['encoded']
        complete = images.looks_complete(encoded)
        pixels = tf.cond(complete, lambda: images.declared_pixels(encoded),
                         lambda: tf.constant(0, tf.int64))
        code = tf.where(tf.equal(tf.strings.length(encoded), 0), 1,
                        tf.where(tf.equal(images.image_format(encoded), 0), 2,
                                 tf.where(tf.logical_not(complete), 3,
                                          tf.where(pixels > max_pixels, 4, 0))))
        code = tf.cast(code, tf.int64)
        ok = tf.equal(code, 0)
        if skip_corrupt:
            tf.cond(ok, lambda: tf.constant(0),
                    lambda: note_skip(name_of(path, index), code, pixels))
        else:
            _raise_unless(ok, lambda: tf.strings.join([
                'Bad record in ', name_of(path, index), ': ',
                _reason_text(code, pixels, max_pixels),
                '. Fix the data, or set Experiment.skip_corrupt = True to skip such '
                'records.']))
        return path, index, fields, ok

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
    # Every element gets its own augmentation seed: (run seed, position in this stream,
    # interleaved over the input pipelines of a distributed run).
    base = random.randrange(2 ** 31) if seed is None else int(seed)
    pipelines, pipeline_id = (input_context.num_input_pipelines,
                              input_context.input_pipeline_id) if input_context else (1, 0)
    ds = ds.enumerate().map(lambda k, item: (
        tf.stack([tf.constant(base, tf.int64), k * pipelines + pipeline_id]), *item))

    multi_label = bool(getattr(decode_fn, 'multi_label', False))

    def parse(element_seed, path, index, fields, ok):
        label = fields['label']
        if multi_label:  # class indexes [n] -> multi-hot float32 [K]
            label = _multi_hot(label, num_classes, lambda: name_of(path, index))
        elif num_classes is not None:
            missing = tf.where(tf.equal(label, -1),
                               ' (-1: the record has no label feature)', '')
            _raise_unless(tf.logical_and(label >= 0, label < num_classes),
                          lambda: tf.strings.join([
                              'Label ', tf.strings.as_string(label), missing,
                              f' out of range [0, NUM_CLASSES={num_classes}) in ',
                              name_of(path, index),
                              '. Fix the data or set NUM_CLASSES.']))
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

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=is_training)
    options = tf.data.Options()
    # The iterator can be checkpointed: its only external state is the skip counters
    # (which the trainer checkpoints itself) and the checks' assertions.
    options.experimental_external_state_policy = \
        tf.data.experimental.ExternalStatePolicy.IGNORE
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)
