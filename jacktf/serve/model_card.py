"""The card of a deployed model: a small JSON file beside each .tflite/.onnx saying what
a client must send and what it gets back.

Decoding and resizing are not inside TFLite and ONNX models (a fixed-shape input cannot
hold a resize of any photo, and a microcontroller has no JPEG decoder): the client does
them, and the card spells out how, exactly as the SavedModel's ``serving_default`` does
(see ``client_preprocessing``). A quantized input or output adds one step, given with
its numbers. ``jacktf predict`` follows the card, so its numbers for a .tflite/.onnx
file are comparable with the SavedModel's.
"""

import json
import os

from jacktf.core.errors import DataError

CARD_FORMAT = 'jacktf-deploy-card/1'
LABELS_FILE = 'labels.txt'


def quantize_step(scale, zero_point, dtype='uint8'):
    """The formula from the preprocessed float x to a quantized input value."""
    low, high = (0, 255) if dtype == 'uint8' else (-128, 127)
    if float(scale) == 1.0 and int(zero_point) == 0:
        return (f'q = clamp(round(x), {low}, {high}) as {dtype}: the pixel value itself '
                '(scale 1, zero point 0; round half away from zero)')
    return (f'q = clamp(round(x / {scale:.9g}) + {int(zero_point)}, {low}, {high}) as '
            f'{dtype} (round half away from zero)')


def dequantize_step(scale, zero_point):
    return f'p = (q - {int(zero_point)}) * {scale:.9g}'


def tensor_section(name, shape, dtype, quantization=None, batch_dynamic=False):
    """A card's ``input``/``output``: name, shape (-1 for a dynamic batch), type and,
    when quantized, the scale and zero point."""
    shape = [int(d) for d in shape]
    if batch_dynamic:
        shape[0] = -1
    out = {'name': name, 'shape': shape, 'dtype': str(dtype),
           'batch': 'dynamic (-1: any batch size)' if batch_dynamic else
                    f'fixed ({shape[0]})'}
    if quantization is not None:
        scale, zero_point = quantization
        out['quantization'] = {'scale': float(scale), 'zero_point': int(zero_point)}
    return out


def card_path(model_path):
    """The card beside a model file: ``int8.tflite`` -> ``int8.json``."""
    return os.path.splitext(model_path)[0] + '.json'


def labels_path(model_path):
    return os.path.join(os.path.dirname(os.path.abspath(model_path)), LABELS_FILE)


def write_json(path, card):
    with open(path, 'w') as f:
        json.dump(card, f, indent=2)
        f.write('\n')


def write_labels(folder, names):
    path = os.path.join(folder, LABELS_FILE)
    with open(path, 'w') as f:
        f.write('\n'.join(names) + '\n')
    return path


def read_card(model_path, embedded=None):
    """The card of a model file: the JSON beside it, else the copy inside the model.

    Raises:
      DataError: neither exists, or the JSON is not a jacktf card.
    """
    path = card_path(model_path)
    if os.path.exists(path):
        try:
            with open(path) as f:
                card = json.load(f)
        except (OSError, ValueError) as e:
            raise DataError(f'The card {path!r} beside {model_path!r} is not readable '
                            f'JSON ({e}). Export again with jacktf export.') from None
    elif embedded:
        card = json.loads(embedded)
    else:
        raise DataError(f'{model_path!r} has no card: no {os.path.basename(path)} beside '
                        'it and none inside. jacktf needs the card to preprocess images as '
                        'the model expects: use a model written by jacktf export, with the '
                        'files it wrote beside it.')
    if card.get('format') != CARD_FORMAT:
        raise DataError(f'{path!r} is not a jacktf deploy card (format '
                        f'{card.get("format")!r}, expected {CARD_FORMAT!r}).')
    return card


def read_labels(model_path, num_classes, embedded=None):
    """Class names: labels.txt beside the model, else the copy inside, else indexes.

    Raises:
      DataError: the labels file lists another number of classes than the model has.
    """
    path = labels_path(model_path)
    text, where = None, None
    if os.path.exists(path):
        with open(path) as f:
            text, where = f.read(), path
    elif embedded:
        text, where = embedded, f'the labels inside {model_path}'
    if text is None:
        return [str(i) for i in range(num_classes)]
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != num_classes:
        raise DataError(f'{where} lists {len(names)} classes but {model_path!r} has '
                        f'{num_classes} outputs. Put the labels.txt of this export beside '
                        'the model file.')
    return names


OPERATING_POINT_FILE = 'operating_point.json'


def operating_point_of(model_dir, step):
    """The operating point (two-class thresholds, ``evaluation.operating_point.
    for_export``) of the evaluation of ``step`` in MODEL_DIR/eval, or None when that
    step was not evaluated or has no threshold curve (more than two classes)."""
    if step is None:
        return None
    path = os.path.join(model_dir, 'eval', 'operating_points', f'step-{int(step)}.json')
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def store_operating_point(model_dir, step, folder):
    """Writes the operating point of ``step`` into an exported model's ``folder``
    (operating_point.json); returns it, or None when there is none."""
    point = operating_point_of(model_dir, step)
    if point is not None and os.path.isdir(folder):
        write_json(os.path.join(folder, OPERATING_POINT_FILE), point)
    return point
