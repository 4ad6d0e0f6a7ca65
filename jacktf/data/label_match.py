"""Classes are matched by name, never by position: evaluation data whose class names are
not the model's is refused, and data in another order or missing classes is mapped onto
the model's labels.

An image folder numbers its classes by its own sorted folder names and a TFRecord set by
the labels.txt beside it. A folder missing one of the model's three classes, or a record
set of other names, would otherwise be scored against the wrong labels without a word.

- ``label_map(model_names, data_names, setting)``: the model label of each data label,
  or None when they are the same; raises ConfigError when the data names classes the
  model does not know;
- ``remapped(decode_fn, mapping)``: the decoder with its labels mapped;
- ``absent_classes(names, confusion)``: the classes without one example.
"""

import functools
import logging

from jacktf.core.errors import ConfigError

log = logging.getLogger('jacktf')


def _listed(names, limit=10):
    shown = ', '.join(repr(n) for n in names[:limit])
    return shown + (f', ... ({len(names)} in all)' if len(names) > limit else '')


def label_map(model_names, data_names, *, setting='EVAL_FILES', source='',
              labels_path=None):
    """The model label of each data label, or None when the data's labels are the
    model's (same names, same order) or either side has no names.

    Args:
      model_names: the model's class names (its labels.txt), by label.
      data_names: the data's class names (its labels.txt or class folders), by label.
      setting: the setting that names the data (for messages).
      source: the data's files (for messages).
      labels_path: the model's labels.txt (for messages).

    Raises:
      ConfigError: the data names a class the model does not have.
    """
    if not model_names or not data_names or list(model_names) == list(data_names):
        return None
    unknown = [n for n in data_names if n not in model_names]
    if unknown:
        raise ConfigError(
            f'{setting} {source} names classes the model does not know: '
            f'{_listed(unknown)}. The model\'s classes ({labels_path or "labels.txt"}) are '
            f'{_listed(list(model_names))}; the data\'s are {_listed(list(data_names))}. '
            'Classes are matched by name: rename the data\'s class folders (or its '
            'labels.txt) to the model\'s names, or evaluate a model trained on these '
            'classes.')
    mapping = [list(model_names).index(n) for n in data_names]
    absent = [n for n in model_names if n not in data_names]
    log.info('%s %s: its %d classes were matched to the model\'s by name%s.', setting,
             source, len(data_names), f' ({_listed(absent)} absent from the data)'
             if absent else ' (another order)')
    return mapping


def remapped(decode_fn, mapping):
    """``decode_fn`` with each record's 'label' replaced by ``mapping[label]`` (its
    attributes, e.g. an image folder's ``source``, kept)."""
    import tensorflow as tf
    table = tf.constant(mapping, tf.int32)

    @functools.wraps(decode_fn)
    def decode(record):
        out = dict(decode_fn(record))
        out['label'] = tf.gather(table, tf.cast(out['label'], tf.int32))
        return out

    return decode


def absent_classes(names, confusion):
    """The names of the classes with no example (zero rows of the confusion matrix)."""
    return [name for name, row in zip(names, confusion) if not sum(row)]


def warn_absent(absent, setting, source, total):
    """One warning line naming the classes without an example."""
    if absent:
        log.warning('%s %s has no example of %d of the %d classes: %s. Accuracy covers '
                    'the others only; per-class numbers of those are empty.', setting,
                    source, len(absent), total, _listed(absent))
