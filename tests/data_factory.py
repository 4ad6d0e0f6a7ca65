"""Builds image folders and TFRecords with every kind of bad input, for data tests."""

import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

from jacktf.data.example import make_example


def jpeg_bytes(array, mode='RGB', quality=90):
    buf = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buf, format='JPEG', quality=quality)
    return buf.getvalue()


def png_bytes(array, mode='RGB'):
    buf = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buf, format='PNG')
    return buf.getvalue()


def huge_png_header(width=20000, height=20000):
    """A PNG whose header declares width x height, with almost no data behind it."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
            chunk(b'IDAT', zlib.compress(b'\x00' * 16)) + chunk(b'IEND', b''))


def random_image(rng, h=40, w=56):
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def bad_image_folder(root, good_per_class=6, seed=0):
    """Two classes (cat, dog) of good JPEGs plus one file of every bad kind in 'cat'.

    Returns {relative path: expected outcome} with outcome 'ok', 'converted' or 'skipped'.
    """
    rng = np.random.default_rng(seed)
    expected = {}
    for cls in ('cat', 'dog'):
        os.makedirs(os.path.join(root, cls))
        for i in range(good_per_class):
            name = f'{cls}/good_{i}.jpg'
            with open(os.path.join(root, name), 'wb') as f:
                f.write(jpeg_bytes(random_image(rng, 40 + i, 50)))
            expected[name] = 'ok'
    image = random_image(rng)
    files = {
        'cat/truncated.jpg': (jpeg_bytes(image)[:300], 'skipped'),
        'cat/png_named.jpg': (png_bytes(image), 'converted'),
        'cat/cmyk.jpg': (jpeg_bytes(image, mode='CMYK'), 'converted'),
        'cat/gray.jpg': (jpeg_bytes(image, mode='L'), 'converted'),
        'cat/rgba.png': (png_bytes(np.dstack([image, image[..., :1]]), mode='RGBA'),
                         'converted'),
        'cat/empty.jpg': (b'', 'skipped'),
        'cat/notes.txt': (b'this is not an image\n', 'skipped'),
        'cat/huge.png': (huge_png_header(), 'skipped'),
    }
    for name, (data, outcome) in files.items():
        with open(os.path.join(root, name), 'wb') as f:
            f.write(data)
        expected[name] = outcome
    return expected


def write_records(path, records):
    """Writes serialized examples given as dicts of make_example arguments."""
    import tensorflow as tf
    with tf.io.TFRecordWriter(path) as writer:
        for r in records:
            if isinstance(r, bytes):
                writer.write(r)
            else:
                writer.write(make_example(**r))
