"""Each exported .tflite, run as an app runs it: MediaPipe Tasks' ImageClassifier (the
same C++ task on Android, iOS, the web and Python) with its defaults, on held-out image
files decoded by MediaPipe itself. It reads the standard metadata (``tflite_metadata``):
a file that lacks it is refused, and a file without the label file answers without
class names, so this check is what tells that an app can use the file as it is.

MediaPipe resizes the whole image to the model's input (no crop) unless the app gives a
region of interest; ``region`` states the crop of the model's eval preprocessing as that
region, so the numbers both with the defaults and with the region are measured.
"""

import os
import tempfile

import numpy as np

from jacktf.core.errors import ConfigError

EXTRA = "pip install 'jacktf[tflite]'"


def version():
    from importlib import metadata
    try:
        return metadata.version('mediapipe')
    except metadata.PackageNotFoundError:
        return None


def available():
    try:
        from mediapipe.tasks.python.vision import image_classifier  # noqa: F401
    except ImportError:
        return False
    return True


def central_region(preprocessing, height, width, fn_fraction=0.875):
    """The eval preprocessing's crop of an HxW image as (left, top, right, bottom) in
    [0, 1] (MediaPipe's ``region_of_interest``), or None for the whole image.

    Args:
      preprocessing: the card's ``preprocessing`` section ('inception' keeps its
        ``central_fraction``; 'vgg' the central square of the shorter side scaled by
        224/256 of the resize; 'simple' the whole image).
    """
    name = preprocessing.get('name')
    if name == 'inception':
        fraction = preprocessing.get('central_fraction', fn_fraction)
        top = int((height - height * fraction) / 2) / height
        left = int((width - width * fraction) / 2) / width
        return (left, top, 1.0 - left, 1.0 - top)
    if name == 'vgg':
        size = int(preprocessing['image_size'])
        side = size * min(height, width) / round(size * 256 / 224)
        top, left = (height - side) / 2 / height, (width - side) / 2 / width
        return (left, top, 1.0 - left, 1.0 - top)
    return None


def classify(flat, encoded, num_classes, *, preprocessing=None):
    """MediaPipe's answers for image files.

    Args:
      flat: the .tflite bytes (with the standard metadata).
      encoded: the image files' bytes.
      num_classes: the model's class count.
      preprocessing: the card's section; when given, each image gets the eval crop as
        its region of interest (else MediaPipe's default: the whole image).

    Returns:
      (probabilities float32 [N, K] in label order, names [N] of the top class as
      MediaPipe names it (None when it has no label)).

    Raises:
      ConfigError: mediapipe is not installed, or it refuses the model (its message).
    """
    try:
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.vision import image_classifier as ic
        from mediapipe.tasks.python.vision.core import image as mp_image
        from mediapipe.tasks.python.vision.core.image_processing_options import \
            ImageProcessingOptions
        from mediapipe.tasks.python.components.containers.rect import RectF
    except ImportError:
        raise ConfigError('MediaPipe Tasks (the client Android, iOS and web apps use) is '
                          f'not installed: {EXTRA}.') from None
    options = ic.ImageClassifierOptions(base_options=BaseOptions(model_asset_buffer=flat),
                                        max_results=int(num_classes))
    try:
        classifier = ic.ImageClassifier.create_from_options(options)
    except (RuntimeError, ValueError) as e:
        raise ConfigError(f'MediaPipe ImageClassifier refuses the model: {e}') from None
    probs, names = np.zeros([len(encoded), num_classes], np.float32), []
    with classifier, tempfile.TemporaryDirectory() as tmp:
        for i, data in enumerate(encoded):
            path = os.path.join(tmp, f'{i}.img')
            with open(path, 'wb') as f:
                f.write(data)
            image = mp_image.Image.create_from_file(path)
            processing = None
            if preprocessing is not None:
                region = central_region(preprocessing, image.height, image.width)
                if region is not None:
                    left, top, right, bottom = region
                    processing = ImageProcessingOptions(region_of_interest=RectF(
                        left=left, top=top, right=right, bottom=bottom))
            result = classifier.classify(image, processing)
            categories = result.classifications[0].categories
            for c in categories:
                probs[i, c.index] = c.score
            top = max(categories, key=lambda c: c.score)
            names.append(top.category_name or None)
    return probs, names


def region_words(preprocessing):
    """How an app states the eval crop as MediaPipe's region of interest, in words."""
    name = preprocessing.get('name')
    if name == 'inception':
        return ('region_of_interest = the central 0.875 of each side: left = top = '
                '0.0625, right = bottom = 0.9375 (normalized)')
    if name == 'vgg':
        size = int(preprocessing['image_size'])
        return (f'region_of_interest = the central square of side min(H, W) * {size} / '
                f'{round(size * 256 / 224)}, in normalized coordinates')
    return 'none: the model takes the whole image (MediaPipe\'s default)'


def check(flat, encoded, reference, preprocessing, class_names):
    """The card's ``mediapipe`` section: the file run in MediaPipe's ImageClassifier
    with its defaults (whole image) and with the eval crop as region of interest,
    compared with the SavedModel's probabilities ``reference`` [N, K].

    Raises:
      ConfigError: see ``classify``.
    """
    names = list(class_names)
    out = {'runtime': f'MediaPipe Tasks ImageClassifier (mediapipe {version()})',
           'decoder': 'MediaPipe\'s own (Image.create_from_file)',
           'region_of_interest': region_words(preprocessing)}
    for key, prep in (('defaults', None), ('with_region', preprocessing)):
        probs, top = classify(flat, encoded, len(names), preprocessing=prep)
        same = probs.argmax(1) == np.asarray(reference).argmax(1)
        out[key] = {'images': len(encoded), 'top1_agreement': float(np.mean(same)),
                    'max_abs_diff': float(np.max(np.abs(probs - reference))),
                    'names_from_labels': all(n in names for n in top)}
    return out
