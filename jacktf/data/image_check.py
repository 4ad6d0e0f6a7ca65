"""Checking and normalizing one image file for the converter (PIL only, no TensorFlow).

``inspect_image`` returns the bytes to store (JPEG kept as it is when it is an RGB or
grayscale-free baseline JPEG; anything else re-encoded to RGB JPEG), or the reason the
file is skipped. Every image is decoded in full before it is accepted, so truncated
files are caught here and never reach training.
"""

import io
import os
import warnings

from PIL import Image, ImageFile

ImageFile.LOAD_TRUNCATED_IMAGES = False
Image.MAX_IMAGE_PIXELS = None  # jacktf applies its own limit, before decoding
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff')
DEFAULT_MAX_PIXELS = 100_000_000


def _to_rgb(image):
    if image.mode in ('RGBA', 'LA') or (image.mode == 'P' and 'transparency' in image.info):
        rgba = image.convert('RGBA')
        background = Image.new('RGB', rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.split()[3])
        return background
    return image.convert('RGB')


def inspect_image(path, max_pixels=DEFAULT_MAX_PIXELS, quality=95, return_original=True):
    """Returns dict(ok, encoded, format, height, width, converted, reason) for ``path``.

    With ``return_original=False`` a file kept as it is comes back with encoded=None
    (the caller reads the file itself, which is cheaper than shipping it between
    processes).
    """
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        return {'ok': False, 'reason': f'unreadable: {e.strerror or e}'}
    if not data:
        return {'ok': False, 'reason': 'empty file (0 bytes)'}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                return {'ok': False, 'reason': f'image too large: {width}x{height} pixels '
                                               f'exceeds the limit of {max_pixels}'}
            fmt = (image.format or '').upper()
            image.load()  # decodes every pixel: truncated data fails here
    except Image.DecompressionBombError as e:
        return {'ok': False, 'reason': f'image too large: {e}'}
    except (OSError, SyntaxError, ValueError) as e:
        if 'cannot identify' in str(e):
            return {'ok': False, 'reason': 'not an image (unrecognized format)'}
        return {'ok': False, 'reason': f'corrupt image: {e}'}
    if fmt == 'JPEG' and image.mode == 'RGB':
        return {'ok': True, 'encoded': data if return_original else None,
                'format': 'jpeg', 'height': height,
                'width': width, 'converted': None}
    out = io.BytesIO()
    _to_rgb(image).save(out, format='JPEG', quality=quality)
    return {'ok': True, 'encoded': out.getvalue(), 'format': 'jpeg', 'height': height,
            'width': width, 'converted': f'{fmt or "?"} {image.mode} -> RGB JPEG'}


def list_image_folder(image_dir):
    """(class names sorted, [(path, label)]) of a class-per-subfolder image directory.

    Every regular file counts (so non-images are reported, not silently ignored),
    except hidden files.
    """
    classes = sorted(d for d in os.listdir(image_dir)
                     if os.path.isdir(os.path.join(image_dir, d)) and not d.startswith('.'))
    items = []
    for label, name in enumerate(classes):
        folder = os.path.join(image_dir, name)
        for root, _, files in sorted(os.walk(folder)):
            for f in sorted(files):
                if not f.startswith('.'):
                    items.append((os.path.join(root, f), label))
    return classes, items
