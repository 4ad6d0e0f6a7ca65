"""Does a checkpoint hold the published weights, not just their names and shapes?

Two cheap checks on the values, run on every download after the names and shapes:

* the fingerprint: the CRC-32 of the float32 bytes of a few named variables, recorded in
  the zoo table where it is known (``PretrainedCheckpoint.fingerprint``); one differing
  value refuses the archive;
* untrained values: a checkpoint whose batch-norm moving statistics are all still at
  their initial 0 (mean) and 1 (variance), or, for a net without batch norm, whose biases
  are all still 0, was never trained: random weights saved with the right names.

``fingerprint(prefix, names)`` computes the values the zoo table records.
"""

import zlib

import numpy as np
import tensorflow as tf

from jacktf.core.errors import RestoreError


def crc(array):
    """CRC-32 (8 hex digits) of an array's little-endian float32 bytes."""
    data = np.ascontiguousarray(np.asarray(array, dtype='<f4')).tobytes()
    return format(zlib.crc32(data), '08x')


def fingerprint(prefix, names):
    """{variable name: crc} of the named variables of a checkpoint (missing: None)."""
    reader = tf.train.load_checkpoint(prefix)
    present = reader.get_variable_to_shape_map()
    return {n: crc(reader.get_tensor(n)) if n in present else None for n in names}


def check_fingerprint(prefix, expected):
    """Raises RestoreError when a variable's CRC differs from ``expected`` {name: crc}."""
    if not expected:
        return 0
    found = fingerprint(prefix, sorted(expected))
    wrong = [n for n in sorted(expected) if found[n] != expected[n]]
    if wrong:
        raise RestoreError(
            f'its values are not the published ones: {len(wrong)} of the '
            f'{len(expected)} fingerprinted variables differ (first: {wrong[0]}, CRC-32 '
            f'{found[wrong[0]]} instead of {expected[wrong[0]]}).')
    return len(expected)


def _all_equal(reader, names, value):
    return all(np.all(reader.get_tensor(n) == value) for n in names)


def check_trained(prefix):
    """Raises RestoreError for a checkpoint whose values are still their initial ones.

    Returns:
      What was checked, e.g. '54 batch-norm statistics'.
    """
    reader = tf.train.load_checkpoint(prefix)
    names = sorted(reader.get_variable_to_shape_map())
    means = [n for n in names if n.endswith('/moving_mean')]
    variances = [n for n in names if n.endswith('/moving_variance')]
    if means or variances:
        if _all_equal(reader, means, 0.0) and _all_equal(reader, variances, 1.0):
            raise RestoreError(
                f'its values were never trained: all {len(means) + len(variances)} '
                'batch-norm moving statistics are still at their initial 0 and 1 '
                '(random weights saved under the right names?).')
        return f'{len(means) + len(variances)} batch-norm statistics'
    biases = [n for n in names if n.endswith('/biases')]
    if biases and _all_equal(reader, biases, 0.0):
        raise RestoreError(f'its values were never trained: all {len(biases)} biases are '
                           'still 0 (random weights saved under the right names?).')
    return f'{len(biases)} biases'
