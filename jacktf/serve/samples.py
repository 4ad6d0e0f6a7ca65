"""The run's own images that an export calibrates and checks its models on.

* ``held_out``: the first decodable images of EVAL_FILES with their labels (the
  verification set; with the labels, each model's accuracy is reported too).
* ``stratified``: images of TRAIN_FILES, the same number of each class as far as the
  data allow (round robin over the classes in file order), to calibrate the int8
  model's activation ranges on what the model will see, every class included.
"""

import collections

import tensorflow as tf


def _decodable(files, decode_fn, scan):
    from jacktf.data import pipeline
    for record in pipeline.raw_records(files, decode_fn).take(scan):
        try:
            tf.io.decode_image(record['encoded'], channels=3, expand_animations=False)
        except (tf.errors.InvalidArgumentError, ValueError):
            continue
        label = record.get('label')
        value = None if label is None else label.numpy()
        if value is not None and value.ndim:  # multi-label: a tuple of class indexes
            value = tuple(int(v) for v in value)
        yield record['encoded'].numpy(), None if value is None else (
            value if isinstance(value, tuple) else int(value))


def held_out(files, decode_fn, count, scan=None):
    """([encoded bytes], [label or None]) of the first ``count`` decodable images
    (None for multi-label records: top-1 accuracy does not apply to them)."""
    encoded, labels = [], []
    for data, label in _decodable(files, decode_fn, scan or count + 64):
        encoded.append(data)
        labels.append(None if isinstance(label, tuple) else label)
        if len(encoded) == count:
            break
    return encoded, labels


def stratified(files, decode_fn, count, scan=None):
    """About ``count`` decodable images of ``files``, balanced over the labels.

    Reads up to ``scan`` records (default 8 x count), groups them by label and takes
    them round robin, so each class gives count / classes images where it has them.

    Returns:
      ([encoded bytes], {label: number taken}).
    """
    groups = collections.OrderedDict()
    for data, label in _decodable(files, decode_fn, scan or 8 * count):
        if isinstance(label, tuple):  # multi-label: grouped by the first label
            label = label[0] if label else -1
        groups.setdefault(label, []).append(data)
    out, taken = [], collections.Counter()
    queues = {label: iter(items) for label, items in groups.items()}
    while len(out) < count and queues:
        for label in list(queues):
            item = next(queues[label], None)
            if item is None:
                del queues[label]
                continue
            out.append(item)
            taken[label] += 1
            if len(out) == count:
                break
    return out, dict(sorted(taken.items(), key=lambda kv: str(kv[0])))
