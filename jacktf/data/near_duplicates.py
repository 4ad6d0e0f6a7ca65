"""Near-duplicate images: perceptual hashes, groups, label conflicts and split leakage.

A burst of photos, a resized copy or a re-saved JPEG looks like a new image to a file
list but not to a model: on both sides of a split it inflates the validation accuracy,
and in two classes it is a label conflict. Each image gets a perceptual hash
(``imagehash``; the method and the distance threshold are the ones bench/near_duplicates.py
measured best: see docs/guides/data-trust.md), images whose hashes differ in at most
``max_distance`` bits are linked, and the connected images form a group.

    hashes = hash_images(paths_or_arrays)               # [N, bytes] packed bits
    report = find_groups(hashes, labels, splits=splits)  # Report
    report.conflicts, report.leaks                       # groups across classes / splits
    ids = group_ids(report)                              # one group id per image

``group_ids`` is what a split takes as ``groups=`` so that every group lands on one side
(a CSV ``group`` column is merged in through ``extra=``).
"""

import dataclasses
from typing import List

import numpy as np
from PIL import Image

from jacktf.data.hash_distances import (  # noqa: F401  (re-exported)
    CONFIRM_MAX_DISTANCE, CONFIRM_RELATIVE_SHARE, DEFAULT_MAX_DISTANCE, FLOOR,
    MIN_RELATIVE, RELATIVE_SHARE, SAMPLE, TYPICAL_PERCENTILE, data_thresholds, near_pairs,
    pair_distance_percentile)

# Chosen by bench/near_duplicates.py (the thresholds live in jacktf.data.hash_distances,
# with the cap that fits them to the data's own spread) (bench/results/near_duplicates.json): the 256-bit DCT
# hash (phash, hash_size 16) separates copies from distinct photos best. Within 64 bits it
# found 97.0% of 840 planted copies (resized, JPEG q30-95, cropped <= 5%) and linked none
# of 46,360 distinct-photo pairs; its first false pair appears at 80 bits (a margin).
# A pair must also be within 80 bits of the 256-bit gradient hash (dhash): that loses no
# planted copy of the bench, and separates images whose DCT is half zero (synthetic
# mirror-symmetric patterns), which the DCT hash alone links.
DEFAULT_METHOD = 'phash'
DEFAULT_HASH_SIZE = 16
CONFIRM_METHOD = 'dhash'
METHODS = ('phash', 'dhash', 'ahash', 'whash')


def _hasher(method):
    import imagehash
    if method not in METHODS:
        raise ValueError(f'near-duplicate hash method must be one of {METHODS}, got '
                         f'{method!r}.')
    return getattr(imagehash, {'phash': 'phash', 'dhash': 'dhash', 'ahash': 'average_hash',
                               'whash': 'whash'}[method])


def hash_image(image, *, method=DEFAULT_METHOD, hash_size=DEFAULT_HASH_SIZE,
               confirm=CONFIRM_METHOD):
    """The packed hash bits of one image: uint8 [hash_size**2 / 8], followed by as many
    bytes of the ``confirm`` hash (None: none).

    Args:
      image: a PIL image, a path, or an array ([H, W] or [H, W, C], uint8).
    """
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, np.uint8).squeeze())
    elif not isinstance(image, Image.Image):
        with Image.open(image) as opened:
            opened.draft('L', (hash_size * 8, hash_size * 8))  # JPEG: decode small
            return hash_image(opened.convert('L'), method=method, hash_size=hash_size,
                              confirm=confirm)
    side = hash_size * 16  # the hash reads hash_size * 4 pixels a side: shrink big
    if max(image.size) > 2 * side:  # photos first with a fast box filter
        image = image.reduce(max(image.size) // side)
    bits = [np.asarray(_hasher(m)(image, hash_size=hash_size).hash, bool).reshape(-1)
            for m in ([method] + ([confirm] if confirm else []))]
    return np.packbits(np.concatenate(bits))


def hash_images(images, *, method=DEFAULT_METHOD, hash_size=DEFAULT_HASH_SIZE,
                confirm=CONFIRM_METHOD):
    """uint8 [N, bytes]: the hash of each image (PIL images, paths or arrays), see
    :func:`hash_image`."""
    rows = [hash_image(i, method=method, hash_size=hash_size, confirm=confirm)
            for i in images]
    if not rows:
        return np.zeros([0, hash_size * hash_size // 8 * (2 if confirm else 1)], np.uint8)
    return np.stack(rows)


def _components(n, links):
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for i, j in links:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(n)]


@dataclasses.dataclass
class Report:
    """The near-duplicate groups of N images.

    ``groups``: lists of image indices (2 or more images each, sorted); ``within_class``,
    ``conflicts``, ``leaks``: indices into ``groups`` of the groups with one label, with
    more than one label (label conflicts) and, when splits were given, on more than one
    split (leakage); ``pairs``: the linked pairs (i, j, distance); ``size``: N.
    """
    size: int
    groups: List[List[int]]
    within_class: List[int]
    conflicts: List[int]
    leaks: List[int]
    pairs: list
    max_distance: int
    confirm_distance: int = None

    def with_splits(self, splits):
        """This report with ``leaks`` computed for ``splits`` (N split names)."""
        leaks = [g for g, group in enumerate(self.groups)
                 if len({splits[i] for i in group}) > 1]
        return dataclasses.replace(self, leaks=leaks)

    def leaked_images(self, splits, split):
        """Indices of the images of ``split`` whose group also has images elsewhere."""
        return sorted(i for g in self.leaks for i in self.groups[g] if splits[i] == split)

    def counts(self):
        """{'groups', 'images_in_groups', 'within_class', 'conflicts', 'leaks'}."""
        return {'groups': len(self.groups),
                'images_in_groups': sum(len(g) for g in self.groups),
                'within_class': len(self.within_class), 'conflicts': len(self.conflicts),
                'leaks': len(self.leaks)}

    def to_json(self, names, labels=None, splits=None, class_names=None):
        """A JSON-ready dict: the counts and each group as its members' ``names``
        (with their label and split when given)."""
        def member(i):
            entry = {'file': names[i]}
            if labels is not None:
                label = labels[i]
                entry['label'] = class_names[label] if class_names else label
            if splits is not None:
                entry['split'] = splits[i]
            return entry

        def listed(which):
            return [[member(i) for i in self.groups[g]] for g in which]
        return {**self.counts(), 'max_distance': self.max_distance,
                'confirm_distance': self.confirm_distance,
                'conflict_groups': listed(self.conflicts), 'leak_groups': listed(self.leaks),
                'within_class_groups': listed(self.within_class)}


def find_groups(hashes, labels, splits=None, *, max_distance=DEFAULT_MAX_DISTANCE,
                confirm_distance=CONFIRM_MAX_DISTANCE, relative=True):
    """Groups the images whose hashes are within ``max_distance`` bits (transitively).

    Args:
      hashes: uint8 [N, bytes] from :func:`hash_images`.
      labels: N class labels (any hashable values).
      splits: N split names ('train', 'validation', ...) or None.
      max_distance: the largest Hamming distance of a near-duplicate pair.
      confirm_distance: the largest distance of their confirm hashes (None: hashes
        made without ``confirm``).
      relative: cap both at a share of the data's own typical distance
        (:func:`data_thresholds`); the Report holds the thresholds used.

    Returns:
      A Report.
    """
    hashes = np.asarray(hashes, np.uint8)
    n = len(hashes)
    if len(labels) != n or (splits is not None and len(splits) != n):
        raise ValueError(f'{n} hashes but {len(labels)} labels'
                         + (f' and {len(splits)} splits' if splits is not None else ''))
    if relative:
        max_distance, confirm_distance = data_thresholds(hashes, max_distance,
                                                         confirm_distance)
    pairs = near_pairs(hashes, max_distance, confirm_distance)
    roots = _components(n, [(i, j) for i, j, _ in pairs])
    members = {}
    for i, r in enumerate(roots):
        members.setdefault(r, []).append(i)
    groups = sorted((m for m in members.values() if len(m) > 1), key=lambda m: m[0])
    within, conflicts, leaks = [], [], []
    for g, group in enumerate(groups):
        (conflicts if len({labels[i] for i in group}) > 1 else within).append(g)
        if splits is not None and len({splits[i] for i in group}) > 1:
            leaks.append(g)
    return Report(n, groups, within, conflicts, leaks, pairs, max_distance, confirm_distance)


def group_ids(report, extra=None):
    """One int per image: images of a near-duplicate group share an id, and so do the
    images that share an ``extra`` value (e.g. a CSV ``group`` column: patient, product,
    session; None or '' is no group). Every other image has an id of its own.
    """
    n = report.size
    links = [(g[0], i) for g in report.groups for i in g[1:]]
    if extra is not None:
        if len(extra) != n:
            raise ValueError(f'{n} images but {len(extra)} extra group values')
        first = {}
        for i, value in enumerate(extra):
            if value is None or value == '':
                continue
            links.append((first.setdefault(value, i), i))
    roots = _components(n, links)
    ids = {}
    return np.array([ids.setdefault(r, len(ids)) for r in roots], np.int64)



def leaked_files(files):
    """The file names (as stored in the records' image/filename) of the images of
    ``files`` (the shards of one split of a conversion) whose near-duplicate group also
    has images in another split, from the dataset.json next to them; empty when there is
    none or no such file."""
    import json
    import os
    import re
    folders = {os.path.dirname(f) for f in files}
    shard = re.compile(r'^(?P<split>.+)-\d+-of-\d+\.tfrecord$')
    splits = {m.group('split') for m in (shard.match(os.path.basename(f)) for f in files)
              if m}
    if len(folders) != 1 or len(splits) != 1:
        return set()
    try:
        with open(os.path.join(folders.pop(), 'dataset.json')) as f:
            groups = json.load(f)['near_duplicates']['leak_groups']
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    split = splits.pop()
    return {m['file'] for group in groups for m in group if m.get('split') == split}


def conflict_message(image_dir, report, names, *, limit=10, members=4):
    """The error of near-identical images in different classes: at most ``limit`` groups
    of at most ``members`` of their ``names`` (one per image, e.g. 'cat/1.jpg (cat)')."""
    groups = [report.groups[g] for g in report.conflicts]

    def named(group):
        shown = ' = '.join(names[i] for i in group[:members])
        return shown + (f' (+{len(group) - members} more)' if len(group) > members else '')
    listed = '; '.join(named(g) for g in groups[:limit])
    more = f' and {len(groups) - limit} more' if len(groups) > limit else ''
    return (f'{image_dir!r} has {len(groups)} group(s) of near-identical images in '
            f'different classes (label conflicts): {listed}{more}. Keep each photo in one '
            'class folder (delete or move the wrong copy), or pass --allow_conflicts to '
            'convert them as they are (listed in dataset.json).')


def describe(found, *, limit=10):
    """The lines a command prints for ``found`` (``Report.to_json``, as in dataset.json):
    the counts, then the label conflicts and the groups across splits (a warning: the
    validation accuracy counts images the model trained on), up to ``limit`` each."""
    lines = [f"near-duplicates: {found['groups']} groups of {found['images_in_groups']} "
             f"images ({found['within_class']} within a class, {found['conflicts']} across "
             f"classes, {found['leaks']} across splits)."]
    if found['leaks']:
        lines.append(f"WARNING: {found['leaks']} groups of near-identical images are on "
                     'more than one split: the validation accuracy counts images the model '
                     'trained on.')
    for title, key in (('label conflict', 'conflict_groups'), ('across splits', 'leak_groups')):
        for group in found[key][:limit]:
            lines.append(f'  {title}: ' + ', '.join(
                f"{m['file']} ({m.get('label')}, {m.get('split')})" for m in group))
        if len(found[key]) > limit:
            lines.append(f'  ... and {len(found[key]) - limit} more {title} groups '
                         '(dataset.json lists all)')
    return lines
