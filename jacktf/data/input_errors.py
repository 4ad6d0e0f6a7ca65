"""One mapping from TensorFlow's input errors to user messages (exit code 2).

Reading TRAIN_FILES or EVAL_FILES can fail three ways: a record the pipeline rejects
in-graph (InvalidArgumentError carrying pipeline.ERROR_MARKER), a damaged file
(DataLossError), or an input that ends without one usable record. Every reader (the
training step, the evaluation, the batch preview, the feature cache, lr-find) wraps its
loop in :func:`input_errors` instead of repeating the mapping.
"""

import contextlib

import tensorflow as tf

from jacktf.data import pipeline, preflight


@contextlib.contextmanager
def input_errors(files, setting='TRAIN_FILES', counters=None, ends=False):
    """Within the block, input failures become DataError naming the files and the fix.

    Args:
      files: the file pattern being read (TRAIN_FILES or EVAL_FILES).
      setting: its name in messages ('TRAIN_FILES', 'EVAL_FILES').
      counters: the pipeline's skip counters (pipeline.make_counters), named in the
        message when the input yielded nothing.
      ends: an end of input (OutOfRangeError, StopIteration) is an error too: for
        inputs that repeat, whose end means that no record could be used.

    Raises:
      DataError: for the errors above; other errors pass unchanged.
    """
    try:
        yield
    except tf.errors.InvalidArgumentError as e:
        raise pipeline.data_error(e) or e from None
    except tf.errors.DataLossError as e:
        raise preflight.damaged_data_error(e, files, setting) from None
    except (tf.errors.OutOfRangeError, StopIteration):
        if not ends:
            raise
        raise pipeline.no_usable_records(files, counters, setting) from None


def no_records(files, setting='EVAL_FILES', counters=None):
    """The DataError for a pass over ``files`` that yielded no record."""
    return pipeline.no_usable_records(files, counters, setting)
