"""Test-time augmentation: each image is classified in several views and the class
probabilities are averaged. The first view is always the image itself, so one pass gives
the plain numbers and the TTA numbers side by side.

Modes (combine with a comma): ``flip`` adds the left-right mirror of every view;
``crops`` adds the four corner crops of CROP_FRACTION of the height and width. ``flip``
gives 2 views, ``crops`` 5, ``flip,crops`` 10.
"""

from jacktf.core.errors import ConfigError

MODES = ('flip', 'crops')
DEFAULT = 'flip'
CROP_FRACTION = 0.875


def parse(text):
    """('flip',) / ('crops',) / ('flip', 'crops') from a comma list; None for empty.

    Raises:
      ConfigError: an unknown mode, naming the known ones.
    """
    if text is None or text is False:
        return None
    modes = [m.strip() for m in str(text).split(',') if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ConfigError(f'--tta {text!r}: unknown mode {unknown[0]!r}. Give flip, crops '
                          'or flip,crops (a bare --tta means flip).')
    return tuple(m for m in MODES if m in modes) or None


def count(modes):
    """The number of views ``modes`` make."""
    return (5 if 'crops' in modes else 1) * (2 if 'flip' in modes else 1)


def describe(modes):
    """'flip,crops (10 views)'."""
    return f"{','.join(modes)} ({count(modes)} views)"


def views(image, modes):
    """The views of one uint8 image [H, W, 3] (a tensor), the image itself first.

    Returns:
      A list of count(modes) uint8 tensors (crops are smaller than the image).
    """
    import tensorflow as tf
    bases = [image]
    if 'crops' in modes:
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        h = tf.maximum(tf.cast(tf.round(tf.cast(height, tf.float32) * CROP_FRACTION),
                               tf.int32), 1)
        w = tf.maximum(tf.cast(tf.round(tf.cast(width, tf.float32) * CROP_FRACTION),
                               tf.int32), 1)
        for top, left in ((0, 0), (0, 1), (1, 0), (1, 1)):
            bases.append(tf.image.crop_to_bounding_box(
                image, top * (height - h), left * (width - w), h, w))
    if 'flip' not in modes:
        return bases
    return [v for base in bases for v in (base, tf.image.flip_left_right(base))]


def encoded_views(encoded, modes):
    """The views of one encoded image (bytes tensor) as PNG bytes [V], the first view
    the original bytes themselves (so it is decoded exactly as without TTA)."""
    import tensorflow as tf
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    rest = [tf.io.encode_png(v) for v in views(image, modes)[1:]]
    return tf.stack([encoded] + rest)


def runner_probabilities(probabilities_fn, encoded, modes):
    """(plain, TTA) probabilities [N, K] of encoded images with a model that takes
    encoded images (``probabilities_fn(list of bytes) -> [M, K]``, e.g. a predict
    runner's), each image sent as its views.
    """
    import numpy as np
    import tensorflow as tf
    views = [tf.unstack(encoded_views(tf.constant(e), modes)) for e in encoded]
    flat = [v.numpy() for image_views in views for v in image_views]
    probs = np.asarray(probabilities_fn(flat)).reshape(len(encoded), count(modes), -1)
    return probs[:, 0], probs.mean(1)
