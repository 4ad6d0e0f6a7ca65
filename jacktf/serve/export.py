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
from jacktf.evaluation import unknown as unknown_lib
from jacktf.serve import limits
from jacktf.serve import staging as staging_lib
# Finding and loading a SavedModel lives in saved_models; these names stay importable.
from jacktf.serve.saved_models import (EXPORT_FOLDERS, SAVED_MODEL_FILES,  # noqa: F401
                                       find_saved_model, is_saved_model, load_saved_model)

log = logging.getLogger('jacktf')


class ExportError(JacktfError):
    """The export failed its parity check or could not be written."""


def label_thresholds(model):
    """A multi-label model's per-label thresholds (``model.label_thresholds``, tuned on
    the validation split; 0.5 each when there are none), None for a single-label one."""
    if not getattr(model, 'multi_label', False):
        return None
    values = getattr(model, 'label_thresholds', None)
    return [float(t) for t in values] if values is not None else \
        [0.5] * model.num_classes


def _multilabel_outputs(logits, class_names, top_k, thresholds):
    """The single-label outputs over sigmoid probabilities, plus ``thresholds`` [K],
    ``predicted`` [N, K] (1 where probability >= threshold) and ``label_set`` [N]
    (the predicted names joined by '|')."""
    probabilities = tf.sigmoid(tf.cast(logits, tf.float32))
    predicted = probabilities >= thresholds
    result = _outputs(None, class_names, top_k, probabilities)
    names = tf.where(predicted, class_names[tf.newaxis], '')
    joined = tf.strings.reduce_join(names, axis=-1, separator='|')
    joined = tf.strings.regex_replace(joined, r'\|+', '|')
    result.update({'thresholds': tf.broadcast_to(thresholds, tf.shape(probabilities)),
                   'predicted': tf.cast(predicted, tf.int32),
                   'label_set': tf.strings.regex_replace(joined, r'^\||\|$', '')})
    return result


def _outputs(logits, class_names, top_k, probabilities=None, unknown=None):
    """The signature outputs; ``probabilities`` None: the softmax of ``logits``;
    ``unknown``: (score name, threshold variable) or None."""
    if probabilities is None:
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
    classes = tf.argmax(probabilities, -1, output_type=tf.int32)
    top_p, top_c = tf.math.top_k(probabilities, k=top_k)
    out = {'probabilities': probabilities, 'classes': classes,
           'class_names': tf.gather(class_names, classes),
           'top_k_classes': top_c, 'top_k_probabilities': top_p,
           'top_k_class_names': tf.gather(class_names, top_c)}
    if unknown is not None:
        score = unknown_lib.tf_scores(logits, unknown[0])
        out['ood_score'] = score
        out['is_unknown'] = tf.less(score, unknown[1])
    return out


def probabilities_function(model, batch_size=None, normalize=None):
    """A tf.function from float32 images [N, S, S, 3] (``images``) to
    ``{'probabilities': [N, K]}``: the network, for TFLite and ONNX.

    Args:
      model: the jacktf Model.
      batch_size: a fixed batch size, or None for a dynamic one.
      normalize: the first op on the images (pixels -> the net's input range), or None
        when the images come preprocessed.
    """
    size = model.image_size

    @tf.function(input_signature=[tf.TensorSpec([batch_size, size, size, 3], tf.float32,
                                                name='images')])
    def probabilities(images):
        if normalize is not None:
            images = normalize(images)
        logits = tf.cast(model.predict(images, training=False)['logits'], tf.float32)
        if getattr(model, 'multi_label', False):  # thresholds: in the card/metadata
            return {'probabilities': tf.sigmoid(logits)}
        return {'probabilities': tf.nn.softmax(logits)}

    return probabilities


class ServingModule(tf.Module):
    """What the SavedModel holds: variables, class names and the traced signatures."""

    def __init__(self, model, class_names, labels_path=None,
                 max_pixels=limits.DEFAULT_MAX_PIXELS, unknown=None):
        super().__init__(name='jacktf_serving')
        self._model = model
        self.model_variables = list(model.variables)
        self.class_names = tf.Variable(class_names, trainable=False, name='class_names')
        self.image_size = tf.Variable(model.image_size, trainable=False, name='image_size')
        # serving_default refuses images whose header declares more pixels (limits).
        self.max_pixels = tf.Variable(int(max_pixels), dtype=tf.int64, trainable=False,
                                      name='max_pixels')
        self.top_k = min(5, model.num_classes)
        self.cam_endpoint = model.card.cam_endpoint
        if self.cam_endpoint:  # traced only when the card names a CAM endpoint
            self.explain = tf.function(self._explain, input_signature=[tf.TensorSpec(
                [None, None, None, 3], tf.uint8, name='images')])
        if labels_path:
            self.labels_asset = tf.saved_model.Asset(labels_path)
        thresholds = label_thresholds(model)
        self.label_thresholds = None if thresholds is None else tf.Variable(
            thresholds, dtype=tf.float32, trainable=False, name='label_thresholds')
        self._unknown = None
        if unknown and thresholds is None:  # a calibration of jacktf.evaluation.unknown
            self.unknown_score = tf.Variable(unknown['score'], trainable=False,
                                             name='unknown_score')
            self.unknown_threshold = tf.Variable(unknown['threshold'], dtype=tf.float32,
                                                 trainable=False, name='unknown_threshold')
            self._unknown = (unknown['score'], self.unknown_threshold)

    def _outputs(self, logits):
        if self.label_thresholds is None:
            return _outputs(logits, self.class_names, self.top_k, unknown=self._unknown)
        return _multilabel_outputs(logits, self.class_names, self.top_k,
                                   self.label_thresholds)

    def preprocess_batch(self, images_uint8):
        model = self._model
        return tf.map_fn(lambda im: model.preprocess(im, training=False), images_uint8,
                         fn_output_signature=tf.TensorSpec(
                             [model.image_size, model.image_size, 3], tf.float32))

    def _decode(self, encoded):
        image = limits.checked_decode(encoded, self.max_pixels)
        image.set_shape([None, None, 3])
        return self._model.preprocess(image, training=False)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='images')])
    def serve_encoded(self, images):
        size = self._model.image_size
        batch = tf.map_fn(self._decode, images,
                          fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))
        logits = self._model.predict(batch, training=False)['logits']
        return self._outputs(logits)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8,
                                                name='images')])
    def serve_images(self, images):
        logits = self._model.predict(self.preprocess_batch(images), training=False)['logits']
        return self._outputs(logits)

    def _explain(self, images):
        from jacktf.evaluation import cam as cam_lib
        logits, cam = cam_lib.explain(lambda x: self._model.predict(x, training=False),
                                      self.cam_endpoint, self.preprocess_batch(images))
        result = self._outputs(logits)
        result['cam'] = cam
        return result


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
