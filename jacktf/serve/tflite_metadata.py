"""The standard TFLite Model Metadata of an image classifier, the format that MediaPipe
Tasks' ImageClassifier (Android, iOS, web, Python), ML Kit and Android Studio's model
binding read: name, description, version, author and licence; the input's image
properties and NormalizationOptions; the output's label file (``labels.txt``, packed
into the .tflite as TENSOR_AXIS_LABELS) and score range.

How it is written: the metadata flatbuffer is built with the schema module that the
``mediapipe`` wheel ships (``mediapipe.tasks.metadata.metadata_schema_py_generated``,
generated from ``metadata_schema.fbs``) and the ``flatbuffers`` runtime TensorFlow
already needs; it is stored as the model's ``TFLITE_METADATA`` entry, and the label
file is appended to the flatbuffer as an uncompressed zip, which is exactly what
``MetadataPopulator`` does. The populators themselves are not used: mediapipe 1.2.3's
wheel lacks the compiled module its populator imports (``_pywrap_metadata_version``),
and tflite-support 0.4.4 pins protobuf < 4, which TensorFlow 2.21 refuses, so neither
installs and runs from one ``pip install``. MediaPipe is the client the files are
checked in anyway (``mediapipe_check``), so it is one dependency for both jobs.

The minimum parser version is 1.0.0: every field written here (ImageProperties,
NormalizationOptions, Stats, TENSOR_AXIS_LABELS) is in the first schema version.
"""

import io
import zipfile

import numpy as np

from jacktf.core.errors import ConfigError

METADATA_NAME = 'TFLITE_METADATA'
MIN_PARSER_VERSION = '1.0.0'
FILE_IDENTIFIER = b'M001'
EXTRA = "pip install 'jacktf[tflite]'"
MISSING = ('The standard TFLite metadata (read by MediaPipe Tasks, ML Kit and Android '
           'Studio) is written with the schema that the mediapipe package ships, and '
           f'mediapipe is not installed: {EXTRA}.')


def schema():
    """The generated metadata schema module (from the mediapipe wheel).

    Raises:
      ConfigError: mediapipe is not installed (the message gives the install line).
    """
    try:
        from mediapipe.tasks.metadata import metadata_schema_py_generated
    except ImportError:
        raise ConfigError(MISSING) from None
    return metadata_schema_py_generated


def _input_tensor(fb, info):
    tensor = fb.TensorMetadataT()
    tensor.name = 'image'
    if not info.get('pixels', True):
        tensor.description = ('The output of the preprocessor plugin '
                              f'{info.get("preprocessing")!r} (see the jacktf card); an '
                              'app must run it, MediaPipe cannot.')
        return tensor
    tensor.description = ('RGB pixel values in [0, 255] (the normalization is the first '
                          'op inside the model). ' + info.get('client_steps', ''))
    content = fb.ContentT()
    content.contentPropertiesType = fb.ContentProperties.ImageProperties
    props = fb.ImagePropertiesT()
    props.colorSpace = fb.ColorSpaceType.RGB
    content.contentProperties = props
    tensor.content = content
    if info.get('float_input', True):  # a uint8 input is the pixel itself: no unit
        unit = fb.ProcessUnitT()
        unit.optionsType = fb.ProcessUnitOptions.NormalizationOptions
        norm = fb.NormalizationOptionsT()
        norm.mean, norm.std = [0.0], [1.0]
        unit.options = norm
        tensor.processUnits = [unit]
    stats = fb.StatsT()
    stats.max, stats.min = [255.0], [0.0]
    tensor.stats = stats
    return tensor


def _output_tensor(fb, labels_file):
    tensor = fb.TensorMetadataT()
    tensor.name = 'probability'
    tensor.description = 'Softmax probabilities of the classes, in labels.txt order.'
    content = fb.ContentT()
    content.contentPropertiesType = fb.ContentProperties.FeatureProperties
    content.contentProperties = fb.FeaturePropertiesT()
    tensor.content = content
    stats = fb.StatsT()
    stats.max, stats.min = [1.0], [0.0]
    tensor.stats = stats
    labels = fb.AssociatedFileT()
    labels.name = labels_file
    labels.description = 'The class names, one a line, in output order.'
    labels.type = fb.AssociatedFileType.TENSOR_AXIS_LABELS
    tensor.associatedFiles = [labels]
    return tensor


def metadata_buffer(info):
    """The ModelMetadata flatbuffer bytes of an image classifier.

    Args:
      info: {'name', 'description', 'version', 'author', 'license', 'labels_file',
        'pixels' (the input is pixels), 'float_input', 'client_steps',
        'preprocessing'}.
    """
    import flatbuffers
    fb = schema()
    model = fb.ModelMetadataT()
    for field in ('name', 'description', 'version', 'author', 'license'):
        setattr(model, field, str(info[field]))
    model.minParserVersion = MIN_PARSER_VERSION
    graph = fb.SubGraphMetadataT()
    graph.inputTensorMetadata = [_input_tensor(fb, info)]
    graph.outputTensorMetadata = [_output_tensor(fb, info['labels_file'])]
    model.subgraphMetadata = [graph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), FILE_IDENTIFIER)
    return bytes(builder.Output())


def populate(flat, info, labels_text):
    """``flat`` (.tflite bytes) with the standard metadata and the packed label file.

    Any earlier ``TFLITE_METADATA`` entry is replaced; the label file is appended as a
    stored (uncompressed) zip member, as ``MetadataPopulator`` does.
    """
    from jacktf.serve import tflite
    flat = tflite.embed_metadata(strip_files(flat), {METADATA_NAME: metadata_buffer(info)})
    out = io.BytesIO(flat)
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, 'a', compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(info['labels_file'], labels_text)
    return out.getvalue()


def strip_files(flat):
    """The flatbuffer without files packed after it (a zip is not part of the model)."""
    try:
        with zipfile.ZipFile(io.BytesIO(flat)) as zf:
            start = min((i.header_offset for i in zf.infolist()), default=len(flat))
    except zipfile.BadZipFile:
        return flat
    return flat[:start]


def packed_files(flat):
    """{name: bytes} of the files packed into a .tflite (empty when none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(flat)) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    except zipfile.BadZipFile:
        return {}


def read(flat):
    """The standard metadata of a .tflite as a small dict (None when it has none):
    name, version, author, license, min_parser_version, input normalization
    (mean, std), the output's associated files {name: type}."""
    from jacktf.serve import tflite
    data = tflite.read_metadata(strip_files(flat)).get(METADATA_NAME)
    if not data:
        return None
    fb = schema()
    meta = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(data, 0))
    text = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    graph = meta.subgraphMetadata[0]
    inp, out = graph.inputTensorMetadata[0], graph.outputTensorMetadata[0]
    norm = None
    for unit in inp.processUnits or ():
        if unit.optionsType == fb.ProcessUnitOptions.NormalizationOptions:
            norm = {'mean': np.asarray(unit.options.mean).tolist(),
                    'std': np.asarray(unit.options.std).tolist()}
    return {'name': text(meta.name), 'version': text(meta.version),
            'author': text(meta.author), 'license': text(meta.license),
            'description': text(meta.description),
            'min_parser_version': text(meta.minParserVersion), 'normalization': norm,
            'output_files': {text(f.name): f.type for f in out.associatedFiles or ()}}
