"""Calibrating the "unknown" answer of a run (``jacktf.evaluation.unknown``): the
validation split's logits under the weights to export, the threshold that keeps
``keep`` of them, stored beside the checkpoint (its folder's unknown.json).

Called at the end of training (``Experiment.export_current``, before the export reads
it) and by ``jacktf calibrate`` for runs that already exist.
"""

import logging
import os

import numpy as np
import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.data.input_errors import input_errors, no_records
from jacktf.evaluation import unknown as unknown_lib

log = logging.getLogger('jacktf')


def validation_logits(experiment):
    """float32 [N, K]: the model's logits on every EVAL_FILES image (eval preprocessing).

    Raises:
      ConfigError: EVAL_FILES is not set.
      DataError: a bad record, or no usable record.
    """
    if not experiment.eval_files:
        raise ConfigError('EVAL_FILES is not set: the unknown threshold is calibrated on '
                          'the validation split. Set EVAL_FILES (--gin_param) and run '
                          'jacktf calibrate again.')
    model = experiment.model
    predict = tf.function(lambda images: model.predict(images, training=False)['logits'],
                          reduce_retracing=True)
    dataset = experiment.dataset(experiment.eval_files, training=False)
    out = []
    with input_errors(experiment.eval_files, 'EVAL_FILES', experiment.counters):
        for batch in dataset:
            out.append(tf.cast(predict(batch[0]), tf.float32).numpy())
    if not out:
        raise no_records(experiment.eval_files, 'EVAL_FILES', experiment.counters)
    return np.concatenate(out)


def calibrate_current(experiment, checkpoint, keep=None, score=None):
    """Calibrates the model's current weights (those of ``checkpoint``) and stores the
    calibration beside ``checkpoint``.

    Args:
      experiment: the run's Experiment.
      checkpoint: the prefix of the checkpoint the weights came from.
      keep / score: default the Experiment's ``unknown_keep`` / ``unknown_score``.

    Returns:
      The calibration dict, with 'path' (the unknown.json written).
    """
    keep = experiment.unknown_keep if keep is None else keep
    score = score or experiment.unknown_score
    unknown_lib.check_options(keep, score)
    logits = validation_logits(experiment)
    calibration = unknown_lib.calibrate(
        logits, keep=keep, score=score,
        source={'checkpoint': str(checkpoint).split('/')[-1],
                'eval_files': str(experiment.eval_files)})
    path = unknown_lib.write(checkpoint, calibration)
    log.info('unknown: %s (keeps %.1f%% of %d validation images); %s', calibration['rule'],
             100 * (1 - calibration['validation_flagged']),
             calibration['validation_images'], path)
    return dict(calibration, path=path)


def calibrate_run(experiment, checkpoint=None, keep=None, score=None):
    """``jacktf calibrate``: restores a checkpoint (by default the run's model, see
    Experiment.restore_latest) and calibrates it; returns the calibration (with 'path')."""
    if keep is not None or score is not None:
        unknown_lib.check_options(experiment.unknown_keep if keep is None else keep,
                                  score or experiment.unknown_score)
    path = experiment.restore_latest(checkpoint)
    return calibrate_current(experiment, path, keep, score)


def for_export(experiment, version, folder):
    """The calibration of the current weights, those of ``checkpoints/ckpt-VERSION``
    (``best/ckpt-VERSION`` for export_best), written beside them; None when
    ``Experiment.unknown_keep`` is None, there is no EVAL_FILES, or the model is
    multi-label (its "no label above its threshold" is already an answer)."""
    if experiment.unknown_keep is None or getattr(experiment.model, 'multi_label', False):
        return None
    if not experiment.eval_files:
        log.info('unknown: not calibrated (no EVAL_FILES): the export answers without '
                 '"unknown".')
        return None
    checkpoint = os.path.join(experiment.model_dir, 'best' if folder == 'export_best'
                              else 'checkpoints', f'ckpt-{int(version)}')
    return calibrate_current(experiment, checkpoint)
