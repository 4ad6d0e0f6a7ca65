"""The validation split a run makes when its data has none: stratified, seeded, and
groups (e.g. near-duplicates of one photo) kept on one side.

``stratified_split`` works on labels only (no files), so the front door, the Python
API and the near-duplicate helper share one rule:

- every class gives about ``fraction`` of its examples to validation, at least one when
  it has two or more units (an example, or a group), never all of them;
- the same labels, groups and seed give the same split;
- a group (one hashable per example; None: each example its own group) is never cut:
  all its examples are on one side. A group belongs to the class most of its examples
  have (the smallest label on a tie).
"""

import collections

import numpy as np

from jacktf.core.errors import ConfigError

SMALL, LARGE = 200, 2000   # data sets up to SMALL examples give 20%, from LARGE on 10%


def default_fraction(n):
    """The validation fraction for ``n`` examples: 0.2 up to 200 examples, 0.1 from
    2,000 on, linear in between (small sets need a larger share for a stable number)."""
    if n <= SMALL:
        return 0.2
    if n >= LARGE:
        return 0.1
    return round(0.2 - 0.1 * (n - SMALL) / (LARGE - SMALL), 4)


def _units(labels, groups):
    """{class: [[example indexes of one unit], ...]} in first-seen order."""
    if groups is None:
        units = [[i] for i in range(len(labels))]
    else:
        if len(groups) != len(labels):
            raise ConfigError(f'groups has {len(groups)} entries but labels {len(labels)}: '
                              'give one group per example (None for no group).')
        members = collections.OrderedDict()
        for i, g in enumerate(groups):
            members.setdefault(('solo', i) if g is None else ('group', g), []).append(i)
        units = list(members.values())
    by_class = collections.defaultdict(list)
    for unit in units:
        votes = collections.Counter(labels[i] for i in unit)
        top = max(votes.values())
        by_class[min(c for c, n in votes.items() if n == top)].append(unit)
    return by_class


def stratified_split(labels, *, fraction=None, seed=0, groups=None):
    """Splits example indexes into training and validation.

    Args:
      labels: one class (int or str) per example.
      fraction: the share of each class that goes to validation, in (0, 1); None:
        :func:`default_fraction` of the number of examples.
      seed: the same seed, labels and groups give the same split.
      groups: None, or one hashable per example (None entries are groups of one);
        the examples of a group are all on one side.

    Returns:
      (train, validation): sorted int64 numpy arrays of indexes into ``labels``.

    Raises:
      ConfigError: a fraction outside (0, 1), or groups of another length.
    """
    labels = list(labels)
    if fraction is None:
        fraction = default_fraction(len(labels))
    if not 0 < float(fraction) < 1:
        raise ConfigError(f'The validation fraction must be between 0 and 1 (exclusive), '
                          f'got {fraction}.')
    rng = np.random.default_rng(seed)
    val = []
    by_class = _units(labels, groups)
    for label in sorted(by_class, key=str):
        units = by_class[label]
        size = sum(len(u) for u in units)
        target = int(round(size * float(fraction)))
        if len(units) >= 2:
            target = max(target, 1)
        taken = 0
        for k in rng.permutation(len(units)):
            if taken >= target or taken + len(units[k]) >= size:  # keep one for training
                continue
            val.extend(units[k])
            taken += len(units[k])
    val = np.array(sorted(val), np.int64)
    train = np.setdiff1d(np.arange(len(labels), dtype=np.int64), val)
    return train, val
