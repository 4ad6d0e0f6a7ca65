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


def add_litter(root):
    """Adds what macOS, Windows, NAS boxes and notebooks leave in an image folder.

    Returns the relative paths added; none of them may become a class or an image.
    """
    junk = b'\x00\x05\x16\x07 AppleDouble resource fork'
    files = ['__MACOSX/cat/._good_0.jpg', '__MACOSX/._cat', '.DS_Store', 'Thumbs.db',
             'desktop.ini', 'cat/._good_0.jpg', 'cat/.DS_Store', 'cat/Thumbs.db',
             'dog/desktop.ini', 'dog/@eaDir/good_0.jpg@SynoEAStream',
             'dog/@eaDir/SYNOPHOTO_THUMB_M.jpg', '.ipynb_checkpoints/x-checkpoint.ipynb',
             '.hidden_class/img.jpg', 'cat/.ipynb_checkpoints/good_0-checkpoint.jpg',
             '@eaDir/cat/thumb.jpg']
    for name in files:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(junk)
    return files


def good_image_folder(root, classes=('cat', 'dog'), per_class=3, seed=0, size=(40, 48)):
    """Class folders of small good JPEGs."""
    rng = np.random.default_rng(seed)
    for cls in classes:
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for i in range(per_class):
            with open(os.path.join(root, cls, f'good_{i}.jpg'), 'wb') as f:
                f.write(jpeg_bytes(random_image(rng, *size)))
    return root


def example_bytes(features):
    """A serialized tf.train.Example from {key: bytes | int | float}, any keys."""
    import tensorflow as tf
    feature = {}
    for key, value in features.items():
        if isinstance(value, bytes):
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        elif isinstance(value, float):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        else:
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
