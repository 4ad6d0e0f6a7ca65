"""The module a SavedModel export holds: the network's variables and traced functions
behind the serving signatures (encoded images, uint8 images, class activation maps),
and the outputs each signature returns (see jacktf.serve.export for the list)."""

import tensorflow as tf

from jacktf.evaluation import unknown as unknown_lib
from jacktf.serve import limits


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
