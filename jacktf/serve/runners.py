"""One interface over the three deployment formats, for ``jacktf predict`` and the
export's verification: ``runner.probabilities(encoded_images)``,
``runner.class_names``, ``runner.thresholds`` (a multi-label model's per-label
thresholds, from the SavedModel or the card; None for a single-label one) and, for a
model calibrated for an "unknown" answer, ``runner.unknown`` (the rule) and
``runner.predict(encoded_images)`` (probabilities, ``ood_score`` and ``is_unknown``; a
SavedModel computes them, a .tflite/.onnx runner applies its card's probability
threshold).

* a SavedModel gets the file's bytes (its ``serving_default`` decodes and preprocesses);
* a .tflite (LiteRT) or .onnx (onnxruntime) model gets what its card says a client
  sends: the bytes decoded by ``tf.io.decode_image`` as the SavedModel does, resized
  and cropped as the backbone's eval preprocessing does (see ``client_preprocessing``),
  then, for a quantized input, the card's quantization.
"""

import os

import numpy as np

from jacktf.core.errors import DataError
from jacktf.evaluation import unknown as unknown_lib
from jacktf.serve import client_preprocessing, model_card, onnx_export, saved_models, tflite

KINDS = ('saved_model', 'tflite', 'onnx')


class SavedModelRunner:
    """A SavedModel export: the file bytes go to ``serving_default``."""
    kind = 'saved_model'

    def __init__(self, path):
        self.path, self.note = saved_models.find_saved_model(path)
        self.module, self.serve = saved_models.load_saved_model(self.path)
        self.label = 'SavedModel'
        names = getattr(self.module, 'class_names', None)
        self.class_names = [n.decode() for n in names.numpy()] if names is not None \
            else None
        found = getattr(self.module, 'label_thresholds', None)  # multi-label exports
        self.thresholds = None if found is None else [float(t) for t in found.numpy()]
        self.unknown = None
        if 'is_unknown' in self.serve.structured_outputs:
            score = self.module.unknown_score.numpy().decode()
            threshold = float(self.module.unknown_threshold.numpy())
            self.unknown = {'score': score, 'threshold': threshold,
                            'rule': unknown_lib.rule(score, threshold)}

    def predict(self, encoded, batch=32):
        """{'probabilities' [N, K]} and, when calibrated, 'ood_score' and 'is_unknown'."""
        import tensorflow as tf
        keys = ('probabilities', 'ood_score', 'is_unknown') if self.unknown else (
            'probabilities',)
        parts = [self.serve(images=tf.constant(list(encoded[i:i + batch])))
                 for i in range(0, len(encoded), batch)]
        out = {k: np.concatenate([p[k].numpy() for p in parts]) for k in keys}
        if self.class_names is None:
            self.class_names = [str(i) for i in range(out['probabilities'].shape[1])]
        return out

    def probabilities(self, encoded, batch=32):
        return self.predict(encoded, batch)['probabilities']


class _FileRunner:
    """A .tflite or .onnx file with its card and labels (beside it, else inside)."""

    def __init__(self, path, registry, embedded):
        self.path, self.note = path, None
        self.card = model_card.read_card(path, embedded.get('card'))
        self.class_names = model_card.read_labels(path, int(self.card['num_classes']),
                                                  embedded.get('labels'))
        self._prepare = client_preprocessing.client_function(self.card['preprocessing'],
                                                             registry)
        section = self.card.get('multi_label')  # sigmoid per label, and its thresholds
        self.thresholds = [float(t) for t in section['thresholds']] if section else None
        self.unknown = self.card.get('unknown')  # a max-probability threshold

    def predict(self, encoded):
        """{'probabilities'} and, when the card has an unknown threshold, 'ood_score'
        (the largest probability) and 'is_unknown'."""
        probs = self.probabilities(encoded)
        out = {'probabilities': probs}
        if self.unknown:
            out['ood_score'] = probs.max(-1).astype(np.float32)
            out['is_unknown'] = unknown_lib.is_unknown(out['ood_score'],
                                                       self.unknown['threshold'])
        return out

    @property
    def label(self):
        return f"{self.kind} {self.card.get('variant', '')}".strip()

    def preprocess(self, encoded):
        return np.stack([self._prepare(data) for data in encoded])

    def probabilities(self, encoded):
        return self.run(self.preprocess(encoded))


class TFLiteRunner(_FileRunner):
    kind = 'tflite'

    def __init__(self, path, registry):
        with open(path, 'rb') as f:
            flat = f.read()
        self.interpreter = tflite.interpreter(flat)
        meta = tflite.read_metadata(flat)
        super().__init__(path, registry, {
            'card': meta.get(tflite.CARD_KEY, b'').decode() or None,
            'labels': meta.get(tflite.LABELS_KEY, b'').decode() or None})

    def run(self, images):
        return tflite.run(self.interpreter, images)


class OnnxRunner(_FileRunner):
    kind = 'onnx'

    def __init__(self, path, registry):
        with open(path, 'rb') as f:
            self.session = onnx_export.session(f.read())
        meta = onnx_export.metadata(self.session)
        super().__init__(path, registry, {'card': meta.get(onnx_export.CARD_KEY),
                                          'labels': meta.get(onnx_export.LABELS_KEY)})

    def run(self, images):
        return onnx_export.run(self.session, images)


def open_model(path, registry):
    """A runner for a SavedModel (folder, export folder, model directory or
    saved_model.pb), a .tflite or a .onnx file.

    Raises:
      DataError: the path is missing, of another kind, or its card is missing.
      ConfigError: the runtime of its format is not installed.
    """
    lower = path.lower()
    if lower.endswith(('.tflite', '.onnx')):
        if not os.path.isfile(path):
            raise DataError(f'--model {path!r}: no such file.')
        if lower.endswith('.tflite'):
            return TFLiteRunner(path, registry)
        return OnnxRunner(path, registry)
    if os.path.isfile(path) and os.path.basename(path) not in saved_models.SAVED_MODEL_FILES:
        raise DataError(f'--model {path!r} is neither a SavedModel (a folder holding '
                        'saved_model.pb) nor a .tflite or .onnx file.')
    return SavedModelRunner(path)
