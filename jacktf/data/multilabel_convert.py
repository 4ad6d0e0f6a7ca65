"""Multi-label images -> TFRecord shards, labels.txt and dataset.json (`jacktf convert
--labels_csv` or `--multi_label`).

Each record's ``image/class/label`` is the list of the image's class indexes (and
``image/class/text`` their names); read them with the ``tfexample_multilabel``
decoder. The train/validation split is an iterative stratification over the labels
(jacktf.data.multilabel.iterative_split). dataset.json says ``"multi_label": true``
and holds, per split, the images per label (``counts``), the number of images
(``images``), the label co-occurrence matrix and the label-set sizes. Images are
checked as `jacktf convert` checks them (bad ones are skipped with their reason) and
the output is staged and moved into place at the end.
"""

import os
import shutil
import tempfile
import time

import tensorflow as tf

from jacktf.core import fs_safety
from jacktf.core.errors import DataError
from jacktf.data import check_pool, image_check, multilabel
from jacktf.data.converter import _progress, _read_kept, check_file, check_options, \
    publish
from jacktf.data.example import make_example


def list_items(*, labels_csv=None, image_dir=None):
    """(classes, [(path, [labels])]) of a CSV (paths relative to ``image_dir`` or the
    CSV's folder) or of a folder where images may sit in several class folders."""
    if labels_csv:
        classes, items = multilabel.read_labels_csv(labels_csv, image_dir)
        missing = [p for p, _ in items if not os.path.isfile(p)]
        if missing:
            more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
            raise DataError(f'{labels_csv} lists {len(missing)} images that do not exist: '
                            f'{", ".join(missing[:5])}{more}. Fix the paths (relative ones '
                            'start at --image_dir, else at the CSV\'s folder).')
        return classes, items
    if not image_dir or not os.path.isdir(image_dir):
        raise DataError(f'--image_dir {image_dir!r} is not a directory.')
    classes, items, _ = multilabel.read_multilabel_folder(image_dir)
    if not classes or not items:
        raise DataError(f'{image_dir!r} has no class subfolders with files: put each '
                        'class in its own folder (an image may be in several).')
    return classes, items


def _write(plan, staging, num_shards, classes, max_pixels, max_bytes, workers, root,
           progress):
    """Checks and writes the planned images; (kept label sets per split, skipped)."""
    splits = sorted({split for split, _, _ in plan})
    members = {s: sum(1 for p in plan if p[0] == s) for s in splits}
    shards = {s: min(num_shards, members[s]) for s in splits}
    writers = {s: [tf.io.TFRecordWriter(os.path.join(
        staging, f'{s}-{k:05d}-of-{shards[s]:05d}.tfrecord')) for k in range(shards[s])]
        for s in splits}
    kept = {s: [] for s in splits}
    skipped, start = [], time.time()
    results = check_pool.checked(check_file, [(path, max_pixels, max_bytes)
                                          for _, path, _ in plan], workers,
                                 name=lambda job: job[0])
    try:
        for n, ((split, path, labels), r) in enumerate(zip(plan, results), start=1):
            rel = os.path.relpath(path, root)
            if not r['ok']:
                skipped.append({'file': rel, 'reason': r['reason']})
            else:
                encoded = r['encoded'] if r['encoded'] is not None else \
                    _read_kept(path, max_bytes)
                writers[split][len(kept[split]) % shards[split]].write(make_example(
                    encoded=encoded, image_format=r['format'], label=list(labels),
                    text=[classes[i] for i in labels], height=r['height'],
                    width=r['width'], filename=rel))
                kept[split].append(labels)
            if progress and (n % 50 == 0 or n == len(plan)):
                _progress(n, len(plan), len(skipped), start)
    finally:
        results.close()
        for split_writers in writers.values():
            for w in split_writers:
                w.close()
    return kept, skipped


def convert_multilabel(output_dir, *, labels_csv=None, image_dir=None, val_fraction=0.1,
                       num_shards=4, workers=None, seed=0, overwrite=False,
                       max_pixels=image_check.DEFAULT_MAX_PIXELS,
                       max_bytes=image_check.DEFAULT_MAX_BYTES, progress=True):
    """Converts a multi-label CSV or folder; returns the dataset.json content.

    Raises:
      DataError: a bad CSV, missing images, bad options, existing output without
        ``overwrite``, or no usable image.
    """
    check_options(output_dir, val_fraction, num_shards, overwrite)
    classes, items = list_items(labels_csv=labels_csv, image_dir=image_dir)
    start = time.time()
    names = ('train', 'validation')
    where = multilabel.iterative_split([labels for _, labels in items], len(classes),
                                       (1 - val_fraction, val_fraction), seed)
    plan = [(names[w], path, labels) for (path, labels), w in zip(items, where)]
    workers = check_pool.memory_capped_workers(workers or os.cpu_count() or 1,
                                               max_pixels, max_bytes)
    root = image_dir or os.path.dirname(os.path.abspath(labels_csv))
    parent = os.path.dirname(os.path.abspath(output_dir)) or '.'
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.jacktf-convert-', dir=parent)
    fs_safety.follow_umask(staging)
    try:
        kept, skipped = _write(plan, staging, num_shards, classes, max_pixels, max_bytes,
                               workers, root, progress)
        written = sum(len(v) for v in kept.values())
        if not written:
            raise DataError(f'No usable image in {labels_csv or image_dir}: every file '
                            f'was skipped ({skipped[0]["file"]}: {skipped[0]["reason"]}'
                            f'{", ..." if len(skipped) > 1 else ""}).')
        stats = {s: multilabel.label_statistics(kept[s], classes) for s in kept}
        with open(os.path.join(staging, 'labels.txt'), 'w') as f:
            f.write('\n'.join(classes) + '\n')
        info = {'multi_label': True, 'source': os.path.abspath(labels_csv or image_dir),
                'classes': classes, 'num_files': len(items), 'num_written': written,
                'num_skipped': len(skipped),
                'counts': {s: stats[s]['per_label'] for s in stats},
                'images': {s: stats[s]['images'] for s in stats},
                'cooccurrence': {s: stats[s]['cooccurrence'] for s in stats},
                'labels_per_image': {s: stats[s]['labels_per_image'] for s in stats},
                'split': 'iterative_stratification', 'val_fraction': val_fraction,
                'seed': seed, 'num_shards': num_shards, 'skipped': skipped,
                'seconds': round(time.time() - start, 2), 'workers': workers}
        publish(staging, output_dir, info)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info
