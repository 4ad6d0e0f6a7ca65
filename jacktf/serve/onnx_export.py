"""ONNX export through tf2onnx, run in onnxruntime.

The ONNX model takes the client's image (pixels for the built-in preprocessors, with the
normalization inside; see ``client_preprocessing``), float32 NHWC [N, S, S, 3] with a
dynamic batch (``images``), and returns ``probabilities`` [N, K], like the float TFLite
model.
The labels and the card ride inside as ``metadata_props`` (``jacktf_labels``,
``jacktf_card``) besides the files written beside it.
"""

import numpy as np

from jacktf.core.errors import ConfigError
from jacktf.serve.export import ExportError, probabilities_function

OPSET = 17  # run by onnxruntime >= 1.13, ONNX Runtime Mobile and Web
LABELS_KEY = 'jacktf_labels'
CARD_KEY = 'jacktf_card'
EXTRA = "pip install 'jacktf[onnx]'"


def _tf2onnx():
    try:
        import tf2onnx
    except ImportError:
        raise ConfigError(f'--onnx needs tf2onnx, which is not installed: {EXTRA}.') \
            from None
    return tf2onnx


def versions():
    """{package: version} of the converter and runtime (for the card)."""
    from importlib import metadata
    out = {}
    for name in ('tf2onnx', 'onnx', 'onnxruntime'):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def convert(model, metadata=None, opset=OPSET, normalize=None):
    """The serialized ONNX model of ``model``.

    Args:
      model: the jacktf Model (weights restored).
      metadata: {key: str} stored in the model's metadata_props.
      opset: the ONNX opset.
      normalize: the normalization to put inside the model, or None.

    Returns:
      The .onnx bytes.

    Raises:
      ConfigError: tf2onnx is not installed.
      ExportError: the conversion failed.
    """
    tf2onnx = _tf2onnx()
    fn = probabilities_function(model, normalize=normalize)
    spec = fn.input_signature
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset)
    except Exception as e:  # tf2onnx raises many kinds
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f'tf2onnx could not convert {model.backbone_name}: {first}') \
            from None
    for key, value in (metadata or {}).items():
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    return proto.SerializeToString()


def session(data):
    """An onnxruntime CPU session for the .onnx bytes ``data``.

    Raises:
      ConfigError: onnxruntime is not installed.
    """
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(f'ONNX models are verified and run in onnxruntime, which is not '
                          f'installed: {EXTRA}.') from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(bytes(data), sess_options=options,
                                        providers=['CPUExecutionProvider'])


def metadata(sess):
    """{key: value} of the model's metadata_props."""
    return dict(sess.get_modelmeta().custom_metadata_map)


def run(sess, images, batch=32):
    """Probabilities float32 [N, K] for preprocessed images [N, S, S, 3]."""
    name = sess.get_inputs()[0].name
    images = np.asarray(images, np.float32)
    return np.concatenate([sess.run(None, {name: images[i:i + batch]})[0]
                           for i in range(0, len(images), batch)]).astype(np.float32)
