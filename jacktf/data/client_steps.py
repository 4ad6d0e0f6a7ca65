"""A card's client steps (``PreprocessingCard.client_steps``) in words and replayed in
numpy, the way an app outside TensorFlow does them.

The steps are plain dicts (``{'step': 'resize', 'size': [S, S], ...}``) in the order an
app runs them: decode, crop, resize, normalize, layout. :func:`words` turns them into
the sentence the export's card prints; :func:`replay` runs them on a decoded image with
numpy alone (the check that the steps say enough to reproduce the model input).
"""

import numpy as np

RESIZE_WORDS = 'bilinear, half-pixel centers, no antialiasing: tf.image.resize'


def _resize_axis(in_size, out_size):
    """(lower, upper, lerp) of TF's half-pixel bilinear resize along one axis."""
    scale = np.float32(in_size) / np.float32(out_size)
    centres = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - \
        np.float32(0.5)
    floor = np.floor(centres)
    lower = np.maximum(floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(centres).astype(np.int64), in_size - 1)
    return lower, upper, (centres - floor).astype(np.float32)


def resize_bilinear(image, height, width):
    """float32 [H, W, C] -> [height, width, C] as tf.image.resize(method='bilinear')."""
    image = np.asarray(image, np.float32)
    y0, y1, ly = _resize_axis(image.shape[0], height)
    x0, x1, lx = _resize_axis(image.shape[1], width)
    lx = lx[None, :, None]
    top = image[y0][:, x0] + (image[y0][:, x1] - image[y0][:, x0]) * lx
    bottom = image[y1][:, x0] + (image[y1][:, x1] - image[y1][:, x0]) * lx
    return top + (bottom - top) * ly[:, None, None]


def _central_crop(image, fraction):
    h, w = image.shape[:2]
    top = int((float(h) - float(h) * fraction) / 2)
    left = int((float(w) - float(w) * fraction) / 2)
    return image[top:h - top, left:w - left]


def _resize_shorter_side(image, side):
    h, w = image.shape[:2]
    scale = np.float32(side) / np.float32(min(h, w))
    new_h = max(int(np.round(np.float32(h) * scale)), 1)  # round half to even, as TF
    new_w = max(int(np.round(np.float32(w) * scale)), 1)
    return resize_bilinear(image, new_h, new_w)


def _center_crop(image, size):
    h, w = image.shape[:2]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    return image[top:top + size[0], left:left + size[1]]


def replay(steps, image, *, stop_before=None):
    """Runs ``steps`` after 'decode' on ``image`` (uint8 RGB [H, W, 3]) with numpy.

    Args:
      steps: a card's client steps.
      image: the decoded image (what the 'decode' step gives).
      stop_before: a step name to stop at (e.g. 'normalize' for the pixels an exported
        TFLite/ONNX model takes), or None for all.

    Returns:
      float32: [1, S, S, 3] after the 'layout' step, else [S, S, 3].

    Raises:
      ValueError: a step this replay does not know.
    """
    x = np.asarray(image, np.float32)
    for step in steps:
        kind = step['step']
        if kind == stop_before:
            break
        if kind == 'decode':
            continue
        if kind == 'central_crop':
            x = _central_crop(x, float(step['fraction']))
        elif kind == 'resize':
            x = resize_bilinear(x, *step['size'])
        elif kind == 'resize_shorter_side':
            x = _resize_shorter_side(x, int(step['shorter_side']))
        elif kind == 'center_crop':
            x = _center_crop(x, step['size'])
        elif kind == 'normalize':
            x = (x - np.asarray(step['mean'], np.float32)) / np.asarray(step['std'],
                                                                      np.float32)
        elif kind == 'layout':
            x = x.reshape(step['shape']).astype(step['dtype'])
        else:
            raise ValueError(f'Unknown client step {kind!r} in {step!r}.')
    return x


def normalization_words(step):
    """'x / 127.5 - 1 (range [-1, 1])' or 'x - (123.68, ...) per RGB channel'."""
    mean, std = step['mean'], step['std']
    if len(set(std)) == 1 and std[0] == 1.0:
        return 'x - (' + ', '.join(f'{m:g}' for m in mean) + ') per RGB channel'
    if len(set(mean)) == 1 and len(set(std)) == 1:
        low, high = step['range'][0][0], step['range'][1][0]
        shift = mean[0] / std[0]
        formula = f'x / {std[0]:g}' + (f' - {shift:g}' if shift else '')
        return f'{formula} (range [{low:g}, {high:g}])'
    return ('(x - (' + ', '.join(f'{m:g}' for m in mean) + ')) / (' +
            ', '.join(f'{s:g}' for s in std) + ') per RGB channel')


def _step_words(step, first):
    kind = step['step']
    if kind == 'central_crop':
        f = step['fraction']
        return (f'keep the central {f:g} of the height and the width (top = '
                f'int((H - H * {f:g}) / 2), height = H - 2 * top; the same for the width)')
    if kind == 'resize':
        h, w = step['size']
        whole = 'resize the whole image to' if first else 'resize to'
        return f'{whole} {h}x{w} ({RESIZE_WORDS}) on float pixel values'
    if kind == 'resize_shorter_side':
        side = step['shorter_side']
        return (f'scale so the shorter side is {side} (each side n becomes round(n * '
                f'{side} / min(H, W)), half to even; {RESIZE_WORDS}) on float pixel '
                'values')
    if kind == 'center_crop':
        h, w = step['size']
        return (f'crop the central {h}x{w} (top = (H - {h}) // 2, left = (W - {w}) // 2)')
    if kind == 'normalize':
        return 'normalize: ' + normalization_words(step)
    if kind == 'layout':
        return f"lay out as {step['layout']} {step['dtype']} {step['shape']}"
    return None


def words(steps):
    """The steps after 'decode' in one sentence, in order."""
    parts = []
    for step in steps:
        if step['step'] == 'decode':
            continue
        text = _step_words(step, first=not parts)
        if text:
            parts.append(text)
    return ', then '.join(parts)

