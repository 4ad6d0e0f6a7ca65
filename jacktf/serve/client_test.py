"""Test vectors for the apps that run an export: ``client_test.json`` beside the models.

It holds a few held-out images (the file bytes, base64, small ones chosen), the client
steps of the card (decode, crop, resize, what is inside the model) and, for each model
file of the folder and for the SavedModel it was made from, the expected top-k names
and probabilities for each image, with a tolerance. An app developer runs the images
through their own pipeline (the platform's decoder, their resize) and compares; jacktf
replays it with ``jacktf verify-client FILE`` (``replay``). Decoders differ more than
one expects: on the demo's small JPEGs Pillow's decoder instead of TensorFlow's moved
the probabilities by 0.07 to 0.17, which is what these vectors catch.

Tolerances (max |probability diff| for a correct client): float TFLite and ONNX 5e-4
(the export's float threshold, from measured float noise, see ``verify``); float16
5e-3; dynamic range 0.02 (kernels differ per platform); int8 two output steps plus the
float noise (2/256 + 5e-4).
"""

import base64
import hashlib
import json
import os

import numpy as np

from jacktf.core.errors import DataError

FILE = 'client_test.json'
FORMAT = 'jacktf-client-test/1'
TOLERANCES = {'float': 5e-4, 'onnx': 5e-4, 'float16': 5e-3, 'dynamic': 0.02,
              'int8': 2 / 256 + 5e-4, 'saved_model': 5e-4}


def choose(encoded, count=6, max_bytes=48_000):
    """Indexes of up to ``count`` images of at most ``max_bytes`` (kept small)."""
    return [i for i, data in enumerate(encoded) if len(data) <= max_bytes][:count]


def _expected(probs, class_names, top_k):
    out = []
    for p in probs:
        order = np.argsort(p)[::-1][:top_k]
        out.append([{'class_name': class_names[c], 'probability': round(float(p[c]), 7)}
                    for c in order])
    return out


def build(encoded, preprocessing, entries, class_names, top_k=3):
    """The client_test.json content.

    Args:
      encoded: the chosen images' bytes.
      preprocessing: the card's ``preprocessing`` section (the client steps).
      entries: {file name or 'saved_model': (variant, probabilities [N, K], card input
        section or None)}.
      class_names: the labels, in output order.
    """
    images = [{'name': f'held_out_{i}', 'sha256': hashlib.sha256(d).hexdigest(),
               'base64': base64.b64encode(d).decode('ascii')} for i, d in enumerate(encoded)]
    models = {}
    for name, (variant, probs, inp) in entries.items():
        models[name] = {'variant': variant, 'tolerance': TOLERANCES.get(variant, 5e-4),
                        'expected_top_k': _expected(probs, class_names, top_k)}
        if inp is not None:
            models[name]['input'] = inp
    return {'format': FORMAT,
            'how': 'Decode each image as the client_steps say (the platform decoder '
                   'should give the same pixels), crop and resize, feed the model, read '
                   'the probabilities: every expected class must be within the '
                   'tolerance, and the first one must be your top-1.',
            'client_steps': preprocessing, 'images': images, 'models': models}


def write(folder, content):
    path = os.path.join(folder, FILE)
    with open(path, 'w') as f:
        json.dump(content, f, indent=1)
        f.write('\n')
    return path


def find(model_path, given=None):
    """The client_test.json for a model: ``given``, else beside the file (inside a
    SavedModel folder), else the one of the same export's TFLite or ONNX folder.

    Raises:
      DataError: none found.
    """
    if given:
        if not os.path.isfile(given):
            raise DataError(f'--client_test {given!r}: no such file.')
        return given
    folder = model_path if os.path.isdir(model_path) else os.path.dirname(
        os.path.abspath(model_path))
    candidates = [os.path.join(folder, FILE)]
    if os.path.isdir(model_path):  # export/<step>/ -> export/tflite/<step>/, onnx/<step>/
        base, step = os.path.split(os.path.abspath(model_path))
        candidates += [os.path.join(base, kind, step, FILE) for kind in ('tflite', 'onnx')]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise DataError(f'No {FILE} for {model_path!r} (looked in {", ".join(candidates)}). '
                    'jacktf export --tflite/--onnx writes one beside the models; give '
                    'another with --client_test.')


def load(path):
    try:
        with open(path) as f:
            content = json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f'{path!r} is not readable JSON ({e}).') from None
    if content.get('format') != FORMAT:
        raise DataError(f'{path!r} is not a jacktf client test (format '
                        f'{content.get("format")!r}, expected {FORMAT!r}).')
    return content


def entry_for(content, model_path, kind, path):
    """The expected values of ``model_path`` (its file name, or 'saved_model')."""
    key = 'saved_model' if kind == 'saved_model' else os.path.basename(model_path)
    if key not in content['models']:
        raise DataError(f'{path!r} has no expected values for {key!r} (it has '
                        f'{", ".join(sorted(content["models"]))}). Give the client test '
                        'written with this model.')
    return content['models'][key]


def compare(content, entry, probs, class_names):
    """[(image name, problem)] where ``probs`` miss the expected values; and the
    largest difference seen."""
    problems, largest = [], 0.0
    tolerance = float(entry['tolerance'])
    for image, expected, p in zip(content['images'], entry['expected_top_k'], probs):
        top = class_names[int(np.argmax(p))]
        if top != expected[0]['class_name']:
            problems.append((image['name'], f'top-1 {top} {float(np.max(p)):.4f}, expected '
                             f'{expected[0]["class_name"]} {expected[0]["probability"]:.4f}'))
            continue
        for e in expected:
            if e['class_name'] not in class_names:
                problems.append((image['name'], f'no class named {e["class_name"]!r}'))
                break
            got = float(p[class_names.index(e['class_name'])])
            diff = abs(got - e['probability'])
            largest = max(largest, diff)
            if diff > tolerance:
                problems.append((image['name'], f'{e["class_name"]} {got:.6f}, expected '
                                 f'{e["probability"]:.6f} (|diff| {diff:.3g} > '
                                 f'{tolerance:.3g})'))
                break
    return problems, largest


def images(content):
    """The images' bytes (their sha256 checked)."""
    out = []
    for image in content['images']:
        data = base64.b64decode(image['base64'])
        if hashlib.sha256(data).hexdigest() != image['sha256']:
            raise DataError(f'Image {image["name"]} of the client test is damaged (sha256 '
                            'differs). Use the client_test.json the export wrote.')
        out.append(data)
    return out
