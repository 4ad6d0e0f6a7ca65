"""Predicting with an exported SavedModel, and drawing class activation maps."""

import os

import numpy as np
from PIL import Image

from jacktf.core.errors import DataError
from jacktf.data import image_check


def collect_images(paths):
    """Files to predict on: files as given, folders searched for image files.

    Raises:
      DataError: a missing path, or a folder without images.
    """
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(root, f) for root, _, names in os.walk(path)
                           for f in names if f.lower().endswith(image_check.IMAGE_EXTENSIONS))
            if not found:
                raise DataError(f'The folder {path!r} holds no images '
                                f'({", ".join(image_check.IMAGE_EXTENSIONS)}).')
            files.extend(found)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise DataError(f'No such file or folder: {path!r}.')
    return files


def load_checked(path):
    """(JPEG bytes, uint8 RGB array) of an image file, or DataError saying why not."""
    result = image_check.inspect_image(path)
    if not result['ok']:
        raise DataError(f'Cannot predict on {path!r}: {result["reason"]}. Give JPEG, PNG, '
                        'BMP or GIF images.')
    import io
    array = np.asarray(Image.open(io.BytesIO(result['encoded'])).convert('RGB'))
    return result['encoded'], array


def jet(values):
    """A jet-like colormap for values in [0, 1] -> uint8 RGB."""
    v = np.clip(values, 0, 1)[..., None]
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.concatenate([r, g, b], -1) * 255).astype(np.uint8)


def cam_overlay(image, cam, alpha=0.5):
    """Resizes ``cam`` [h, w] to the image, normalizes it and blends a heat map over it."""
    cam = np.asarray(cam, np.float32)
    cam = cam - cam.min()
    cam = cam / cam.max() if cam.max() > 0 else cam
    heat = Image.fromarray((cam * 255).astype(np.uint8)).resize(
        (image.shape[1], image.shape[0]), Image.BILINEAR)
    heat = jet(np.asarray(heat, np.float32) / 255.0)
    return (image * (1 - alpha) + heat * alpha).astype(np.uint8), np.asarray(heat)


def upsampled_cam(cam, height, width):
    """The CAM resized to the image (values kept, for locating the hottest region)."""
    image = Image.fromarray(np.asarray(cam, np.float32), mode='F')
    return np.asarray(image.resize((width, height), Image.BILINEAR))
