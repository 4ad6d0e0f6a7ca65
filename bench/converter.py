"""`jacktf convert` with 1 vs 2 worker processes on the same image folder.

Usage: python bench/converter.py [--images 500] [--size 320]
Prints JSON: seconds and images/s per worker count and the speed-up.
"""

import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

from common import emit

import jacktf  # noqa: F401
from jacktf.data.converter import convert
from PIL import Image


def photo_like(rng, height, width):
    """Smooth colour gradients with mild noise: compresses like a photo, unlike noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    for c in range(3):
        fx, fy, phase = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 6.3)
        image[..., c] = 128 + 100 * np.sin(fx * xx / width * 6.3 + fy * yy / height * 6.3
                                           + phase)
    image += rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_folder(root, n, size):
    rng = np.random.default_rng(0)
    for i in range(n):
        cls = ('a', 'b')[i % 2]
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        image = photo_like(rng, size, int(size * 1.33))
        fmt, ext = (('PNG', 'png') if i % 4 == 0 else ('JPEG', 'jpg'))
        Image.fromarray(image).save(os.path.join(root, cls, f'{i:05d}.{ext}'), format=fmt)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--images', type=int, default=500)
    parser.add_argument('--size', type=int, default=768)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp()
    try:
        src = os.path.join(work, 'images')
        make_folder(src, args.images, args.size)
        results = {}
        for workers in (1, 2):
            info = convert(src, os.path.join(work, f'out{workers}'), workers=workers,
                           overwrite=True, progress=False)
            assert info['num_written'] == args.images
            results[workers] = info['seconds']
        return emit({'benchmark': 'converter', 'images': args.images,
                     'image_size': [args.size, int(args.size * 1.33)],
                     'one_in_four_png': True, 'cpus': os.cpu_count(),
                     'seconds_1_worker': results[1], 'seconds_2_workers': results[2],
                     'images_per_second_1_worker': round(args.images / results[1], 1),
                     'images_per_second_2_workers': round(args.images / results[2], 1),
                     'speedup_2_vs_1': round(results[1] / results[2], 2)})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main(sys.argv[1:])
