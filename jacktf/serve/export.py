"""SavedModel export in TF Serving's layout, checked against the training-side eval path.

The exported module holds only the network's variables and traced functions, so it
loads in a process that imports TensorFlow alone. Signatures:

* ``serving_default``: ``images`` string [N] of encoded JPEG/PNG/GIF/BMP;
* ``predict_images``: ``images`` uint8 [N, H, W, 3];
* ``explain_images``: uint8 [N, H, W, 3] -> the outputs plus ``cam`` [N, h, w], a
  Grad-CAM map of the top class at the backbone card's last conv endpoint (for a linear
  head on globally pooled features this is the class activation map, up to scale).

Outputs: ``probabilities`` [N, K], ``classes`` [N], ``class_names`` [N], and
``top_k_classes`` / ``top_k_probabilities`` / ``top_k_class_names`` [N, k].
"""

import logging
import os

import numpy as np
import tensorflow as tf

from jacktf.core.errors import DataError, JacktfError
from jacktf.serve import staging as staging_lib

log = logging.getLogger('jacktf')
SAVED_MODEL_FILES = ('saved_model.pb', 'saved_model.pbtxt')
EXPORT_FOLDERS = ('export', 'export_best')


class ExportError(JacktfError):
    """The export failed its parity check or could not be written."""


def is_saved_model(path):
    """Whether ``path`` is a folder holding saved_model.pb (or .pbtxt)."""
    return any(tf.io.gfile.exists(os.path.join(path, f)) for f in SAVED_MODEL_FILES)


def _describe(path, names, limit=8):
    shown = [n + ('/' if tf.io.gfile.isdir(os.path.join(path, n)) else '')
             for n in sorted(names)[:limit]]
    more = f' and {len(names) - limit} more' if len(names) > limit else ''
    return ', '.join(shown) + more if shown else 'nothing (it is empty)'


def _newest_version(path):
    """(newest version folder, its number, the numbers of all complete versions) of an
    export base folder in TF Serving's layout, or None when it holds no numbered folder.
    """
    versions = sorted(int(n.rstrip('/')) for n in tf.io.gfile.listdir(path)
                      if n.rstrip('/').isdigit()
                      and tf.io.gfile.isdir(os.path.join(path, n.rstrip('/'))))
    if not versions:
        return None
    complete = [v for v in versions if is_saved_model(os.path.join(path, str(v)))]
    if not complete:
        raise DataError(
            f'--saved_model: {path!r} holds version folder(s) {", ".join(map(str, versions))}'
            f' but none holds {SAVED_MODEL_FILES[0]} (an interrupted or deleted export?). '
            'Export again: jacktf export --model_dir MODEL_DIR.')
    return os.path.join(path, str(complete[-1])), complete[-1], complete


def find_saved_model(path):
    """Resolves a SavedModel the way people name one, to one version folder.

    Accepted: a SavedModel folder (``MODEL_DIR/export/600``), an export base folder of
    numbered versions (``MODEL_DIR/export``, TF Serving's layout; the highest number
    wins), a model directory holding ``export/`` (or only ``export_best/``), or the
    ``saved_model.pb`` file itself.

    Args:
      path: what the user gave as --saved_model.

    Returns:
      (folder, note): the SavedModel folder and, when it is not ``path`` itself, one line
      saying which version was chosen (else None).

    Raises:
      DataError: ``path`` is missing, or holds no SavedModel; the message lists what it
        holds and what to give instead.
    """
    given = path
    path = path.rstrip('/') or '/'
    if not tf.io.gfile.exists(path):
        raise DataError(f'--saved_model {given!r}: no such file or folder. Give a '
                        'SavedModel folder (MODEL_DIR/export/<version>), the export folder '
                        '(MODEL_DIR/export) or the model directory.')
    if not tf.io.gfile.isdir(path):
        if os.path.basename(path) in SAVED_MODEL_FILES:
            return os.path.dirname(path) or '.', None
        raise DataError(f'--saved_model {given!r} is a file, not a SavedModel folder. Give '
                        'the folder that holds saved_model.pb (MODEL_DIR/export/<version>), '
                        'the export folder (MODEL_DIR/export) or the model directory.')
    if is_saved_model(path):
        return path, None
    candidates = [(path, None)] + [(os.path.join(path, name), name)
                                   for name in EXPORT_FOLDERS
                                   if tf.io.gfile.isdir(os.path.join(path, name))]
    for base, folder in candidates:
        found = _newest_version(base)
        if found:
            version_path, version, versions = found
            where = os.path.join(given.rstrip('/'), folder) if folder else given.rstrip('/')
            older = versions[:-1][::-1]
            others = (f'; older: {", ".join(map(str, older[:3]))}'
                      f'{" ..." if len(older) > 3 else ""}' if older else '')
            return version_path, (f'Using SavedModel version {version} ({version_path}), '
                                  f'the newest in {where}{others}.')
    names = [n.rstrip('/') for n in tf.io.gfile.listdir(path)]
    hint = ('Give a SavedModel folder (holding saved_model.pb), an export folder of '
            'numbered versions, or a model directory holding export/.')
    if 'checkpoints' in names or 'operative_config.gin' in names:
        hint = (f'It looks like a model directory that was never exported: run '
                f'jacktf export --model_dir {given} first.')
    elif is_saved_model(os.path.dirname(os.path.abspath(path))):
        hint = (f'It is a folder inside the SavedModel '
                f'{os.path.dirname(os.path.abspath(path))}: give that one.')
    elif 'checkpoint' in names or any(n.endswith('.index') for n in names):
        hint = (f'These are training checkpoints, not an export: run jacktf export '
                f'--model_dir {os.path.dirname(os.path.abspath(path))} first, or give '
                'the model directory if it holds export/.')
    searched = ''.join(f', nor in {folder}/' for _, folder in candidates[1:])
    raise DataError(f'--saved_model {given!r} holds no SavedModel: no saved_model.pb and no '
                    f'numbered version folder{searched}. It holds {_describe(path, names)}. '
                    f'{hint}')


def load_saved_model(path):
    """Loads a jacktf SavedModel; returns (module, its serving_default function).

    Raises:
      DataError: the files cannot be loaded, or it is not a jacktf classifier export.
    """
    try:
        module = tf.saved_model.load(path)
    except (OSError, ValueError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0].rstrip('.') if str(e).strip() else (
            type(e).__name__)
        raise DataError(f'Cannot load the SavedModel {path!r}: {first}. The export may be '
                        'incomplete or corrupt: export again with jacktf export '
                        '--model_dir MODEL_DIR.') from None
    serve = module.signatures.get('serving_default')
    if serve is None or 'probabilities' not in serve.structured_outputs:
        raise DataError(f'{path!r} is a SavedModel but not a jacktf classifier export: it '
                        'has no serving_default signature returning probabilities '
                        f'(signatures: {sorted(module.signatures) or "none"}).')
    return module, serve


def _outputs(logits, class_names, top_k):
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
    classes = tf.argmax(probabilities, -1, output_type=tf.int32)
    top_p, top_c = tf.math.top_k(probabilities, k=top_k)
    return {'probabilities': probabilities, 'classes': classes,
            'class_names': tf.gather(class_names, classes),
            'top_k_classes': top_c, 'top_k_probabilities': top_p,
            'top_k_class_names': tf.gather(class_names, top_c)}


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
        logits = model.predict(images, training=False)['logits']
        return {'probabilities': tf.nn.softmax(tf.cast(logits, tf.float32))}

    return probabilities


class ServingModule(tf.Module):
    """What the SavedModel holds: variables, class names and the traced signatures."""

    def __init__(self, model, class_names, labels_path=None):
        super().__init__(name='jacktf_serving')
        self._model = model
        self.model_variables = list(model.variables)
        self.class_names = tf.Variable(class_names, trainable=False, name='class_names')
        self.image_size = tf.Variable(model.image_size, trainable=False, name='image_size')
        self.top_k = min(5, model.num_classes)
        self.cam_endpoint = model.card.cam_endpoint
        if labels_path:
            self.labels_asset = tf.saved_model.Asset(labels_path)

    def preprocess_batch(self, images_uint8):
        model = self._model
        return tf.map_fn(lambda im: model.preprocess(im, training=False), images_uint8,
                         fn_output_signature=tf.TensorSpec(
                             [model.image_size, model.image_size, 3], tf.float32))

    def _decode(self, encoded):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return self._model.preprocess(image, training=False)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='images')])
    def serve_encoded(self, images):
        size = self._model.image_size
        batch = tf.map_fn(self._decode, images,
                          fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))
        logits = self._model.predict(batch, training=False)['logits']
        return _outputs(logits, self.class_names, self.top_k)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8,
                                                name='images')])
    def serve_images(self, images):
        logits = self._model.predict(self.preprocess_batch(images), training=False)['logits']
        return _outputs(logits, self.class_names, self.top_k)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8,
                                                name='images')])
    def explain(self, images):
        from jacktf.evaluation import cam as cam_lib
        logits, cam = cam_lib.explain(lambda x: self._model.predict(x, training=False),
                                      self.cam_endpoint, self.preprocess_batch(images))
        result = _outputs(logits, self.class_names, self.top_k)
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


def write_saved_model(model, folder, *, class_names, labels_path=None):
    """Writes the serving module of ``model`` into ``folder`` (which may exist, empty)."""
    module = ServingModule(model, class_names, labels_path)
    signatures = {'serving_default': module.serve_encoded,
                  'predict_images': module.serve_images}
    if module.cam_endpoint:
        signatures['explain_images'] = module.explain
    tf.saved_model.save(module, folder, signatures=signatures)
    return folder


def export_saved_model(model, export_dir, *, class_names, labels_path=None, version=None,
                       parity_encoded=None, atol=1e-4, overwrite=True):
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
        write_saved_model(model, staging, class_names=class_names, labels_path=labels_path)
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
