"""A real-ish image folder for the front door: scikit-learn's handwritten digit scans
(1,797 real 8x8 scans of 10 digits, upsampled to 64x64 JPEGs with a random shift, scale
and paper tint), as a user would hand them over: one folder per class, no split, with
operating-system litter (.DS_Store, Thumbs.db, an AppleDouble ._x.jpg) and one corrupt
JPEG. A held-out test folder of other scans goes beside it.

Usage: python bench/digits_folder.py OUT [--test_fraction 0.2] [--size 64]
Writes OUT/digits/<class>/*.jpg and OUT/digits_test/<class>/*.jpg; prints JSON counts.
Needs the bench extra (scikit-learn).
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image

from common import emit


def render(scan, rng, size):
    """One RGB uint8 image of an 8x8 scan (values 0-16): scaled, shifted, tinted."""
    ink = (scan / 16.0 * 255).astype(np.uint8)
    scale = rng.uniform(0.7, 0.95)
    inner = max(8, int(size * scale))
    digit = np.asarray(Image.fromarray(ink).resize((inner, inner), Image.BICUBIC),
                       np.float32) / 255
    canvas = np.zeros((size, size), np.float32)
    x, y = rng.integers(0, size - inner + 1, 2)
    canvas[y:y + inner, x:x + inner] = digit
    paper = rng.uniform(200, 255, 3)
    pen = rng.uniform(0, 80, 3)
    image = paper * (1 - canvas[..., None]) + pen * canvas[..., None]
    image += rng.normal(0, 6, image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def write(out, test_fraction=0.2, size=64, seed=0):
    from sklearn.datasets import load_digits
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    n_test = int(len(order) * test_fraction)
    counts = {'digits': 0, 'digits_test': 0}
    for rank, i in enumerate(order):
        folder = 'digits_test' if rank < n_test else 'digits'
        label = f'digit_{digits.target[i]}'
        path = os.path.join(out, folder, label)
        os.makedirs(path, exist_ok=True)
        render(digits.images[i], rng, size).save(os.path.join(path, f'scan_{i:04d}.jpg'),
                                                 quality=92)
        counts[folder] += 1
    root = os.path.join(out, 'digits')
    open(os.path.join(root, '.DS_Store'), 'wb').write(b'\0Bud1' + bytes(64))
    open(os.path.join(root, 'digit_3', 'Thumbs.db'), 'wb').write(bytes(128))
    open(os.path.join(root, 'digit_5', '._scan_0001.jpg'), 'wb').write(b'\0\5\26\7' + bytes(60))
    good = open(os.path.join(root, 'digit_7', sorted(os.listdir(
        os.path.join(root, 'digit_7')))[0]), 'rb').read()
    open(os.path.join(root, 'digit_7', 'corrupt.jpg'), 'wb').write(good[:len(good) // 3])
    return dict(counts, litter=3, corrupt=1, size=size, classes=10)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--test_fraction', type=float, default=0.2)
    parser.add_argument('--size', type=int, default=64)
    args = parser.parse_args(argv)
    emit(write(args.out, args.test_fraction, args.size))


if __name__ == '__main__':
    main(sys.argv[1:])
