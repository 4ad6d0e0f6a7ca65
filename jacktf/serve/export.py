"""SavedModel export in TF Serving's layout, checked against the training-side eval path.

The exported module holds only the network's variables and traced functions, so it
loads in a process that imports TensorFlow alone. Signatures:

* ``serving_default``: ``images`` string [N] of encoded JPEG/PNG/GIF/BMP/WebP; an image
  whose header declares more than the export's ``max_pixels`` fails the request with
  InvalidArgument before it is decoded (``limits``);
* ``predict_images``: ``images`` uint8 [N, H, W, 3];
* ``explain_images``: uint8 [N, H, W, 3] -> the outputs plus ``cam`` [N, h, w], a
  Grad-CAM map of the top class at the backbone card's last conv endpoint (for a linear
  head on globally pooled features this is the class activation map, up to scale).

Outputs: ``probabilities`` [N, K], ``classes`` [N], ``class_names`` [N], and
``top_k_classes`` / ``top_k_probabilities`` / ``top_k_class_names`` [N, k]. A
multi-label model's probabilities are sigmoids, and it adds ``thresholds`` [N, K] (the
per-label thresholds tuned on the validation split), ``predicted`` [N, K] (0/1) and
``label_set`` [N] (the predicted label names joined by '|'). A single-label model
calibrated for an "unknown" answer (``jacktf.evaluation.unknown``) adds ``ood_score``
float32 [N] and ``is_unknown`` bool [N] (the score below the calibrated threshold), and
holds ``unknown_score`` (the score's name) and ``unknown_threshold``.

Finding and loading an export (``find_saved_model``, ``load_saved_model``) is
``saved_models``' job.
"""

import logging
import os

import numpy as np
import tensorflow as tf

from jacktf.core import card as cards
from jacktf.core.errors import JacktfError
from jacktf.serve import limits
from jacktf.serve import staging as staging_lib
# The serving module and its outputs live in serving_module; these names stay importable.
from jacktf.serve.serving_module import (ServingModule, label_thresholds,  # noqa: F401
                                         probabilities_function)
# Finding and loading a SavedModel lives in saved_models; these names stay importable.
from jacktf.serve.saved_models import (EXPORT_FOLDERS, SAVED_MODEL_FILES,  # noqa: F401
                                       find_saved_model, is_saved_model, load_saved_model)

log = logging.getLogger('jacktf')


class ExportError(JacktfError):
    """The export failed its parity check or could not be written."""


def read_labels(model_dir, num_classes):
    path = os.path.join(model_dir, 'labels.txt')
    if os.path.exists(path):
        with open(path) as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) == num_classes:
            return names, path
    return [str(i) for i in range(num_classes)], None


def parity_images(files, decode_fn, count=4, scan=64):
    """The first ``count`` decodable images of ``files`` (for the parity check)."""
    from jacktf.data import pipeline
    found = []
    for record in pipeline.raw_records(files, decode_fn).take(scan):
        try:
            tf.io.decode_image(record['encoded'], channels=3, expand_animations=False)
        except (tf.errors.InvalidArgumentError, ValueError):
            continue
        found.append(record['encoded'].numpy())
        if len(found) == count:
            break
    return found


def check_parity(model, loaded, encoded_images, atol=1e-4):
    """The SavedModel's probabilities equal the training-side eval path's, or raise."""
    served = loaded.signatures['serving_default'](images=tf.constant(encoded_images))
    served = served['probabilities'].numpy()
    expected = []
    for data in encoded_images:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        x = model.preprocess(image, training=False)[None]
        expected.append(model.postprocess(model.predict(x)['logits'])['probabilities'][0])
    expected = np.stack([e.numpy() for e in expected])
    diff = float(np.max(np.abs(served - expected)))
    if not diff <= atol:
        raise ExportError(f'Export parity check failed: the SavedModel\'s probabilities '
                          f'differ from the eval path\'s by up to {diff:.3g} (tolerance '
                          f'{atol}) on {len(encoded_images)} images. Served: '
                          f'{served.round(5).tolist()}; eval path: '
                          f'{expected.round(5).tolist()}.')
    return diff


def write_saved_model(model, folder, *, class_names, labels_path=None,
                      max_pixels=limits.DEFAULT_MAX_PIXELS, unknown=None):
    """Writes the serving module of ``model`` into ``folder`` (which may exist, empty);
    ``serving_default`` refuses images declaring more than ``max_pixels`` pixels; with
    ``unknown`` (a calibration) the signatures add ``ood_score`` and ``is_unknown``."""
    module = ServingModule(model, class_names, labels_path, max_pixels, unknown)
    signatures = {'serving_default': module.serve_encoded,
                  'predict_images': module.serve_images}
    if module.cam_endpoint:
        signatures['explain_images'] = module.explain
    else:
        cards.skipped(model.card, 'cam_endpoint',
                      "The export's explain_images signature (class activation maps)")
    tf.saved_model.save(module, folder, signatures=signatures)
    return folder


def export_saved_model(model, export_dir, *, class_names, labels_path=None, version=None,
                       parity_encoded=None, atol=1e-4, overwrite=True, unknown=None):
    """Writes ``export_dir/<version>/`` atomically and checks its parity.

    Args:
      model: the jacktf Model with the weights to export.
      export_dir: the export base folder (TF Serving's layout: numbered versions).
      class_names: one name per class.
      labels_path: a labels.txt to ship as an asset, or None.
      version: the version number: the training step of the weights.
      parity_encoded: encoded images to check the export against the eval path.
      atol: the largest probability difference the parity check accepts.
      overwrite: replace an existing export of the same version (with a log line);
        False refuses.
      unknown: the calibration of these weights (``jacktf.evaluation.unknown``), or
        None for an export without the unknown outputs.

    Returns:
      (path, parity difference or None).

    Raises:
      ExportError: no version, the version exists and ``overwrite`` is False, the
        export folder is a file, or the parity check failed.
    """
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise ExportError(f'The export folder {export_dir!r} is a file. Give another '
                          '--export_dir, or move the file away.')
    if version is None:
        raise ExportError('An export needs a version number (the training step of its '
                          'weights): give --version N.')
    version = int(version)
    target = os.path.join(export_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise ExportError(already_exported(target, version))
    staging = staging_lib.staging_dir(target)
    try:
        write_saved_model(model, staging, class_names=class_names, labels_path=labels_path,
                          unknown=unknown)
        diff = None
        if parity_encoded:
            diff = check_parity(model, tf.saved_model.load(staging), parity_encoded, atol)
        if staging_lib.publish(staging, target):
            log.info('Replaced the existing export %s with a new export of step %d (a '
                     'resumed run exports its last step again).', target, version)
    finally:
        staging_lib.discard(staging)
    log.info('Exported SavedModel to %s (parity max |diff| %s)', target,
             'not checked' if diff is None else f'{diff:.2g}')
    return target, diff


def already_exported(target, version):
    """The refusal message for an export of a version that exists."""
    return (f'{target} already exists: step {version} was exported before. Give '
            '--overwrite to replace it, or export another checkpoint (--checkpoint) or '
            'under another --version.')
