"""How close a deployed model must stay to the float SavedModel it was made from.

Each TFLite and ONNX export is run in its own runtime on held-out images and compared
with the SavedModel's probabilities on the same image files. An export that falls
short of its thresholds is not written; the command fails with the numbers.

Thresholds (top-1 agreement: the share of images whose most probable class is the
SavedModel's; max |diff|: the largest difference of any class probability):

* float TFLite: max |diff| <= 1e-5 (the same float32 math, another kernel library);
* float16 TFLite: top-1 agreement >= 99% and max |diff| <= 0.05 (weights rounded to
  float16 move probabilities by 1e-3 to 2e-2: 0.0015 on the tiny demo model, 0.017 on
  MobileNet v1 0.25 with 1001 classes);
* dynamic and int8 TFLite: top-1 agreement >= 98% (max |diff| reported, not gated: uint8
  probabilities have steps of 1/256, and an image between two classes can move far);
* ONNX: max |diff| <= 1e-4.
"""

import numpy as np

from jacktf.core.errors import ConfigError

THRESHOLDS = {
    'float': {'max_abs_diff': 1e-5},
    'float16': {'min_top1_agreement': 0.99, 'max_abs_diff': 0.05},
    'dynamic': {'min_top1_agreement': 0.98},
    'int8': {'min_top1_agreement': 0.98},
    'onnx': {'max_abs_diff': 1e-4},
}


def thresholds(float_tolerance=None, min_agreement=None, onnx_tolerance=None):
    """THRESHOLDS with the command line's overrides.

    Args:
      float_tolerance: max |diff| of the float TFLite model.
      min_agreement: the int8 and dynamic models' minimum top-1 agreement, in [0, 1].
      onnx_tolerance: max |diff| of the ONNX model.

    Raises:
      ConfigError: a value out of range.
    """
    out = {key: dict(value) for key, value in THRESHOLDS.items()}
    for value, flag in ((float_tolerance, '--float_tolerance'),
                        (onnx_tolerance, '--onnx_tolerance')):
        if value is not None and not value >= 0:
            raise ConfigError(f'{flag} must be >= 0, got {value}.')
    if min_agreement is not None and not 0 <= min_agreement <= 1:
        raise ConfigError(f'--min_agreement must be in [0, 1] (a share of images), '
                          f'got {min_agreement}.')
    if float_tolerance is not None:
        out['float']['max_abs_diff'] = float(float_tolerance)
    if onnx_tolerance is not None:
        out['onnx']['max_abs_diff'] = float(onnx_tolerance)
    if min_agreement is not None:
        for variant in ('int8', 'dynamic'):
            out[variant]['min_top1_agreement'] = float(min_agreement)
    return out


def compare(reference, candidate):
    """Agreement numbers of ``candidate`` probabilities [N, K] vs ``reference``."""
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    diff = np.abs(candidate - reference)
    return {'images': int(len(reference)),
            'top1_agreement': float(np.mean(candidate.argmax(1) == reference.argmax(1))),
            'max_abs_diff': float(diff.max()), 'mean_abs_diff': float(diff.mean())}


def shortfalls(stats, limits):
    """The ways ``stats`` miss ``limits`` (empty when it passes), as readable phrases."""
    out = []
    need = limits.get('min_top1_agreement')
    if need is not None and stats['top1_agreement'] < need:
        out.append(f'top-1 agreement {stats["top1_agreement"]:.2%} < {need:.2%}')
    limit = limits.get('max_abs_diff')
    if limit is not None and not stats['max_abs_diff'] <= limit:
        out.append(f'max |diff| {stats["max_abs_diff"]:.3g} > {limit:.3g}')
    return out


def describe_limits(limits):
    """'needs top-1 agreement >= 98.00%, max |diff| <= 1e-05'."""
    parts = []
    if limits.get('min_top1_agreement') is not None:
        parts.append(f'top-1 agreement >= {limits["min_top1_agreement"]:.2%}')
    if limits.get('max_abs_diff') is not None:
        parts.append(f'max |diff| <= {limits["max_abs_diff"]:.3g}')
    return 'needs ' + ', '.join(parts) if parts else 'no thresholds'


def describe(stats):
    return (f'top-1 agreement {stats["top1_agreement"]:.2%} on {stats["images"]} images, '
            f'max |diff| {stats["max_abs_diff"]:.3g}')
