"""Predicting with an exported SavedModel, and drawing class activation maps.

A file is sent to the SavedModel as the bytes it holds, so the numbers equal what a
server returns for the same file. Files that cannot be predicted on are reported with a
reason (``UnreadableImage``) and left out; the caller lists them.
"""

import io
import os
import re

from jacktf.core.errors import DataError
from jacktf.data import image_check

# Formats tf.io.decode_image reads (what the serving signature decodes). Others PIL can
# open (TIFF) are sent as lossless PNG.
SERVED_FORMATS = ('JPEG', 'PNG', 'GIF', 'BMP', 'WEBP')


class UnreadableImage(DataError):
    """One input file cannot be predicted on; the message is the reason."""


def collect_images(paths):
    """Files to predict on: files as given, folders searched for image files (hidden
    files such as macOS's ``._photo.jpg`` left out, as ``jacktf convert`` does).

    Raises:
      DataError: a missing path, or a folder without images.
    """
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(root, f) for root, _, names in os.walk(path)
                           for f in names if not f.startswith('.')
                           and f.lower().endswith(image_check.IMAGE_EXTENSIONS))
            if not found:
                raise DataError(f'The folder {path!r} holds no images '
                                f'({", ".join(image_check.IMAGE_EXTENSIONS)}).')
            files.extend(found)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise DataError(f'No such file or folder: {path!r}.')
    return files


def decode(encoded):
    """uint8 RGB [H, W, 3] of encoded bytes, decoded as the serving signature does."""
    import tensorflow as tf
    return tf.io.decode_image(encoded, channels=3, expand_animations=False).numpy()


def read_image(path, max_pixels=image_check.DEFAULT_MAX_PIXELS):
    """The bytes to send a SavedModel for one image file.

    Args:
      path: an image file.
      max_pixels: larger images are refused before they are decoded.

    Returns:
      (encoded, note): the file's own bytes for JPEG/PNG/GIF/BMP/WebP (note None), or a
      lossless PNG of another format PIL reads, or of a photo with an EXIF orientation
      turned upright (note says so).

    Raises:
      UnreadableImage: the file is unreadable, empty, not an image, corrupt or
        truncated, too large, or TensorFlow's decoder refuses it.
    """
    import tensorflow as tf
    try:  # regular files only, size-capped, the supported formats only
        data, image = image_check.open_image(path, max_pixels)
    except image_check.ImageRejected as e:
        raise UnreadableImage(str(e)) from None
    fmt = (image.format or '?').upper()
    note = None
    turn = image_check.orientation(image)
    if turn != 1:  # a phone photo taken sideways: sent upright, as a viewer shows it
        data = image_check.exif_upright(data)
        note = (f'EXIF orientation {turn}: sent upright as a lossless PNG (the SavedModel '
                'and TFLite/ONNX clients decode pixels as stored, without the tag)')
    elif fmt not in SERVED_FORMATS:
        if image.mode not in ('RGB', 'RGBA', 'L', 'LA'):
            image = image_check.to_rgb(image)  # 16-bit grayscale scaled, not clipped
        out = io.BytesIO()
        image.save(out, format='PNG')
        data = out.getvalue()
        note = (f'{fmt} is not a format the SavedModel decodes; sent as a lossless PNG '
                '(a server given this file would refuse it)')
    try:
        decode(data)
    except (tf.errors.InvalidArgumentError, ValueError) as e:
        first = re.sub(r'\{\{.*?\}\}|\[Op:\w+\]', '', str(e)).strip().split('\n')[0]
        raise UnreadableImage(f'TensorFlow cannot decode this {fmt}: {first}') from None
    return data, note


def unique_path(directory, stem, suffix='.cam.png'):
    """A new file ``directory/stem[-N]suffix``, created empty so no one else takes it.

    Never returns an existing file: ``cat.cam.png``, then ``cat-2.cam.png``, ...
    """
    n = 1
    while True:
        path = os.path.join(directory, f'{stem}{suffix}' if n == 1 else f'{stem}-{n}{suffix}')
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return path
        except FileExistsError:
            n += 1


def cam_overlay(image, cam, caption=None):
    """The picture ``jacktf predict --cam_dir`` writes: ``image`` (uint8 [H, W, 3]) with
    its class activation map ``cam`` [h, w], the caption (class and probability) on it
    and a colour scale (jacktf.evaluation.cam, the eval gallery's renderer)."""
    from jacktf.evaluation import cam as cam_lib
    return cam_lib.overlay_picture(image, cam, caption)


def upsampled_cam(cam, height, width):
    """The CAM resized to the image (values kept, for locating the hottest region)."""
    from jacktf.evaluation import cam as cam_lib
    return cam_lib.upsampled(cam, height, width)
