"""DATA, the way users hold their images, as one DataSource: what `jacktf train DATA`,
`jacktf eval DATA` and the Python API read.

The forms (:func:`open_source` tells them apart):

- ``folder``: one subfolder per class (``photos/cat/1.jpg``);
- ``split_folders``: ``train/`` and ``val/`` or ``validation/`` (optionally ``test/``),
  each with one subfolder per class;
- ``csv``: a CSV file of ``path,label[,split]`` rows (paths relative to the CSV; a
  header row ``path,label[,split]`` is optional; split: train, val/validation, test);
- ``tfrecord``: TFRecord files of `jacktf convert` (a glob, or their folder), read as
  they are; ``demo`` (or ``demo://``) names the built-in demo records (stripes vs dots,
  jacktf.data.demo), so the door can be tried before any photo is at hand.

The listing follows `jacktf convert`'s rules (``image_check.list_image_folder``:
operating-system litter is never a class or an image) and so does the check of each
file (``converter.check_file``: corrupt, empty, oversized and non-image files are
skipped with their reason). Classes are the sorted class names of the data. Images are
not converted: the pipeline reads them where they are (the ``image_list`` decoder).
"""

import csv
import dataclasses
import glob
import logging
import os
from typing import List, Optional, Tuple

from jacktf.core.errors import DataError
from jacktf.data import check_pool, converter, image_check

log = logging.getLogger('jacktf')
SPLIT_NAMES = {'train': 'train', 'val': 'validation', 'validation': 'validation',
               'valid': 'validation', 'test': 'test'}
FORMS = ('folder', 'split_folders', 'csv', 'tfrecord')
DEMO_NAMES = ('demo', 'demo://')  # the built-in demo records (a folder of that name wins)


@dataclasses.dataclass
class DataSource:
    """The images of DATA, listed (not yet checked).

    Attributes:
      form: one of FORMS.
      data: DATA as given, made absolute.
      root: the folder the entries' paths are relative to.
      classes: the class names, sorted.
      entries: [(relative path, class name, split or None)]; split is None for data
        without a split (form 'folder', a CSV without a split column).
      train_files / eval_files: the TFRecord globs of form 'tfrecord'.
    """
    form: str
    data: str
    root: str
    classes: List[str]
    entries: List[Tuple[str, str, Optional[str]]] = dataclasses.field(default_factory=list)
    train_files: Optional[str] = None
    eval_files: Optional[str] = None
    title: Optional[str] = None  # the name, when the folder's is not the data set's

    @property
    def name(self):
        """A short name of the data set: its folder's (or CSV's) name."""
        if self.title:
            return self.title
        base = self.data.rstrip(os.sep)
        if self.form == 'tfrecord' and not os.path.isdir(base):
            base = os.path.dirname(base.split(',')[0])
        if self.form == 'split_folders' or os.path.isdir(base):
            return os.path.basename(base) or 'data'
        return os.path.splitext(os.path.basename(base))[0] or 'data'

    @property
    def has_validation(self):
        return any(split == 'validation' for _, _, split in self.entries)

    def listing(self):
        """The sorted relative paths of every listed file (for split.json's check)."""
        return sorted(rel for rel, _, _ in self.entries)


def open_source(data):
    """The DataSource of ``data`` (a path, a CSV file or TFRecord globs).

    Raises:
      DataError: ``data`` is none of the forms, or a form that is malformed (naming
        the path, the cause and the fix).
    """
    data = str(data)
    if data in DEMO_NAMES and not os.path.exists(data):
        from jacktf.data import demo
        source = _records(demo.materialize())
        source.title = 'demo'
        return source
    if any(c in data for c in '*?[,') or data.endswith('.tfrecord') or \
            (os.path.isdir(data) and _holds_records(data)):
        return _records(data)
    path = os.path.abspath(data)
    if os.path.isfile(path) and path.lower().endswith('.csv'):
        return _from_csv(path)
    if not os.path.isdir(path):
        what = 'does not exist' if not os.path.exists(path) else 'is a file'
        raise DataError(f'DATA {data!r} {what}: give a folder with one subfolder per class, '
                        'a folder with train/ and val/ folders, a CSV of path,label[,split] '
                        'rows, or TFRecord files of `jacktf convert`.')
    names = image_check.class_names(path)
    splits = {SPLIT_NAMES[n.lower()]: n for n in names if n.lower() in SPLIT_NAMES}
    if 'train' in splits and ('validation' in splits or 'test' in splits):
        return _from_split_folders(path, splits)
    return _from_folder(path)


def _holds_records(folder):
    return bool(glob.glob(os.path.join(folder, '*.tfrecord'))) and \
        not image_check.class_names(folder)


def _records(data):
    if os.path.isdir(data):
        train = os.path.join(data, 'train-*.tfrecord')
        if not glob.glob(train):
            train = os.path.join(data, '*.tfrecord')
        val = os.path.join(data, 'validation-*.tfrecord')
        eval_files = val if glob.glob(val) and train != val else None
    else:
        train, eval_files = data, None
        folder = os.path.dirname(data.split(',')[0])
        val = os.path.join(folder, 'validation-*.tfrecord')
        if 'train' in os.path.basename(data) and glob.glob(val):
            eval_files = val
    from jacktf.data import pipeline
    classes = pipeline.labels_for(train) or []
    return DataSource('tfrecord', os.path.abspath(data) if os.path.isdir(data) else data,
                      os.path.dirname(os.path.abspath(train)), list(classes),
                      train_files=train, eval_files=eval_files)


def _from_folder(path):
    classes, items, _ = image_check.list_image_folder(path)
    if not classes:
        images = [f for f in os.listdir(path) if f.lower().endswith(
            image_check.IMAGE_EXTENSIONS) and not image_check.is_litter(f)]
        hint = (f' It holds {len(images)} images directly: put each class in its own '
                'subfolder (e.g. cats/, dogs/).') if images else \
            ' Put each class in its own subfolder (e.g. cats/, dogs/).'
        raise DataError(f'DATA {path!r} has no class subfolders.{hint}')
    entries = [(os.path.relpath(p, path), classes[label], None) for p, label in items]
    _check_classes(path, classes, entries)
    return DataSource('folder', path, path, classes, entries)


def _from_split_folders(path, splits):
    entries, classes = [], None
    for split in ('train', 'validation', 'test'):
        if split not in splits:
            continue
        folder = os.path.join(path, splits[split])
        names, items, _ = image_check.list_image_folder(folder)
        if split == 'train':
            classes = names
        unknown = sorted(set(names) - set(classes))
        if unknown:
            raise DataError(f'{folder}/ has class folders that {splits["train"]}/ lacks: '
                            f'{", ".join(unknown)}. Every class needs training images; '
                            'add them, or remove those folders.')
        entries += [(os.path.relpath(p, path), names[label], split) for p, label in items]
    if not classes:
        raise DataError(f'{os.path.join(path, splits["train"])}/ has no class subfolders: '
                        'put each class in its own subfolder (e.g. train/cats/).')
    _check_classes(path, classes, [e for e in entries if e[2] == 'train'])
    return DataSource('split_folders', path, path, classes, entries)


def _from_csv(path):
    root = os.path.dirname(path)
    entries = []
    with open(path, newline='', encoding='utf-8-sig') as f:
        for line, row in enumerate(csv.reader(f), start=1):
            row = [cell.strip() for cell in row]
            if not row or not any(row) or row[0].startswith('#'):
                continue
            if line == 1 and row[0].lower() in ('path', 'file', 'filename', 'image'):
                continue  # a header
            if len(row) not in (2, 3) or not row[0] or not row[1]:
                raise DataError(f'{path} line {line}: expected path,label or '
                                f'path,label,split, got {",".join(row)!r}.')
            split = None
            if len(row) == 3 and row[2]:
                split = SPLIT_NAMES.get(row[2].lower())
                if split is None:
                    raise DataError(f'{path} line {line}: split {row[2]!r} is not one of '
                                    'train, val, validation, test.')
            if '|' in row[1]:
                raise DataError(
                    f'{path} line {line}: {row[1]!r} names several labels (multi-label '
                    'data). Convert it to multi-label records first, then train on them: '
                    f'jacktf convert --labels_csv {path} --output_dir RECORDS; jacktf train '
                    'RECORDS (the sigmoid head and per-label thresholds follow from '
                    'their dataset.json).')
            entries.append((os.path.normpath(row[0]), row[1], split))
    if not entries:
        raise DataError(f'{path} lists no images: give one path,label row per image.')
    if any(s is not None for _, _, s in entries):
        entries = [(p, c, s or 'train') for p, c, s in entries]
    classes = sorted({c for _, c, s in entries if s in (None, 'train')})
    unknown = sorted({c for _, c, _ in entries} - set(classes))
    if unknown:
        raise DataError(f'{path}: classes {", ".join(unknown)} have validation or test '
                        'rows but no training row. Every class needs training images.')
    return DataSource('csv', path, root, classes, entries)


def _check_classes(path, classes, entries):
    present = {c for _, c, _ in entries}
    empty = [c for c in classes if c not in present]
    if empty:
        raise DataError(image_check.empty_classes_message(
            path, empty, 'nothing else (a class needs images)'))


def checked(source, *, workers=None, max_pixels=image_check.DEFAULT_MAX_PIXELS,
            max_bytes=image_check.DEFAULT_MAX_BYTES, sides=None):
    """Checks every file of ``source`` as `jacktf convert` does; appends the shorter
    side (pixels) of each kept image to the list ``sides`` when one is given.

    Returns:
      (kept entries, [(relative path, reason)] of the skipped files, [relative paths of
      the kept files an EXIF orientation turns]); each skipped file is named once in
      the log.
    """
    jobs = [(os.path.join(source.root, rel), max_pixels, max_bytes)
            for rel, _, _ in source.entries]
    workers = 1 if len(jobs) < 200 else check_pool.memory_capped_workers(
        workers or os.cpu_count() or 1, max_pixels, max_bytes)
    kept, skipped, turned = [], [], []
    results = check_pool.checked(converter.check_file, jobs, workers,
                                 name=lambda job: job[0])
    try:
        for entry, result in zip(source.entries, results):
            if result['ok']:
                kept.append(entry)
                if sides is not None and result.get('height'):
                    sides.append(min(result['height'], result['width']))
                if 'EXIF orientation' in (result.get('converted') or ''):
                    turned.append(entry[0])
            else:
                skipped.append((entry[0], result['reason']))
                log.warning('skipping %s: %s', os.path.join(source.root, entry[0]),
                            result['reason'])
    finally:
        results.close()
    return kept, skipped, turned
