"""ImageFolder -> sharded TFRecords, labels.txt and dataset.json (`jacktf convert`).

Images are checked, normalized and hashed (``near_duplicates``, from the pixels the check
decodes) in parallel worker processes while the parent writes the records of the ones
already checked to a pool file. The train/validation split is then made over the images
kept, stratified per class, deterministic for a seed, with each group of near-identical
images on one side, and the pool's records are copied into the shards. Near-identical
images in two classes stop the conversion unless ``allow_conflicts``. Corrupt, empty,
oversized and non-image files are skipped and listed in dataset.json with their reason;
nothing else is lost. Operating-system litter (``__MACOSX/``, dot-files, ``Thumbs.db``,
...) is never a class or an image, and a class folder without a usable image is an error
unless ``allow_empty_classes``. Output goes to a staging folder first and is moved into
place at the end, so a crash never leaves a half output.
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
from jacktf.data import check_pool, image_check, near_duplicates
from jacktf.data.example import make_example


def split_items(items, num_classes, val_fraction, seed, groups=None):
    """{'train': [...], 'validation': [...]} stratified per class, deterministic.

    ``groups`` (one id per item, e.g. ``near_duplicates.group_ids``) keeps the items of a
    group on one side: a group counts for the class of its first item and goes whole to
    validation while that class's validation share is not reached.
    """
    rng = np.random.default_rng(seed)
    splits = {'train': [], 'validation': []}
    groups = list(range(len(items))) if groups is None else list(groups)
    units = {}
    for item, group in zip(items, groups):
        units.setdefault(group, []).append(item)
    for label in range(num_classes):
        members = [u for u in units.values() if u[0][1] == label]
        size = sum(len(u) for u in members)
        order = rng.permutation(len(members))
        n_val = int(round(size * val_fraction))
        if val_fraction > 0 and n_val == 0 and size > 1 and len(members) > 1:
            n_val = 1
        taken = 0
        for rank, idx in enumerate(order):  # the last unit left stays in train
            side = 'validation' if taken < n_val and rank < len(members) - 1 else 'train'
            taken += len(members[idx]) if side == 'validation' else 0
            splits[side].extend(members[idx])
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
                                         return_original=False,
                                         fingerprint=near_duplicates.hash_image)
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


def _check_all(items, image_dir, pool_path, classes, *, workers, max_pixels, max_bytes,
               progress, seed):
    """Checks, hashes and writes every file to one pool file (in a seeded random order,
    which the shards keep). Returns (kept [(relative path, label, hash)], skipped,
    converted)."""
    order = np.random.default_rng(seed).permutation(len(items))
    plan = [items[i] for i in order]
    skipped, converted, kept = [], [], []
    start = time.time()
    jobs = [(path, max_pixels, max_bytes) for path, _ in plan]
    results = check_pool.checked(check_file, jobs, workers, name=lambda job: job[0])
    try:
        with tf.io.TFRecordWriter(pool_path) as pool:
            for n, ((path, label), r) in enumerate(zip(plan, results), start=1):
                rel = os.path.relpath(path, image_dir)
                if not r['ok']:
                    skipped.append({'file': rel, 'reason': r['reason']})
                else:
                    if r['converted']:
                        converted.append({'file': rel, 'conversion': r['converted']})
                    if r['encoded'] is None:  # kept as it is
                        r['encoded'] = _read_kept(path, max_bytes)
                    pool.write(make_example(
                        encoded=r['encoded'], image_format=r['format'], label=label,
                        text=classes[label], height=r['height'],
                        width=r['width'], filename=rel))
                    kept.append((rel, label, r['hash']))
                if progress and (n % 50 == 0 or n == len(plan)):
                    _progress(n, len(plan), len(skipped), start)
    finally:
        results.close()  # stops the workers
    return (kept, sorted(skipped, key=lambda s: s['file']),
            sorted(converted, key=lambda c: c['file']))


def _write_shards(pool_path, staging, splits, kept, classes, num_shards):
    """Copies the pool's records into the split shards; returns the counts per split."""
    where = {}
    for split, members in splits.items():
        for position, (index, _) in enumerate(members):
            where[index] = (split, position)
    writers, counts = {}, {split: {c: 0 for c in classes} for split in splits}
    try:
        for split, members in splits.items():
            shards = min(num_shards, len(members))
            writers[split] = [tf.io.TFRecordWriter(os.path.join(
                staging, f'{split}-{k:05d}-of-{shards:05d}.tfrecord')) for k in range(shards)]
        for index, record in enumerate(tf.data.TFRecordDataset(pool_path)):
            split, position = where[index]
            shard = writers[split][position % len(writers[split])]
            shard.write(record.numpy())
            counts[split][classes[kept[index][1]]] += 1
    finally:
        for split_writers in writers.values():
            for w in split_writers:
                w.close()
    os.remove(pool_path)
    return counts


def _group(kept, image_dir, classes, *, allow_conflicts, max_distance):
    """The near-duplicate Report of the kept images; DataError on label conflicts."""
    hashes = np.stack([h for _, _, h in kept]) if kept else near_duplicates.hash_images([])
    report = near_duplicates.find_groups(hashes, [label for _, label, _ in kept],
                                         max_distance=max_distance)
    if report.conflicts and not allow_conflicts:
        raise DataError(near_duplicates.conflict_message(
            image_dir, report, [f'{path} ({classes[label]})' for path, label, _ in kept]))
    return report


def convert(image_dir, output_dir, *, val_fraction=0.1, num_shards=4, workers=None,
            seed=0, overwrite=False, max_pixels=image_check.DEFAULT_MAX_PIXELS,
            progress=True, allow_empty_classes=False,
            max_bytes=image_check.DEFAULT_MAX_BYTES, allow_conflicts=False,
            max_distance=near_duplicates.DEFAULT_MAX_DISTANCE):
    """Converts ``image_dir``; returns the dataset.json content.

    Operating-system litter (``__MACOSX/``, dot-files, ``Thumbs.db``, ...) is never a
    class or an image (see ``image_check.list_image_folder``).

    Only regular files of the supported formats are read (``image_check.open_image``);
    FIFOs, devices, other formats and files over ``max_bytes`` are skipped with their
    reason. The workers are fewer when the memory cannot hold ``workers`` images of
    ``max_pixels`` (``check_pool``).

    Each image is hashed from the pixels the check decodes (``near_duplicates``); groups
    of near-identical images go whole to one side of the split and are listed in
    dataset.json ('near_duplicates').

    Args:
      allow_empty_classes: keep a class folder without any usable image as a class
        (with no records) instead of failing.
      max_bytes: larger files are skipped without being read.
      allow_conflicts: convert near-identical images found in different classes
        instead of failing (they stay listed in dataset.json).
      max_distance: the Hamming distance (bits of the 256-bit hash) of near-duplicates.

    Raises:
      DataError: missing or empty input, a class folder without a usable image, existing
        output without ``overwrite``, bad options, a worker killed while checking a file
        (``check_pool.WorkerKilled``, naming the file), label conflicts without
        ``allow_conflicts``.
    """
    if not os.path.isdir(image_dir):
        raise DataError(f'--image_dir {image_dir!r} is not a directory.')
    check_options(output_dir, val_fraction, num_shards, overwrite)
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
    parent = os.path.dirname(os.path.abspath(output_dir)) or '.'
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.jacktf-convert-', dir=parent)
    fs_safety.follow_umask(staging)  # mkdtemp's 0700 would ignore the umask
    try:
        # One streaming pass checks, hashes and writes every image to a pool file; the
        # split, made over the images kept and their near-duplicate groups, then copies
        # the pool's records into the shards (no image is decoded twice).
        pool = os.path.join(staging, 'pool.tfrecord')
        kept, skipped, converted = _check_all(
            items, image_dir, pool, classes, workers=workers, max_pixels=max_pixels,
            max_bytes=max_bytes, progress=progress, seed=seed)
        _check_usable(image_dir, classes, kept, skipped, allow_empty_classes)
        report = _group(kept, image_dir, classes, allow_conflicts=allow_conflicts,
                        max_distance=max_distance)
        indexed = [(i, label) for i, (_, label, _) in enumerate(kept)]
        splits = split_items(indexed, len(classes), val_fraction, seed,
                             groups=near_duplicates.group_ids(report))
        counts = _write_shards(pool, staging, splits, kept, classes, num_shards)
        side = [None] * len(kept)
        for split, members in splits.items():
            for index, _ in members:
                side[index] = split
        report = report.with_splits(side)
        with open(os.path.join(staging, 'labels.txt'), 'w') as f:
            f.write('\n'.join(classes) + '\n')
        unusable = [c for c in classes if not any(counts[sp][c] for sp in counts)]
        info = {'image_dir': os.path.abspath(image_dir), 'classes': classes,
                'num_files': len(items), 'num_written': len(kept),
                'num_skipped': len(skipped), 'counts': counts,
                'val_fraction': val_fraction, 'seed': seed, 'num_shards': num_shards,
                'empty_classes': unusable,
                'skipped': skipped, 'converted': converted,
                'near_duplicates': report.to_json([k[0] for k in kept],
                                                  [k[1] for k in kept], side, classes),
                'seconds': round(time.time() - start, 2), 'workers': workers}
        publish(staging, output_dir, info)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info


def check_options(output_dir, val_fraction, num_shards, overwrite):
    """Raises DataError naming the option: a val_fraction outside [0, 1), fewer than one
    shard, or a non-empty output_dir without ``overwrite``."""
    if not 0 <= val_fraction < 1:
        raise DataError(f'--val_fraction must be in [0, 1), got {val_fraction}.')
    if num_shards < 1:
        raise DataError(f'--num_shards must be >= 1, got {num_shards}.')
    if os.path.exists(output_dir) and os.listdir(output_dir) and not overwrite:
        raise DataError(f'--output_dir {output_dir!r} exists and is not empty; pass '
                        '--overwrite to replace it.')


def publish(staging, output_dir, info):
    """Writes ``info`` as staging/dataset.json, then puts the staging folder in place of
    ``output_dir`` (the records appear whole or not at all)."""
    with open(os.path.join(staging, 'dataset.json'), 'w') as f:
        json.dump(info, f, indent=2)
    if os.path.exists(output_dir):
        shutil.rmtree(output_dir)
    os.rename(staging, output_dir)


def _check_usable(image_dir, classes, kept, skipped, allow_empty_classes):
    """DataError when a class kept no image (unless ``allow_empty_classes``)."""
    present = {label for _, label, _ in kept}
    unusable = [c for i, c in enumerate(classes) if i not in present]
    if unusable and not allow_empty_classes:
        reasons = [f"{s['file']}: {s['reason']}" for s in skipped
                   if s['file'].split(os.sep)[0] in unusable]
        more = f' and {len(reasons) - 10} more' if len(reasons) > 10 else ''
        raise DataError(image_check.empty_classes_message(
            image_dir, unusable, 'pass --allow_empty_classes') +
            f' Their files were skipped: {"; ".join(reasons[:10])}{more}.')
