"""ImageFolder -> sharded TFRecords, labels.txt and dataset.json (`jacktf convert`).

Images are checked and normalized in parallel worker processes (``image_check``); the
parent writes the records. The train/validation split is stratified per class and
deterministic for a seed. Corrupt, empty, oversized and non-image files are skipped and
listed in dataset.json with their reason; nothing else is lost. Output goes to a staging
folder first and is moved into place at the end, so a crash never leaves a half output.
"""

import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data import image_check
from jacktf.data.example import make_example


def split_items(items, num_classes, val_fraction, seed):
    """{'train': [...], 'validation': [...]} stratified per class, deterministic."""
    rng = np.random.default_rng(seed)
    splits = {'train': [], 'validation': []}
    for label in range(num_classes):
        members = [i for i in items if i[1] == label]
        order = rng.permutation(len(members))
        n_val = int(round(len(members) * val_fraction))
        if val_fraction > 0 and n_val == 0 and len(members) > 1:
            n_val = 1
        for rank, idx in enumerate(order):
            splits['validation' if rank < n_val else 'train'].append(members[idx])
    for name in splits:
        order = rng.permutation(len(splits[name]))
        splits[name] = [splits[name][i] for i in order]
    return splits


def _check(args):
    path, max_pixels = args
    return image_check.inspect_image(path, max_pixels=max_pixels)


def _progress(done, total, skipped, start):
    rate = done / max(time.time() - start, 1e-9)
    sys.stderr.write(f'\rconverting {done}/{total} images ({skipped} skipped, '
                     f'{rate:.0f} img/s)')
    if done == total:
        sys.stderr.write('\n')
    sys.stderr.flush()


def convert(image_dir, output_dir, *, val_fraction=0.1, num_shards=4, workers=None,
            seed=0, overwrite=False, max_pixels=image_check.DEFAULT_MAX_PIXELS,
            progress=True):
    """Converts ``image_dir``; returns the dataset.json content.

    Raises:
      DataError: missing or empty input, existing output without ``overwrite``, bad
        options.
    """
    if not os.path.isdir(image_dir):
        raise DataError(f'--image_dir {image_dir!r} is not a directory.')
    if not 0 <= val_fraction < 1:
        raise DataError(f'--val_fraction must be in [0, 1), got {val_fraction}.')
    if num_shards < 1:
        raise DataError(f'--num_shards must be >= 1, got {num_shards}.')
    if os.path.exists(output_dir) and os.listdir(output_dir) and not overwrite:
        raise DataError(f'--output_dir {output_dir!r} exists and is not empty; pass '
                        '--overwrite to replace it.')
    classes, items = image_check.list_image_folder(image_dir)
    if not classes:
        raise DataError(f'{image_dir!r} has no class subfolders: put each class in its '
                        'own folder (e.g. cats/, dogs/).')
    if not items:
        raise DataError(f'{image_dir!r} has class folders but no files.')
    workers = workers or os.cpu_count() or 1
    start = time.time()
    results = [None] * len(items)
    jobs = [(path, max_pixels) for path, _ in items]
    skipped = 0
    if workers > 1:
        ctx = multiprocessing.get_context('fork' if 'fork' in
                                          multiprocessing.get_all_start_methods() else None)
        with ctx.Pool(workers) as pool:
            for i, result in enumerate(pool.imap(_check, jobs, chunksize=8)):
                results[i] = result
                skipped += not result['ok']
                if progress and (i % 50 == 49 or i == len(jobs) - 1):
                    _progress(i + 1, len(jobs), skipped, start)
    else:
        for i, job in enumerate(jobs):
            results[i] = _check(job)
            skipped += not results[i]['ok']
            if progress and (i % 50 == 49 or i == len(jobs) - 1):
                _progress(i + 1, len(jobs), skipped, start)

    good = [(path, label, r) for (path, label), r in zip(items, results) if r['ok']]
    skipped_list = [{'file': os.path.relpath(path, image_dir), 'reason': r['reason']}
                    for (path, _), r in zip(items, results) if not r['ok']]
    converted = [{'file': os.path.relpath(p, image_dir), 'conversion': r['converted']}
                 for p, _, r in good if r['converted']]
    splits = split_items(good, len(classes), val_fraction, seed)

    parent = os.path.dirname(os.path.abspath(output_dir)) or '.'
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.jacktf-convert-', dir=parent)
    try:
        counts = {}
        for split, members in splits.items():
            counts[split] = {c: 0 for c in classes}
            if not members:
                continue
            shards = min(num_shards, len(members))
            writers = [tf.io.TFRecordWriter(os.path.join(
                staging, f'{split}-{s:05d}-of-{shards:05d}.tfrecord')) for s in range(shards)]
            for i, (path, label, r) in enumerate(members):
                writers[i % shards].write(make_example(
                    encoded=r['encoded'], image_format=r['format'], label=label,
                    text=classes[label], height=r['height'], width=r['width'],
                    filename=os.path.relpath(path, image_dir)))
                counts[split][classes[label]] += 1
            for w in writers:
                w.close()
        with open(os.path.join(staging, 'labels.txt'), 'w') as f:
            f.write('\n'.join(classes) + '\n')
        info = {'image_dir': os.path.abspath(image_dir), 'classes': classes,
                'num_files': len(items), 'num_written': len(good),
                'num_skipped': len(skipped_list), 'counts': counts,
                'val_fraction': val_fraction, 'seed': seed, 'num_shards': num_shards,
                'skipped': skipped_list, 'converted': converted,
                'seconds': round(time.time() - start, 2), 'workers': workers}
        with open(os.path.join(staging, 'dataset.json'), 'w') as f:
            json.dump(info, f, indent=2)
        if os.path.exists(output_dir):
            shutil.rmtree(output_dir)
        os.rename(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info
