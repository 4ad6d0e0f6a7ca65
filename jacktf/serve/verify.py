"""How close a deployed model must stay to the float SavedModel it was made from.

Each TFLite and ONNX export is run in its own runtime on held-out images and compared
with the SavedModel's probabilities on the same image files. A model that falls short of
its thresholds is not written (the others are); the command names it with its numbers
and the flag that writes it anyway.

What users care about comes first: top-1 agreement (the share of images whose most
probable class is the SavedModel's), then max |diff| (the largest difference of any
class probability).

* float TFLite and ONNX: top-1 agreement >= 99% and max |diff| <= 5e-4. The float
  noise of a correct file (the same float32 math in other kernels) measured across
  models: 2e-7 (gin/tiny_from_scratch.gin, 64x64), 6.7e-6 (demo MobileNet v1 0.25 at
  128; 3.6e-6 in ONNX), 7e-6 (MobileNet v1 0.25, 1001 classes, 224), 1.9e-5 (a digits
  model); 5e-4 is 25 times the largest, and six times below the 3e-3 that feeding
  pixels rounded to uint8 causes (the smallest client mistake measured);
* float16 TFLite: top-1 agreement >= 99% and max |diff| <= 0.05 (weights rounded to
  float16 move probabilities by 1e-3 to 2e-2: 0.0015 on the tiny demo model, 0.01 on
  the demo, 0.017 on MobileNet v1 0.25 with 1001 classes);
* dynamic and int8 TFLite: top-1 agreement >= 98% (max |diff| reported, not gated: uint8
  probabilities have steps of 1/256, and an image between two classes can move far).
"""

import numpy as np

from jacktf.core.errors import ConfigError

THRESHOLDS = {
    'float': {'min_top1_agreement': 0.99, 'max_abs_diff': 5e-4},
    'float16': {'min_top1_agreement': 0.99, 'max_abs_diff': 0.05},
    'dynamic': {'min_top1_agreement': 0.98},
    'int8': {'min_top1_agreement': 0.98},
    'onnx': {'min_top1_agreement': 0.99, 'max_abs_diff': 5e-4},
}


FLAGS = {'float': '--float_tolerance', 'float16': '--float16_tolerance',
         'onnx': '--onnx_tolerance'}


def thresholds(float_tolerance=None, min_agreement=None, onnx_tolerance=None,
               float16_tolerance=None):
    """THRESHOLDS with the command line's overrides.

    Args:
      float_tolerance: max |diff| of the float TFLite model.
      min_agreement: the minimum top-1 agreement of every model, in [0, 1] (default:
        0.99 for float, float16 and ONNX, 0.98 for dynamic and int8).
      onnx_tolerance: max |diff| of the ONNX model.
      float16_tolerance: max |diff| of the float16 TFLite model.

    Raises:
      ConfigError: a value out of range.
    """
    out = {key: dict(value) for key, value in THRESHOLDS.items()}
    tolerances = {'float': float_tolerance, 'onnx': onnx_tolerance,
                  'float16': float16_tolerance}
    for key, value in tolerances.items():
        flag = FLAGS[key]
        if value is not None and not value >= 0:
            raise ConfigError(f'{flag} must be >= 0, got {value}.')
    if min_agreement is not None and not 0 <= min_agreement <= 1:
        raise ConfigError(f'--min_agreement must be in [0, 1] (a share of images), '
                          f'got {min_agreement}.')
    for key, value in tolerances.items():
        if value is not None:
            out[key]['max_abs_diff'] = float(value)
    if min_agreement is not None:
        for limits in out.values():
            limits['min_top1_agreement'] = float(min_agreement)
    return out


def override_flag(kind, stats):
    """The options that would let ``stats`` pass: '--min_agreement 0.97' and/or
    '--float_tolerance 0.002' (the measured value, rounded so that it passes)."""
    import math
    parts = []
    agreement = stats['top1_agreement']
    limits = stats.get('thresholds', {})
    if agreement < limits.get('min_top1_agreement', 0):
        parts.append(f'--min_agreement {math.floor(agreement * 1000) / 1000:g}')
    limit = limits.get('max_abs_diff')
    if limit is not None and not stats['max_abs_diff'] <= limit:
        value = float(f'{stats["max_abs_diff"]:.1g}')
        value = value if value >= stats['max_abs_diff'] else float(
            f'{stats["max_abs_diff"] * 1.5:.1g}')
        parts.append(f'{FLAGS[kind]} {value:g}')
    return ' '.join(parts)


def compare(reference, candidate):
    """Agreement numbers of ``candidate`` probabilities [N, K] vs ``reference``."""
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    diff = np.abs(candidate - reference)
    return {'images': int(len(reference)),
            'top1_agreement': float(np.mean(candidate.argmax(1) == reference.argmax(1))),
            'max_abs_diff': float(diff.max()), 'mean_abs_diff': float(diff.mean())}


def accuracies(reference, candidate, labels):
    """{'accuracy', 'saved_model_accuracy'} on images of known label (empty when a
    label is unknown): what the agreement costs in the metric users track."""
    if not labels or any(label is None for label in labels):
        return {}
    labels = np.asarray(labels)
    return {'accuracy': float(np.mean(np.asarray(candidate).argmax(1) == labels)),
            'saved_model_accuracy': float(np.mean(np.asarray(reference).argmax(1) ==
                                                  labels))}


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
    accuracy = (f', accuracy {stats["accuracy"]:.2%} (SavedModel '
                f'{stats["saved_model_accuracy"]:.2%})' if 'accuracy' in stats else '')
    return (f'top-1 agreement {stats["top1_agreement"]:.2%} on {stats["images"]} images, '
            f'max |diff| {stats["max_abs_diff"]:.3g}{accuracy}')
