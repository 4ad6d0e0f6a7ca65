"""An "unknown" answer: an out-of-distribution score of the logits and a threshold
calibrated on the validation split, so a model shown a photo of something it was never
trained on can say so instead of naming one of its classes.

Scores (higher: more like the training data; an image is unknown when its score is
below the threshold):

* ``max_softmax``: the largest softmax probability (Hendrycks & Gimpel, 2017);
* ``energy``: logsumexp of the logits, the negative free energy at temperature 1
  (Liu et al., 2020);
* ``max_logit``: the largest logit (Hendrycks et al., 2022).

The threshold keeps a chosen share of the validation images (``keep``, default 95%):
it is the score of the ``ceil(keep * N)``-th most confident validation image, so at
least that share of them scores at or above it. The calibration of a checkpoint is
stored beside it (``unknown.json`` in the checkpoint's folder, one entry per
checkpoint); the export reads it from there. TFLite and ONNX models return
probabilities only, so their card carries the ``max_softmax`` threshold of the same
calibration (app code compares the largest probability with it).
"""

import json
import math
import os

import numpy as np

from jacktf.core.errors import ConfigError

SCORES = ('max_softmax', 'energy', 'max_logit')
# The score bench/unknown.py measured best (bench/results/unknown.json).
DEFAULT_SCORE = 'energy'
DEFAULT_KEEP = 0.95
FILE = 'unknown.json'
FORMAT = 'jacktf-unknown/1'
PROBABILITY_SCORE = 'max_softmax'  # what a probabilities-only model can compute


def check_options(keep, score):
    """Raises ConfigError for a ``keep`` outside (0, 1] or an unknown ``score``."""
    if score not in SCORES:
        raise ConfigError(f'The unknown score must be one of {", ".join(SCORES)}, got '
                          f'{score!r}.')
    try:
        ok = 0.0 < float(keep) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f'keep must be a share of the validation images in (0, 1], '
                          f'e.g. 0.95, got {keep!r}.')


def scores(logits, kind):
    """The ``kind`` score (float32 [N]) of logits [N, K] (numpy)."""
    logits = np.asarray(logits, np.float32)
    top = logits.max(-1)
    if kind == 'max_logit':
        return top
    total = np.exp(logits - top[:, None]).sum(-1, dtype=np.float32)
    if kind == 'energy':
        return (top + np.log(total)).astype(np.float32)
    if kind == 'max_softmax':
        return (1.0 / total).astype(np.float32)
    raise ConfigError(f'Unknown score {kind!r}; one of {", ".join(SCORES)}.')


def tf_scores(logits, kind):
    """The ``kind`` score (float32 [N]) of logits [N, K] (TensorFlow, for exports)."""
    import tensorflow as tf
    logits = tf.cast(logits, tf.float32)
    if kind == 'max_logit':
        return tf.reduce_max(logits, -1)
    if kind == 'energy':
        return tf.reduce_logsumexp(logits, -1)
    if kind == 'max_softmax':
        return tf.reduce_max(tf.nn.softmax(logits), -1)
    raise ConfigError(f'Unknown score {kind!r}; one of {", ".join(SCORES)}.')


def threshold_for(values, keep):
    """The largest threshold that at least ``keep`` of ``values`` reach (>=): the
    ``ceil(keep * N)``-th largest value."""
    ordered = np.sort(np.asarray(values, np.float32))[::-1]
    if not len(ordered):
        raise ConfigError('No validation image to calibrate the unknown threshold on.')
    kept = min(len(ordered), max(1, math.ceil(round(float(keep) * len(ordered), 6))))
    return float(ordered[kept - 1])


def is_unknown(values, threshold):
    """bool [N]: the images whose score is below ``threshold``."""
    return np.asarray(values, np.float32) < np.float32(threshold)


def calibrate(logits, *, keep=DEFAULT_KEEP, score=DEFAULT_SCORE, source=None):
    """The calibration of a model from its validation logits [N, K].

    Args:
      logits: the validation images' logits.
      keep: the share of validation images that must not be flagged.
      score: the score the model answers with (one of ``SCORES``).
      source: facts to record (checkpoint, eval files, step).

    Returns:
      {'format', 'score', 'threshold', 'keep', 'validation_images',
       'validation_flagged', 'thresholds' {score: threshold for each of SCORES}, ...}.
    """
    check_options(keep, score)
    logits = np.asarray(logits, np.float32)
    thresholds = {kind: threshold_for(scores(logits, kind), keep) for kind in SCORES}
    flagged = float(is_unknown(scores(logits, score), thresholds[score]).mean())
    return dict(source or {}, format=FORMAT, score=score, threshold=thresholds[score],
                keep=float(keep), validation_images=int(len(logits)),
                validation_flagged=round(flagged, 6), thresholds=thresholds,
                rule=rule(score, thresholds[score]))


def rule(score, threshold):
    """The sentence app code follows."""
    what = {'max_softmax': 'the largest probability',
            'energy': 'logsumexp(logits) (the energy score)',
            'max_logit': 'the largest logit'}[score]
    return f'unknown when {what} < {threshold:.9g}'


def metadata_path(checkpoint):
    """``unknown.json`` in the folder of the checkpoint prefix ``checkpoint``."""
    return os.path.join(os.path.dirname(os.path.abspath(checkpoint)), FILE)


def _load(path):
    try:
        with open(path) as f:
            entries = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ConfigError(f'{path} is not readable JSON ({e}). Delete it and run jacktf '
                          'calibrate --model_dir MODEL_DIR again.') from None
    return entries if isinstance(entries, dict) else {}


def write(checkpoint, calibration):
    """Stores ``calibration`` as the entry of ``checkpoint`` in its folder's
    unknown.json (entries of checkpoints that are gone are dropped); returns the path."""
    path = metadata_path(checkpoint)
    folder = os.path.dirname(path)
    entries = {name: entry for name, entry in _load(path).items()
               if os.path.exists(os.path.join(folder, name + '.index'))}
    entries[os.path.basename(checkpoint)] = calibration
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(entries, f, indent=1)
        f.write('\n')
    os.replace(tmp, path)
    return path


def read(checkpoint):
    """The calibration stored for the checkpoint prefix ``checkpoint``, or None."""
    return _load(metadata_path(checkpoint)).get(os.path.basename(checkpoint))


def probability_rule(calibration):
    """The card section of a probabilities-only model (TFLite, ONNX)."""
    threshold = calibration['thresholds'][PROBABILITY_SCORE]
    return {'score': PROBABILITY_SCORE, 'threshold': threshold,
            'keep': calibration['keep'], 'rule': rule(PROBABILITY_SCORE, threshold),
            'saved_model_score': {'score': calibration['score'],
                                  'threshold': calibration['threshold']},
            'validation_images': calibration['validation_images']}


def describe(section):
    """One sentence for a model's description: the score, its threshold and the share."""
    return (f'Unknown answer: {section["rule"]} (calibrated to keep '
            f'{section["keep"]:.0%} of {section["validation_images"]} validation images).')
