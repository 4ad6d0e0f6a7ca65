"""Listing image folders and checking one image file (PIL only, no TensorFlow).

``inspect_image`` returns the bytes to store (JPEG kept as it is when it is an RGB or
grayscale-free baseline JPEG; anything else re-encoded to RGB JPEG; a photo with an
EXIF orientation turned upright first, as ``exif_upright`` does for predict and the
image-folder reader), or the reason the file is skipped. ``open_image`` is the one
function that opens an image file (regular files only, a byte cap, the supported
formats only). Every image is decoded in full before it is accepted, so truncated
files are caught here and never reach training. ``list_image_folder`` is the one
listing rule of a class-per-subfolder folder (converter, image_folder decoder, labels):
operating-system litter such as ``__MACOSX/``, dot-files, ``Thumbs.db`` or ``@eaDir``
is never a class and never an image.
"""

import io
import os
import stat
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

ImageFile.LOAD_TRUNCATED_IMAGES = False
Image.MAX_IMAGE_PIXELS = None  # jacktf applies its own limit, before decoding
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff')
DEFAULT_MAX_PIXELS = 100_000_000


class ImageRejected(Exception):
    """An image file jacktf does not read; the message is the reason (one line)."""


# The formats jacktf reads; Pillow is never asked to guess among its others (EPS starts
# Ghostscript, and DDS/SPIDER/... decoders fail in ways nobody tests).
FORMATS = ('JPEG', 'PNG', 'GIF', 'BMP', 'WEBP', 'TIFF')
DEFAULT_MAX_BYTES = 256 << 20   # a file larger than this is not read at all
_UNSUPPORTED = ('not an image (unrecognized format); jacktf reads JPEG, PNG, GIF, BMP, '
                'WebP and TIFF')


def read_regular_file(path, max_bytes=DEFAULT_MAX_BYTES):
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``.

    The file is opened without blocking and checked on the open descriptor, so a FIFO,
    a device (a link to /dev/zero) or a folder is refused without waiting or reading.

    Raises:
      ImageRejected: unreadable, not a regular file, empty or too large.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0))
    except OSError as e:
        raise ImageRejected(f'unreadable: {e.strerror or e}') from None
    with os.fdopen(fd, 'rb') as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageRejected('not a regular file (a FIFO, device or folder); only '
                                'image files are read')
        if info.st_size > max_bytes:
            raise ImageRejected(f'file too large: {info.st_size} bytes exceeds the limit '
                                f'of {max_bytes}')
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageRejected(f'file too large: more than {max_bytes} bytes')
    if not data:
        raise ImageRejected('empty file (0 bytes)')
    return data


def open_image(path, max_pixels=DEFAULT_MAX_PIXELS, max_bytes=DEFAULT_MAX_BYTES):
    """The one way jacktf opens an image file: (file bytes, PIL image decoded in full).

    Only regular files up to ``max_bytes``, only the FORMATS (by content, never by the
    file name, never another Pillow plugin), at most ``max_pixels`` (checked from the
    header before decoding); every pixel is decoded, so truncated files fail here.

    Raises:
      ImageRejected: with the reason the file is not used.
    """
    data = read_regular_file(path, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(f'image too large: {width}x{height} pixels exceeds '
                                    f'the limit of {max_pixels}')
            image.load()  # decodes every pixel: truncated data fails here
    except ImageRejected:
        raise
    except Image.DecompressionBombError as e:
        raise ImageRejected(f'image too large: {e}') from None
    except UnidentifiedImageError:
        raise ImageRejected(_UNSUPPORTED) from None
    except MemoryError:
        raise ImageRejected('image too large: out of memory while decoding') from None
    except Exception as e:  # noqa: BLE001  any decoder fault is this file's, not the run's
        raise ImageRejected(f'corrupt image: {type(e).__name__}: {e}'[:300]) from None
    return data, image


def _sixteen_bit_to_8(image):
    """A 16/32-bit grayscale image as 8-bit 'L', scaled as TensorFlow's decoder does
    (value >> 8), not clipped to 255 (which makes it almost white)."""
    values = np.asarray(image).astype(np.int64)
    return Image.fromarray(np.clip(values >> 8, 0, 255).astype(np.uint8), 'L')


def to_rgb(image):
    """RGB of any image PIL opened: alpha over white, 16-bit grayscale scaled."""
    if image.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N'):
        image = _sixteen_bit_to_8(image)
    if image.mode in ('RGBA', 'LA') or (image.mode == 'P' and 'transparency' in image.info):
        rgba = image.convert('RGBA')
        background = Image.new('RGB', rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.split()[3])
        return background
    return image.convert('RGB')


def orientation(image):
    """The EXIF orientation of a PIL image (1, upright, when it has none)."""
    try:
        return int(image.getexif().get(0x0112, 1) or 1)
    except (ValueError, TypeError, OSError):
        return 1


def exif_upright(data):
    """The bytes of an image file as a viewer shows it: the file itself when its EXIF
    orientation is upright (or absent), else a lossless PNG of the pixels turned as the
    orientation says (phones store a sideways photo as it was taken, with a tag).
    ``data``: bytes, or the 0-d array ``tf.numpy_function`` passes."""
    data = data.item() if hasattr(data, 'item') else data
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            image = Image.open(io.BytesIO(bytes(data)), formats=FORMATS)
        except (OSError, SyntaxError, ValueError):
            return bytes(data)  # not an image PIL reads: whoever decodes it reports it
        if orientation(image) == 1:
            return bytes(data)
        out = io.BytesIO()
        ImageOps.exif_transpose(image).save(out, format='PNG')
    return out.getvalue()


def inspect_image(path, max_pixels=DEFAULT_MAX_PIXELS, quality=95, return_original=True,
                  max_bytes=DEFAULT_MAX_BYTES, fingerprint=None):
    """Returns dict(ok, encoded, format, height, width, converted, reason) for ``path``.

    With ``return_original=False`` a file kept as it is comes back with encoded=None
    (the caller reads the file itself, which is cheaper than shipping it between
    processes). With ``fingerprint`` (a function of the upright PIL image, e.g.
    ``near_duplicates.hash_image``) the result also holds its value as 'hash', from the
    same decoded pixels.
    """
    try:
        data, image = open_image(path, max_pixels, max_bytes)
    except ImageRejected as e:
        return {'ok': False, 'reason': str(e)}
    width, height = image.size
    fmt = (image.format or '').upper()
    turn = orientation(image)
    if turn != 1:  # store the photo upright, as a viewer shows it
        image = ImageOps.exif_transpose(image)
        width, height = image.size
    extra = {'hash': fingerprint(image if image.mode == 'RGB' else to_rgb(image))} \
        if fingerprint else {}
    if fmt == 'JPEG' and image.mode == 'RGB' and turn == 1:
        return {'ok': True, 'encoded': data if return_original else None,
                'format': 'jpeg', 'height': height,
                'width': width, 'converted': None, **extra}
    out = io.BytesIO()
    to_rgb(image).save(out, format='JPEG', quality=quality)
    return {'ok': True, 'encoded': out.getvalue(), 'format': 'jpeg', 'height': height,
            'width': width, 'converted': f'{fmt or "?"} {image.mode} -> RGB JPEG' + (
                f' (EXIF orientation {turn} applied)' if turn != 1 else ''), **extra}


# Entries that operating systems, archivers, NAS boxes and notebooks leave in folders.
# They are never classes and never images (compared in lower case).
LITTER = frozenset({
    '__macosx',                   # unzipping a macOS zip: AppleDouble copies of each file
    'thumbs.db', 'ehthumbs.db', 'desktop.ini',          # Windows Explorer
    '$recycle.bin', 'system volume information',        # Windows drives
    '@eadir', '#recycle', '#snapshot',                  # Synology / QNAP NAS
    'lost+found', '__pycache__',
})


def is_litter(name):
    """True for hidden entries (dot-files and dot-folders, AppleDouble ``._x`` files,
    ``.ipynb_checkpoints``, ``.DS_Store``) and the known litter of :data:`LITTER`."""
    return name.startswith('.') or name.lower() in LITTER


def class_names(image_dir):
    """The class folder names of ``image_dir``, sorted; litter is never a class."""
    return sorted(d for d in os.listdir(image_dir)
                  if not is_litter(d) and os.path.isdir(os.path.join(image_dir, d)))


def list_image_folder(image_dir, extensions=None):
    """Lists a class-per-subfolder image directory.

    Files in nested folders of a class belong to that class. Litter (see
    :func:`is_litter`) is left out everywhere, folders included.

    Args:
      image_dir: the folder with one subfolder per class.
      extensions: keep only files with these (lower-case) extensions; None keeps every
        regular file, so non-images are reported by whoever checks them.

    Returns:
      (class names sorted, [(path, label)], [paths left out for their extension]).
    """
    classes = class_names(image_dir)
    items, other = [], []
    suffixes = tuple(extensions) if extensions is not None else None
    for label, name in enumerate(classes):
        for root, dirs, files in os.walk(os.path.join(image_dir, name)):
            dirs[:] = sorted(d for d in dirs if not is_litter(d))
            for f in sorted(files):
                if is_litter(f):
                    continue
                path = os.path.join(root, f)
                if suffixes is None or f.lower().endswith(suffixes):
                    items.append((path, label))
                else:
                    other.append(path)
    return classes, items, other


def empty_classes(classes, labels):
    """The names in ``classes`` whose index never occurs in ``labels``."""
    present = set(labels)
    return [name for i, name in enumerate(classes) if i not in present]


def empty_classes_message(image_dir, names, flag):
    """The message for class folders without a usable image; ``flag`` says how to keep them."""
    listed = ', '.join(os.path.join(image_dir, n) + os.sep for n in names)
    one = len(names) == 1
    return (f'Class folder{"" if one else "s"} {listed} '
            f'{"has" if one else "have"} no usable image, so '
            f'{"it" if one else "they"} would become {"a class" if one else "classes"} '
            f'without examples. Add images, remove the folder{"" if one else "s"}, or '
            f'{flag} to keep {"it" if one else "them"} as {"a class" if one else "classes"}.')
