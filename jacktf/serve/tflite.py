"""TFLite models for phones and microcontrollers, run in the LiteRT interpreter.

Variants (``jacktf export --tflite float,int8``):

* ``float``: float32 weights and math, a dynamic batch dimension;
* ``float16``: float16 weights (half the size), float32 math on CPUs, dynamic batch;
* ``dynamic``: int8 weights, activations quantized on the fly, dynamic batch;
* ``int8``: full-integer post-training quantization calibrated on a representative
  set: every op int8, uint8 input and output, batch 1 (what TFLite Micro and Edge TPU
  compilers take).

Every variant takes the client's image (pixels for the built-in preprocessors, with the
normalization inside; see ``client_preprocessing``) and returns softmax probabilities.
The labels and the card are stored inside the flatbuffer as metadata entries
(``jacktf_labels``, ``jacktf_card``) as well as in the files written beside it, and every
file carries the standard TFLite Model Metadata with labels.txt packed in
(``tflite_metadata``), which MediaPipe Tasks, ML Kit and Android Studio read.
"""

import numpy as np
import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.serve.export import ExportError, probabilities_function

VARIANTS = ('float', 'float16', 'dynamic', 'int8')
LABELS_KEY = 'jacktf_labels'
CARD_KEY = 'jacktf_card'
# What LiteRT prints on stderr for every interpreter, whatever TF_CPP_MIN_LOG_LEVEL says
# (shown with --verbose / JACKTF_VERBOSE=1).
RUNTIME_NOISE = ('Created TensorFlow Lite XNNPACK delegate',)
EXTRA = "pip install 'jacktf[tflite]'"
MISSING = ('TFLite models are verified and run in the LiteRT interpreter (ai-edge-litert), '
           f'which is not installed: {EXTRA}.')


def parse_variants(values):
    """Variants from repeated and comma-separated --tflite values, in order, once each.

    Raises:
      ConfigError: an unknown variant (the message lists the known ones).
    """
    out = []
    for value in values or ():
        for name in str(value).split(','):
            name = name.strip().lower()
            if not name:
                continue
            if name not in VARIANTS:
                raise ConfigError(f'--tflite {name!r} is not a TFLite variant: give one or '
                                  f'more of {", ".join(VARIANTS)} (e.g. --tflite '
                                  'float,int8).')
            if name not in out:
                out.append(name)
    return out


def convert(model, variant, representative=None, normalize=None):
    """The flatbuffer of ``model`` as TFLite ``variant``.

    Args:
      model: the jacktf Model (weights restored).
      variant: one of VARIANTS.
      representative: for 'int8', the client's float32 images [S, S, 3] of training
        images (eval preprocessing) to calibrate the activation ranges.
      normalize: the normalization to put inside the model when the input is pixels
        (see ``client_preprocessing``), else None.

    Returns:
      The .tflite bytes.

    Raises:
      ExportError: the converter failed (the message names the variant and its reason).
    """
    batch = 1 if variant == 'int8' else None
    fn = probabilities_function(model, batch, normalize)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [fn.get_concrete_function()], model.network)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant != 'float':
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == 'float16':
        converter.target_spec.supported_types = [tf.float16]
    if variant == 'int8':
        images = [np.array(image, np.float32) for image in representative or ()]
        if normalize is not None:  # pixels: calibrate the input range to all of [0, 255]
            for image in images:  # so the uint8 input is the pixel (scale 1, zero 0)
                image[0, 0], image[0, 1] = 0.0, 255.0
        if not images:
            raise ExportError('--tflite int8 needs representative images to calibrate '
                              'the quantization, and none could be read from TRAIN_FILES.')
        converter.representative_dataset = lambda: ([image[None]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    try:
        return _quietly(converter.convert)
    except Exception as e:  # the converter raises ConverterError, RuntimeError, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f'The TFLite converter failed for the {variant} variant of '
                          f'{model.backbone_name}: {first}') from None


def embed_metadata(flat, entries):
    """``flat`` with named metadata entries added (the model's ``metadata`` table).

    Args:
      flat: .tflite bytes.
      entries: {name: bytes or str}.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flat))
    model.metadata = [m for m in (model.metadata or [])
                      if (m.name.decode() if isinstance(m.name, bytes) else m.name)
                      not in entries]
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data.encode() if isinstance(data, str) else data,
                                    np.uint8)
        model.buffers.append(buffer)
        metadata = schema.MetadataT()
        metadata.name = name
        metadata.buffer = len(model.buffers) - 1
        model.metadata.append(metadata)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_metadata(flat):
    """{name: bytes} of the metadata entries of a .tflite flatbuffer."""
    from tensorflow.lite.python import schema_py_generated as schema
    model = schema.Model.GetRootAsModel(flat, 0)
    out = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        buffer = model.Buffers(entry.Buffer())
        name = entry.Name().decode() if entry.Name() else ''
        out[name] = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b''
    return out


def litert_version():
    from importlib import metadata
    try:
        return metadata.version('ai-edge-litert')
    except metadata.PackageNotFoundError:
        return None


# What the TFLite converter's C++ code prints to stderr on every conversion (the int8
# one: "fully_quantize: 0, inference_type: 6, ..."); its errors come back as exceptions.
CONVERTER_NOISE = ('fully_quantize: ', 'I0000 00:00:', 'W0000 00:00:')


def _quietly(convert):
    """``convert()`` with the converter's log lines kept off the terminal (shown with
    -v / JACKTF_VERBOSE=1)."""
    from jacktf.core import compat
    if compat.verbose_requested():
        return convert()
    with compat.filtered_stderr(CONVERTER_NOISE):
        return convert()


def interpreter(flat):
    """A LiteRT interpreter (ai-edge-litert, what Android and microcontroller builds run)
    for the .tflite bytes ``flat``.

    Raises:
      ConfigError: ai-edge-litert is not installed (the message gives the install line).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ConfigError(MISSING) from None
    from jacktf.core import compat
    if compat.verbose_requested():
        return Interpreter(model_content=bytes(flat))
    with compat.filtered_stderr(RUNTIME_NOISE):  # LiteRT's C++ INFO lines
        interp = Interpreter(model_content=bytes(flat))
        interp.allocate_tensors()  # where the delegate is made (and says so)
    return interp


def run(interp, images):
    """Probabilities float32 [N, K] of ``interp`` for preprocessed images [N, S, S, 3].

    A uint8 input is quantized and a uint8 output dequantized with the model's own
    scale and zero point; a fixed batch runs image by image.
    """
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    images = np.asarray(images, np.float32)
    dynamic = int(inp['shape_signature'][0]) == -1
    chunks = [images] if dynamic else [images[i:i + 1] for i in range(len(images))]
    results = []
    for chunk in chunks:
        if dynamic:
            interp.resize_tensor_input(inp['index'], list(chunk.shape))
        interp.allocate_tensors()
        interp.set_tensor(inp['index'], quantize(chunk, inp))
        interp.invoke()
        results.append(dequantize(interp.get_tensor(out['index']), out))
    return np.concatenate(results)


def quantize(x, detail):
    """x as the input tensor's type: q = clamp(round(x / scale) + zero_point)."""
    dtype = np.dtype(detail['dtype'])
    if not np.issubdtype(dtype, np.integer):
        return x.astype(dtype)
    scale, zero_point = detail['quantization']
    v = x / scale
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero_point  # half away from zero
    info = np.iinfo(dtype)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q, detail):
    dtype = np.dtype(detail['dtype'])
    if not np.issubdtype(dtype, np.integer):
        return q.astype(np.float32)
    scale, zero_point = detail['quantization']
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)
