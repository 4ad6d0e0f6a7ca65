"""Multi-label data: label sets from a CSV or a folder layout, their statistics, and
the iterative stratification split (Sechidis et al. 2011).

Two input forms give every image a set of class indexes:

- a CSV of ``path,labels`` (a header row ``path,labels`` or ``image,tags``... is
  optional), the labels separated by spaces or ``|`` (the Kaggle and fastai layouts);
  relative paths are relative to the CSV's folder (or ``image_dir`` when given);
- a class-per-subfolder folder where one image may sit in several class folders: files
  with the same content (sha256) are one image with the labels of all their folders.

Everything here is a pure function over lists (no TensorFlow), testable on its own.
"""

import csv
import hashlib
import os

import numpy as np

from jacktf.core.errors import DataError
from jacktf.data import image_check

SEPARATORS = ('|', ' ')
_HEADER_NAMES = {'path', 'file', 'filename', 'image', 'image_path', 'id', 'name'}


def split_labels(text):
    """'cat|dog' or 'cat dog' -> ['cat', 'dog'] (empty parts dropped, order kept)."""
    sep = '|' if '|' in text else None
    seen = []
    for part in text.split(sep):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def read_labels_csv(csv_path, image_dir=None):
    """Reads a ``path,labels`` CSV.

    Args:
      csv_path: the CSV file.
      image_dir: the folder relative paths start from (default: the CSV's folder).

    Returns:
      (sorted class names, [(absolute path, [class indexes])]).

    Raises:
      DataError: a missing file, a row without two columns, a row without labels, a
        path listed twice, or no rows (naming the line and the fix).
    """
    if not os.path.isfile(csv_path):
        raise DataError(f'--labels_csv {csv_path!r} is not a file: give a CSV of '
                        '`path,labels` rows.')
    base = image_dir or os.path.dirname(os.path.abspath(csv_path))
    rows = []
    with open(csv_path, newline='', encoding='utf-8-sig') as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 2:
                raise DataError(
                    f'{csv_path} line {number}: expected `path,labels`, got {row!r}. Put '
                    'the image path, a comma, then its labels separated by spaces or |.')
            path, labels = row[0].strip(), split_labels(','.join(row[1:]))
            if number == 1 and path.lower() in _HEADER_NAMES:
                continue  # the header
            if not labels:
                raise DataError(f'{csv_path} line {number}: {path!r} has no labels. Give '
                                'at least one label, or leave the image out.')
            rows.append((number, path, labels))
    if not rows:
        raise DataError(f'{csv_path} holds no `path,labels` rows.')
    classes = sorted({name for _, _, labels in rows for name in labels})
    index = {name: i for i, name in enumerate(classes)}
    items, seen = [], {}
    for number, path, labels in rows:
        full = os.path.normpath(os.path.join(base, path))
        if full in seen:
            raise DataError(f'{csv_path} line {number}: {path!r} is listed again (first '
                            f'on line {seen[full]}). Give each image one row with all its '
                            'labels.')
        seen[full] = number
        items.append((full, sorted(index[name] for name in labels)))
    return classes, items


def _digest(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def read_multilabel_folder(image_dir):
    """A class-per-subfolder folder where an image may be in several class folders.

    Files with the same content are one image; its labels are all their folders.

    Returns:
      (class names, [(path of the first copy, [class indexes])], [paths left out for
      their extension]).
    """
    classes, listed, others = image_check.list_image_folder(image_dir)
    images = {}
    for path, label in listed:
        try:
            key = _digest(path)
        except OSError:
            key = path  # unreadable: the converter skips it with its reason
        entry = images.setdefault(key, [path, set()])
        entry[1].add(label)
    return classes, [(p, sorted(labels)) for p, labels in images.values()], others


def multi_hot(label_sets, num_classes):
    """[[class indexes]] -> float32 [N, K] of 0/1."""
    y = np.zeros([len(label_sets), num_classes], np.float32)
    for row, labels in enumerate(label_sets):
        y[row, list(labels)] = 1.0
    return y


def label_statistics(label_sets, classes):
    """Images per label, label co-occurrence and label-set sizes (dataset.json)."""
    y = multi_hot(label_sets, len(classes))
    co = (y.T @ y).astype(np.int64)
    sizes = np.bincount(y.sum(1).astype(np.int64), minlength=1)
    return {'images': len(label_sets),
            'per_label': {c: int(co[i, i]) for i, c in enumerate(classes)},
            'cooccurrence': co.tolist(),
            'labels_per_image': {str(k): int(v) for k, v in enumerate(sizes) if v}}


def iterative_split(label_sets, num_classes, fractions, seed=0):
    """Iterative stratification (Sechidis, Tsoumakas and Vlahavas, 2011).

    Splits examples with several labels each into subsets whose label proportions
    follow ``fractions``: the label with the fewest examples still to place is handed
    out first, each of its examples going to the subset that most wants that label
    (ties: the subset that wants the most examples, then a seeded random choice).

    Args:
      label_sets: per example, its class indexes (an empty set is allowed).
      num_classes: K.
      fractions: the subsets' shares, e.g. (0.9, 0.1); they are normalized.
      seed: breaks ties (deterministic for a seed).

    Returns:
      A list of subset indexes, one per example.
    """
    rng = np.random.default_rng(seed)
    r = np.asarray(fractions, np.float64)
    if r.ndim != 1 or len(r) < 1 or np.any(r < 0) or r.sum() <= 0:
        raise DataError(f'Split fractions must be non-negative and sum to > 0, got '
                        f'{fractions!r}.')
    r = r / r.sum()
    n = len(label_sets)
    y = multi_hot(label_sets, num_classes).astype(bool)
    wanted = r * n                                   # examples each subset wants
    wanted_label = np.outer(r, y.sum(0))              # [subsets, K]
    assignment = np.full([n], -1, np.int64)
    left = np.ones([n], bool)
    remaining = y.sum(0).astype(np.int64)
    while True:
        open_labels = np.flatnonzero(remaining > 0)
        if open_labels.size == 0:
            break
        counts = remaining[open_labels]
        label = open_labels[rng.choice(np.flatnonzero(counts == counts.min()))]
        for example in rng.permutation(np.flatnonzero(left & y[:, label])):
            want = wanted_label[:, label]
            best = np.flatnonzero(want == want.max())
            if best.size > 1:
                best = best[wanted[best] == wanted[best].max()]
            subset = int(rng.choice(best))
            assignment[example] = subset
            left[example] = False
            wanted[subset] -= 1
            wanted_label[subset, y[example]] -= 1
            remaining[y[example]] -= 1
    for example in rng.permutation(np.flatnonzero(left)):  # examples without labels
        best = np.flatnonzero(wanted == wanted.max())
        subset = int(rng.choice(best))
        assignment[example] = subset
        wanted[subset] -= 1
    return assignment.tolist()
