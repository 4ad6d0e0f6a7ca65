"""Checks a run's input before the run writes anything.

``check_input`` fails fast, with a DataError naming the file, the cause and the fix,
on input that could never yield a batch: a folder of images given to a TFRecord
decoder, files that are not TFRecords (images, gzip, text), only empty files, and
records without the features the decoder reads (``decode.features``, see
jacktf.data.decoders). Empty files among others are named in a warning. A decoder with
its own ``source`` checks its input with ``decode.check``.

It reads the first record of each file (of at most ``MAX_FILES`` files spread over the
list) in plain Python: cheap next to training, and never a second pass over the data.
"""

import logging
import os

import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data import image_check
from jacktf.data.pipeline import list_files
# Re-exported: the framing checks, by the paths callers and tests use.
from jacktf.data.record_framing import (  # noqa: F401
    NotTFRecord, damaged_data_error, find_damaged, looks_like, read_first_record)

log = logging.getLogger('jacktf')
MAX_FILES = 64
def _kind(feature):
    kind = feature.WhichOneof('kind')
    return {'bytes_list': 'bytes', 'int64_list': 'int64', 'float_list': 'float'}.get(
        kind, 'empty')


def _describe(features):
    """'image (bytes: a JPEG image), label (int64)' for the features of an Example."""
    parts = []
    for key in sorted(features):
        kind = _kind(features[key])
        note = ''
        if kind == 'bytes' and features[key].bytes_list.value:
            what = looks_like(features[key].bytes_list.value[0])
            note = f': {what}' if what else ''
        parts.append(f'{key} ({kind}{note})')
    return ', '.join(parts) or 'none'


def _candidate(features, kind, option):
    """The feature of an Example most likely meant for a decoder option, or None."""
    keys = [k for k in sorted(features) if _kind(features[k]) == kind]
    if kind == 'bytes':
        images = [k for k in keys if features[k].bytes_list.value and
                  (looks_like(features[k].bytes_list.value[0]) or '').endswith('image')]
        keys = images or [k for k in keys if 'image' in k.lower()]
    elif 'label' in option:
        named = [k for k in keys if 'label' in k.lower() or 'class' in k.lower()]
        keys = named or keys
    return keys[0] if len(keys) == 1 else None


def _check_example(path, data, decode_fn, setting, decoder):
    """A DataError message for a first record the decoder cannot read, else None."""
    try:
        example = tf.train.Example.FromString(data)
    except Exception:  # noqa: BLE001  (protobuf raises its own DecodeError)
        return (f'{setting}: the first record of {path} is not a tf.train.Example, which '
                f'the decoder {decoder!r} reads. Write the records with `jacktf convert`, '
                'or set Experiment.decoder to a decoder for this format.')
    present = example.features.feature
    problems, fixes = [], []
    for key, (kind, option, what) in decode_fn.features.items():
        if key in present and _kind(present[key]) == kind:
            continue
        if key in present:
            problems.append(f'its feature {key!r} holds {_kind(present[key])} values, '
                            f'but {key!r} must hold {what} ({kind})')
        else:
            problems.append(f'it has no feature {key!r} ({what})')
        guess = _candidate(present, kind, option)
        fixes.append(f'--gin_param="{decoder}.{option} = {guess or "<your key>"!r}"'
                     .replace("'<your key>'", '<your key>'))
    if not problems:
        return None
    return (f'{setting}: {path} cannot be read by the decoder {decoder!r}: '
            f'{" and ".join(problems)}. Its first record has the features '
            f'{_describe(present)}. Every record would be skipped, so training could '
            f'never get a batch. Name the keys your records use: '
            f'--gin_param="Experiment.decoder = @{decoder}" {" ".join(fixes)}; or write '
            'the records again with `jacktf convert --image_dir DIR --output_dir OUT`.')


def _folder_message(path, setting, decoder):
    """Why a folder is not a TFRecord file, and what to set instead."""
    head = (f'{setting} = {path!r} is a folder, but the decoder {decoder!r} reads '
            'TFRecord files.')
    try:
        entries = [e for e in tf.io.gfile.listdir(path) if not image_check.is_litter(e)]
    except tf.errors.OpError:
        entries = []
    records = [e for e in entries if e.endswith(('.tfrecord', '.tfrecords'))]
    if records:
        split = 'train' if setting.startswith('TRAIN') else 'validation'
        ours = [r for r in records if r.startswith(split + '-')]
        pattern = f'{split}-*.tfrecord' if ours else '*.tfrecord'
        return (f'{head} It holds {len(records)} TFRecord files'
                f'{f" ({len(ours)} of the {split} split)" if ours else ""}: set {setting} '
                f"= '{os.path.join(path, pattern)}'.")
    classes, items = [], []
    if os.path.isdir(path):
        classes, items, _ = image_check.list_image_folder(
            path, image_check.IMAGE_EXTENSIONS)
    images = [e for e in entries if e.lower().endswith(image_check.IMAGE_EXTENSIONS)]
    if items or images:
        out = path.rstrip('/\\') + '_tfrecord'
        what = (f'It is an image folder: {len(items)} images in the class folders '
                f'{", ".join(classes[:5])}{", ..." if len(classes) > 5 else ""}'
                if items else f'It holds {len(images)} images but no class folders')
        return (f'{head} {what}. Either convert it once: `jacktf convert --image_dir '
                f'{path} --output_dir {out}` (add --val_fraction 0 when it is only the '
                f"{'training' if setting.startswith('TRAIN') else 'evaluation'} split) and "
                f"set {setting} = '{out}/train-*.tfrecord'; or read the images directly: "
                '--gin_param="Experiment.decoder = \'image_folder\'" (one subfolder per '
                'class).')
    return (f'{head} Set {setting} to a glob of TFRecord files, e.g. '
            f"'{os.path.join(path, 'train-*.tfrecord')}'.")


def _spread(files, count):
    if len(files) <= count:
        return list(files)
    step = (len(files) - 1) / (count - 1)
    return [files[round(i * step)] for i in range(count)]


def _first_record(path, setting):
    """The first record of ``path`` (None for an empty file); a file that is no TFRecord
    or cannot be read raises DataError saying what it is and what to do."""
    try:
        return read_first_record(path)
    except NotTFRecord as e:
        hint = ''
        if 'image' in str(e):
            hint = (' Give the folder with one subfolder per class instead, and '
                    'convert it (`jacktf convert --image_dir DIR --output_dir OUT`) or '
                    'read it with --gin_param="Experiment.decoder = \'image_folder\'".')
        elif 'gzip' in str(e):
            hint = ' Decompress it: jacktf reads uncompressed TFRecord files.'
        raise DataError(f'{setting}: {path} is not a TFRecord file: {e}.{hint}') \
            from None
    except tf.errors.OpError as e:
        raise DataError(f'{setting}: cannot read {path}: {e.message}') from None
    except OSError as e:
        raise DataError(f'{setting}: cannot read {path}: {e.strerror or e}') from None


def check_input(file_pattern, decode_fn, *, setting='TRAIN_FILES', decoder='decoder'):
    """Checks the files of ``file_pattern`` for ``decode_fn`` without writing anything.

    Args:
      file_pattern: the TRAIN_FILES / EVAL_FILES value.
      decode_fn: the decoder's ``decode`` (its ``source``, ``check`` and ``features``
        attributes are used when present).
      setting: the setting's name, for messages.
      decoder: the decoder's registered name, for messages.

    Returns:
      The list of files (or the folder of a source decoder).

    Raises:
      DataError: naming the file, what is wrong and how to fix it.
    """
    if file_pattern is None or not str(file_pattern).strip():
        raise DataError(f'{setting} is {file_pattern!r}: no input files are given. Set it '
                        f"in the recipe or with --gin_param=\"{setting} = "
                        "'DIR/train-*.tfrecord'\" (files of `jacktf convert`), or an image "
                        "folder with Experiment.decoder = 'image_folder'.")
    files = list_files(file_pattern)
    if getattr(decode_fn, 'source', None) is not None:
        check = getattr(decode_fn, 'check', None)
        if check is not None:
            try:
                check(files)
            except DataError as e:
                raise DataError(f'{setting} = {file_pattern!r}: {e}') from None
        return files
    for path in files:
        if tf.io.gfile.isdir(path):
            raise DataError(_folder_message(path, setting, decoder))
    features = getattr(decode_fn, 'features', None)
    empty, problems = [], []
    sample = _spread(files, MAX_FILES)
    for path in sample:
        data = _first_record(path, setting)
        if data is None:
            empty.append(path)
        elif features:
            message = _check_example(path, data, decode_fn, setting, decoder)
            if message:
                problems.append(message)
    if problems:
        more = len(problems) - 1
        raise DataError(problems[0] + (f' ({more} more of the checked files have the same '
                                       'problem.)' if more else ''))
    if empty and len(empty) == len(sample) and len(sample) < len(files):
        checked = set(sample)
        if not any(tf.io.gfile.stat(f).length for f in files if f not in checked):
            empty = list(files)
    if empty and len(empty) == len(files):
        names = ', '.join(empty[:5]) + (', ...' if len(empty) > 5 else '')
        raise DataError(f'{setting} = {file_pattern!r}: every file is empty (0 bytes): '
                        f'{names}. Point {setting} at the TFRecord files written by '
                        '`jacktf convert`, or write them again.')
    for path in empty:
        log.warning('%s: %s is empty (0 bytes): it holds no records; the other files are '
                    'read.', setting, path)
    return files
