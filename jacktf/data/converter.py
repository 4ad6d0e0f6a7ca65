"""ImageFolder -> sharded TFRecords, labels.txt and dataset.json (`jacktf convert`).

Images are checked and normalized in parallel worker processes (``image_check``) while
the parent writes the records of the ones already checked. The train/validation split
is made over the files, stratified per class and deterministic for a seed. Corrupt,
empty, oversized and non-image files are skipped and listed in dataset.json with their
reason; nothing else is lost. Operating-system litter (``__MACOSX/``, dot-files,
``Thumbs.db``, ...) is never a class or an image, and a class folder without a usable
image is an error unless ``allow_empty_classes``. Output goes to a staging folder first
and is moved into place at the end, so a crash never leaves a half output.
"""

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from jacktf.core import fs_safety
from jacktf.core.errors import DataError
from jacktf.data import check_pool, image_check
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


def check_file(args):
    """The converter's check of one file: ``args`` (path, max_pixels, max_bytes) ->
    inspect_image's dict (a file kept as it is has encoded=None), never raising."""
    path, max_pixels, max_bytes = args
    try:
        return image_check.inspect_image(path, max_pixels=max_pixels, max_bytes=max_bytes,
                                         return_original=False)
    except Exception as e:  # noqa: BLE001  one file's fault never ends the conversion
        return {'ok': False, 'reason': f'cannot be checked: {type(e).__name__}: {e}'[:300]}


def _read_kept(path, max_bytes):
    """The bytes of a file a worker accepted as it is (still a regular file)."""
    try:
        return image_check.read_regular_file(path, max_bytes)
    except image_check.ImageRejected as e:
        raise DataError(f'{path} changed while it was converted: {e}.') from None


def _progress(done, total, skipped, start):
    rate = done / max(time.time() - start, 1e-9)
    sys.stderr.write(f'\rconverting {done}/{total} images ({skipped} skipped, '
                     f'{rate:.0f} img/s)')
    if done == total:
        sys.stderr.write('\n')
    sys.stderr.flush()


def convert(image_dir, output_dir, *, val_fraction=0.1, num_shards=4, workers=None,
            seed=0, overwrite=False, max_pixels=image_check.DEFAULT_MAX_PIXELS,
            progress=True, allow_empty_classes=False,
            max_bytes=image_check.DEFAULT_MAX_BYTES):
    """Converts ``image_dir``; returns the dataset.json content.

    Operating-system litter (``__MACOSX/``, dot-files, ``Thumbs.db``, ...) is never a
    class or an image (see ``image_check.list_image_folder``).

    Only regular files of the supported formats are read (``image_check.open_image``);
    FIFOs, devices, other formats and files over ``max_bytes`` are skipped with their
    reason. The workers are fewer when the memory cannot hold ``workers`` images of
    ``max_pixels`` (``check_pool``).

    Args:
      allow_empty_classes: keep a class folder without any usable image as a class
        (with no records) instead of failing.
      max_bytes: larger files are skipped without being read.

    Raises:
      DataError: missing or empty input, a class folder without a usable image, existing
        output without ``overwrite``, bad options, a worker killed while checking a file
        (``check_pool.WorkerKilled``, naming the file).
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
    classes, items, _ = image_check.list_image_folder(image_dir)
    if not classes:
        raise DataError(f'{image_dir!r} has no class subfolders: put each class in its '
                        'own folder (e.g. cats/, dogs/).')
    if not items:
        raise DataError(f'{image_dir!r} has class folders but no files.')
    empty = image_check.empty_classes(classes, [label for _, label in items])
    if empty and not allow_empty_classes:
        raise DataError(image_check.empty_classes_message(
            image_dir, empty, 'pass --allow_empty_classes'))
    workers = check_pool.memory_capped_workers(workers or os.cpu_count() or 1,
                                               max_pixels, max_bytes)
    start = time.time()
    # Split every file first (stratified, deterministic), then check and write in one
    # streaming pass: the parent writes records while the workers decode the next ones.
    splits = split_items(items, len(classes), val_fraction, seed)
    plan = [(split, i, path, label) for split, members in splits.items()
            for i, (path, label) in enumerate(members)]
    parent = os.path.dirname(os.path.abspath(output_dir)) or '.'
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.jacktf-convert-', dir=parent)
    fs_safety.follow_umask(staging)  # mkdtemp's 0700 would ignore the umask
    try:
        writers, shard_counts = {}, {}
        for split, members in splits.items():
            shard_counts[split] = min(num_shards, len(members))
            writers[split] = [tf.io.TFRecordWriter(os.path.join(
                staging, f'{split}-{k:05d}-of-{shard_counts[split]:05d}.tfrecord'))
                for k in range(shard_counts[split])]
        counts = {split: {c: 0 for c in classes} for split in splits}
        skipped, converted = [], []
        jobs = [(path, max_pixels, max_bytes) for _, _, path, _ in plan]
        results = check_pool.checked(check_file, jobs, workers, name=lambda job: job[0])
        try:
            for n, ((split, i, path, label), r) in enumerate(zip(plan, results), start=1):
                rel = os.path.relpath(path, image_dir)
                if not r['ok']:
                    skipped.append({'file': rel, 'reason': r['reason']})
                else:
                    if r['converted']:
                        converted.append({'file': rel, 'conversion': r['converted']})
                    if r['encoded'] is None:  # kept as it is
                        r['encoded'] = _read_kept(path, max_bytes)
                    writers[split][i % shard_counts[split]].write(make_example(
                        encoded=r['encoded'], image_format=r['format'], label=label,
                        text=classes[label], height=r['height'], width=r['width'],
                        filename=rel))
                    counts[split][classes[label]] += 1
                if progress and (n % 50 == 0 or n == len(plan)):
                    _progress(n, len(plan), len(skipped), start)
        finally:
            results.close()  # stops the workers
            for split_writers in writers.values():
                for w in split_writers:
                    w.close()
        with open(os.path.join(staging, 'labels.txt'), 'w') as f:
            f.write('\n'.join(classes) + '\n')
        written = sum(sum(c.values()) for c in counts.values())
        unusable = [c for c in classes if not any(counts[sp][c] for sp in counts)]
        if unusable and not allow_empty_classes:
            reasons = [f"{s['file']}: {s['reason']}" for s in skipped
                       if s['file'].split(os.sep)[0] in unusable]
            more = f' and {len(reasons) - 10} more' if len(reasons) > 10 else ''
            raise DataError(image_check.empty_classes_message(
                image_dir, unusable, 'pass --allow_empty_classes') +
                f' Their files were skipped: {"; ".join(reasons[:10])}{more}.')
        info = {'image_dir': os.path.abspath(image_dir), 'classes': classes,
                'num_files': len(items), 'num_written': written,
                'num_skipped': len(skipped), 'counts': counts,
                'val_fraction': val_fraction, 'seed': seed, 'num_shards': num_shards,
                'empty_classes': unusable,
                'skipped': skipped, 'converted': converted,
                'seconds': round(time.time() - start, 2), 'workers': workers}
        with open(os.path.join(staging, 'dataset.json'), 'w') as f:
            json.dump(info, f, indent=2)
        if os.path.exists(output_dir):
            shutil.rmtree(output_dir)
        os.rename(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info
