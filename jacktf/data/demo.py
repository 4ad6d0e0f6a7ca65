"""Built-in demo data: stripes vs dots, a small learnable 2-class texture task.

Each image has a noisy background of a random colour and gradient and one disk or
square of random size and position, filled with a two-colour pattern of random colours,
period and orientation: stripes (class 0) or dots (class 1). Only the texture tells the
classes apart. The data is written as JPEG TFRecords in
exactly the format ``jacktf convert`` produces, materialized on first use into
``$JACKTF_CACHE_DIR`` (default ``~/.cache/jacktf``) and addressed as ``demo://train``
and ``demo://validation`` (``demo://train?size=224`` for another image size).
"""

import io
import json
import os
import shutil
import tempfile
import urllib.parse

import numpy as np
import tensorflow as tf
from PIL import Image

from jacktf.core import fs_safety
from jacktf.core.errors import DataError
from jacktf.data.example import make_example
from jacktf.pretrained.cache import cache_root

VERSION = 2
CLASSES = ('stripes', 'dots')
SPLITS = {'train': (2000, 4, 1), 'validation': (400, 1, 2)}  # count, shards, seed
DEFAULT_SIZE = 64
SCHEME = 'demo://'


def render(rng, size, label, center=None, radius=None, period=None):
    """One uint8 [size, size, 3] image of class ``label`` (0 stripes, 1 dots).

    ``center`` (x, y), ``radius`` and ``period`` (pixels) fix the object's placement and
    pattern scale instead of drawing them at random.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    base = rng.uniform(0, 255, 3)
    tilt = rng.uniform(-60, 60, 3)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / size
    image = base + ramp[..., None] * tilt + rng.normal(0, 18, (size, size, 3))
    ink = rng.uniform(0, 255, 3)
    while np.abs(ink - base).sum() < 200:
        ink = rng.uniform(0, 255, 3)
    paper = 255 - ink
    radius = radius or rng.uniform(0.25, 0.42) * size
    cx, cy = center if center is not None else rng.uniform(radius + 1, size - radius - 1, 2)
    if rng.uniform() < 0.5:
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2
    else:
        half = radius * np.sqrt(np.pi) / 2  # a square of the disk's area
        mask = (np.abs(xx - cx) <= half) & (np.abs(yy - cy) <= half)
    period = period or rng.uniform(5, 9) * size / 64
    theta = rng.uniform(0, np.pi)
    u = np.cos(theta) * xx + np.sin(theta) * yy
    v = -np.sin(theta) * xx + np.cos(theta) * yy
    wave_u = np.sin(2 * np.pi * u / period)
    if label == 0:
        pattern = wave_u > 0
    else:
        pattern = (wave_u > 0.3) & (np.sin(2 * np.pi * v / period) > 0.3)
    fill = np.where(pattern[..., None], ink, paper) + rng.normal(0, 10, (size, size, 3))
    image = np.where(mask[..., None], fill, image)
    return np.clip(image, 0, 255).astype(np.uint8)


def _jpeg(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format='JPEG', quality=92)
    return buffer.getvalue()


def _write(directory, size):
    counts = {}
    for split, (count, shards, seed) in SPLITS.items():
        rng = np.random.default_rng(1000 * VERSION + seed + size)
        labels = np.arange(count) % len(CLASSES)
        rng.shuffle(labels)
        writers = [tf.io.TFRecordWriter(os.path.join(
            directory, f'{split}-{i:05d}-of-{shards:05d}.tfrecord')) for i in range(shards)]
        for i, label in enumerate(labels):
            image = render(rng, size, int(label))
            writers[i % shards].write(make_example(
                encoded=_jpeg(image), image_format='jpeg', label=int(label),
                text=CLASSES[label], height=size, width=size,
                filename=f'{split}/{CLASSES[label]}/{i:05d}.jpg'))
        for w in writers:
            w.close()
        counts[split] = {c: int((labels == k).sum()) for k, c in enumerate(CLASSES)}
    with open(os.path.join(directory, 'labels.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    with open(os.path.join(directory, 'dataset.json'), 'w') as f:
        json.dump({'name': 'jacktf demo textures', 'version': VERSION, 'image_size': size,
                   'classes': list(CLASSES), 'counts': counts}, f, indent=2)


def materialize(size=DEFAULT_SIZE, root=None):
    """Returns the demo folder for ``size``, writing it first if needed (atomically)."""
    if not 16 <= int(size) <= 1024:
        raise DataError(f'demo image size must be in [16, 1024], got {size}.')
    root = root or cache_root()
    directory = os.path.join(root, f'demo-textures-v{VERSION}-{int(size)}')
    if os.path.exists(os.path.join(directory, 'dataset.json')):
        return directory
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.demo-', dir=root)
    fs_safety.follow_umask(staging)  # mkdtemp's 0700 would ignore the umask
    try:
        _write(staging, int(size))
        try:
            os.rename(staging, directory)
        except OSError:  # Another process finished first.
            if not os.path.exists(os.path.join(directory, 'dataset.json')):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def is_demo(pattern):
    return isinstance(pattern, str) and pattern.startswith(SCHEME)


def resolve(pattern):
    """'demo://train[?size=N]' -> a file glob of the materialized split."""
    parsed = urllib.parse.urlparse(pattern)
    split = (parsed.netloc + parsed.path).strip('/')
    if split not in SPLITS:
        raise DataError(f'Unknown demo split {pattern!r}: use demo://train or '
                        'demo://validation.')
    query = urllib.parse.parse_qs(parsed.query)
    try:
        size = int(query.get('size', [DEFAULT_SIZE])[0])
    except ValueError:
        raise DataError(f'Bad size in {pattern!r}: use demo://{split}?size=224.') from None
    return os.path.join(materialize(size), f'{split}-*.tfrecord')


def labels_file(pattern):
    """The labels.txt next to a demo split."""
    return os.path.join(os.path.dirname(resolve(pattern)), 'labels.txt')
