"""Bad records: the in-graph checks of each record, the counters of skipped records,
and the one-sentence errors for the user.

Each bad record is named once on stderr with its reason and counted once in the
counters (not again in later epochs); errors the checks raise in-graph carry
ERROR_MARKER, and :func:`data_error` turns them into one clean DataError.
"""

import collections
import sys

import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data import images
from jacktf.data.record_files import list_files

MAX_NAMED_SKIPS = 100  # bad records named one by one; later ones are only counted
ERROR_MARKER = 'jacktf data error: '
# Why a record is skipped, by the reason code the in-graph check computes (0 = usable):
# a short name for counts, and the sentence that names a skipped record.
SKIP_REASONS = {1: 'empty', 2: 'not an image', 3: 'truncated', 4: 'over max_pixels'}
_REASON_TEXT = {1: 'empty (no image bytes)', 2: 'not a JPEG, PNG, GIF or BMP image',
                3: 'truncated (the end of the image is missing)'}


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


def raise_unless(ok, message_fn):
    """Fails with ``message_fn()`` (a string tensor) when ``ok`` is false.

    The message is only built for a failing element, and reaches the user through
    :func:`data_error` as one sentence.
    """
    def fail():
        message = tf.strings.join([ERROR_MARKER, message_fn()])
        with tf.control_dependencies([tf.debugging.Assert(ok, [message])]):
            return tf.constant(0)
    tf.cond(ok, lambda: tf.constant(0), fail)


def reason_text(code, pixels, max_pixels):
    return tf.switch_case(tf.cast(tf.clip_by_value(code - 1, 0, 3), tf.int32), [
        lambda: tf.constant(_REASON_TEXT[1]),
        lambda: tf.constant(_REASON_TEXT[2]),
        lambda: tf.constant(_REASON_TEXT[3]),
        lambda: tf.strings.join([
            'image too large: its header declares ', tf.strings.as_string(pixels),
            f' pixels, more than max_pixels = {max_pixels}'])])


def multi_hot(indexes, num_classes, name):
    """A multi-label record's class indexes -> multi-hot [K]; an index outside
    [0, num_classes) fails naming the record."""
    if num_classes is None:
        raise ValueError('A multi-label decoder needs num_classes.')
    raise_unless(tf.reduce_all((indexes >= 0) & (indexes < num_classes)),
                  lambda: tf.strings.join([
                      'Labels ', tf.strings.reduce_join(tf.strings.as_string(indexes),
                                                        separator=' '),
                      f' out of range [0, NUM_CLASSES={num_classes}) in ', name(),
                      '. Fix the data or set NUM_CLASSES (the lines of labels.txt).']))
    hot = tf.reduce_sum(tf.one_hot(indexes, num_classes, dtype=tf.float32), 0)
    return tf.minimum(hot, 1.0)  # an empty list: no label (all negatives)


def record_name(source):
    """``fn(path, index)`` -> the name of a record in messages: the file itself for a
    source decoder (one file is one record), else 'FILE record INDEX'."""
    def name_of(path, index):
        if source is not None:
            return path
        return tf.strings.join([path, ' record ', tf.strings.as_string(index)])
    return name_of


def skip_noter(counters, max_pixels):
    """``fn(name, code, pixels)`` that names and counts a skipped record the first time
    it is seen (in ``counters`` of make_counters)."""
    skipped, seen = counters['skipped'], counters['seen']

    def note_skip(name, code, pixels):
        def first_time():
            seen.insert(tf.reshape(name, [1]), tf.reshape(code, [1]))
            n = skipped.assign_add(1)
            message = tf.strings.join(['jacktf: warning: skipped ', name, ': ',
                                       reason_text(code, pixels, max_pixels)])
            tf.cond(n <= MAX_NAMED_SKIPS,
                    lambda: tf.print(message, output_stream=sys.stderr),
                    lambda: tf.no_op())
            tf.cond(tf.equal(n, MAX_NAMED_SKIPS + 1), lambda: tf.print(
                f'jacktf: warning: more than {MAX_NAMED_SKIPS} records skipped; further '
                'ones are counted, not named.', output_stream=sys.stderr),
                lambda: tf.no_op())
            return tf.constant(0)
        return tf.cond(tf.equal(seen.lookup(name), 0), first_time, lambda: tf.constant(0))
    return note_skip


def record_checker(decode_fn, name_of, *, skip_corrupt, max_pixels, counters):
    """``fn(path, index, record)`` -> (path, index, fields, ok): decodes a record and
    checks its encoded image (not empty, a known format, complete, not over
    ``max_pixels``); a bad one is noted and skipped (``skip_corrupt``) or fails naming
    the record."""
    note_skip = skip_noter(counters, max_pixels)

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
            raise_unless(ok, lambda: tf.strings.join([
                'Bad record in ', name_of(path, index), ': ',
                reason_text(code, pixels, max_pixels),
                '. Fix the data, or set Experiment.skip_corrupt = True to skip such '
                'records.']))
        return path, index, fields, ok
    return check


def checked_label(label, num_classes, multi_label, name):
    """The record's label, checked: class indexes -> multi-hot float32 [K] for a
    multi-label decoder; a label outside [0, num_classes) fails naming the record
    (``name()``)."""
    if multi_label:
        return multi_hot(label, num_classes, name)
    if num_classes is not None:
        missing = tf.where(tf.equal(label, -1),
                           ' (-1: the record has no label feature)', '')
        raise_unless(tf.logical_and(label >= 0, label < num_classes),
                     lambda: tf.strings.join([
                         'Label ', tf.strings.as_string(label), missing,
                         f' out of range [0, NUM_CLASSES={num_classes}) in ', name(),
                         '. Fix the data or set NUM_CLASSES.']))
    return label
