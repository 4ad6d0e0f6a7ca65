"""MODEL_DIR/split.json: which image of DATA is in which split, written once per run.

A run made from images (a folder, split folders or a CSV) records its split here: the
classes, each split's files (relative to the data's root) with their class, the files
skipped and why, and how the split was made. A resume, an eval or an export of the run
reads it back, so the validation images stay the validation images; a split.json that
no longer matches DATA (files added or removed, another folder) is refused.

The pipeline reads a split as ``'/path/split.json#train'`` (see :func:`ref`); the
``image_list`` decoder turns such a reference into images and labels.
"""

import json
import os

from jacktf.core.errors import DataError
from jacktf.core.files import write_atomic
from jacktf.data import splits as splits_lib

NAME = 'split.json'
VERSION = 1
SPLITS = ('train', 'validation', 'test')


def ref(path, split):
    """The files setting that reads ``split`` of the split file ``path``."""
    return f'{os.path.abspath(path)}#{split}'


def parse_ref(pattern):
    """(split.json path, split) of a reference, or None for any other files setting."""
    text = str(pattern).strip()
    if '#' not in text:
        return None
    path, split = text.rsplit('#', 1)
    if not path.endswith('.json') or split not in SPLITS:
        return None
    return path, split


def make(source, kept, skipped, *, fraction=None, seed=0, groups=None):
    """The content of split.json for ``source`` (a DataSource) and its checked files.

    Data without a validation split gets one (:func:`splits.stratified_split` over the
    training files, ``fraction``, ``seed``, ``groups``: one per kept training file).

    Raises:
      DataError: a class left without a usable training image.
    """
    files = {name: [] for name in SPLITS}
    given = source.has_validation
    train = [(rel, cls) for rel, cls, split in kept if split in (None, 'train')]
    for rel, cls, split in kept:
        if split in ('validation', 'test'):
            files[split].append([rel, cls])
    empty = [c for c in source.classes if c not in {cls for _, cls in train}]
    if empty:
        reasons = '; '.join(f'{rel}: {why}' for rel, why in skipped[:5])
        raise DataError(f'DATA {source.data}: class{"es" if len(empty) > 1 else ""} '
                        f'{", ".join(empty)} {"have" if len(empty) > 1 else "has"} no usable '
                        f'training image{f" (skipped: {reasons})" if reasons else ""}. Add '
                        'images or remove the class.')
    how = {'made': 'given by the data'}
    if given:
        files['train'] = [list(t) for t in train]
    else:
        fraction = splits_lib.default_fraction(len(train)) if fraction is None else fraction
        tr, val = splits_lib.stratified_split([c for _, c in train], fraction=fraction,
                                              seed=seed, groups=groups)
        files['train'] = [list(train[i]) for i in tr]
        files['validation'] = [list(train[i]) for i in val]
        how = {'made': 'stratified', 'fraction': fraction, 'seed': seed,
               'groups': groups is not None}
    return dict({'version': VERSION, 'data': source.data, 'form': source.form,
                 'root': source.root, 'classes': list(source.classes), 'files': files,
                 'skipped': [list(s) for s in skipped]}, **how)


def write(path, content):
    """Writes split.json atomically, one file per line (readable, diffable)."""
    def rows(values):
        return '[' + ','.join(f'\n   {json.dumps(v)}' for v in values) + \
            ('\n  ]' if values else ']')
    body = {k: v for k, v in content.items() if k not in ('files', 'skipped')}
    text = json.dumps(body, indent=1)[:-2]
    files = ','.join(f'\n  {json.dumps(name)}: {rows(v)}' for name, v in
                     content['files'].items())
    text += (f',\n "files": {{{files}\n }},\n "skipped": '
             f'{rows(content["skipped"]).replace(chr(10) + "  ", chr(10) + " ")}\n}}\n')
    json.loads(text)  # the file is JSON
    write_atomic(path, text)


def read(path):
    """The content of a split.json; DataError when it is not one."""
    try:
        with open(path) as f:
            content = json.load(f)
        content['files'], content['classes']  # noqa: B018  both must be there
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f'{path} is not a jacktf split file ({type(e).__name__}: {e}). '
                        'Remove it to split the data again.') from None
    return content


def check_matches(path, content, source):
    """Raises DataError when split.json ``content`` was not made from ``source``'s files.

    The files listed now (litter left out) must be the files split.json holds (its
    splits and its skipped files), and the classes the same.
    """
    recorded = sorted([rel for split in content['files'].values() for rel, _ in split] +
                      [rel for rel, _ in content['skipped']])
    now = source.listing()
    fix = (f'Train into a new --model_dir, or remove {path} to split the data again (the '
           'checkpoints of this run then have seen some of the new validation images).')
    if content.get('data') != source.data:
        raise DataError(f'{path} was made from {content.get("data")!r}, not from DATA '
                        f'{source.data!r}. {fix}')
    if content['classes'] != source.classes:
        raise DataError(f'{path} holds classes {content["classes"][:10]} but DATA '
                        f'{source.data} now has {source.classes[:10]}. {fix}')
    if recorded != now:
        added = sorted(set(now) - set(recorded))
        removed = sorted(set(recorded) - set(now))
        parts = [f'{len(added)} file(s) added (e.g. {added[0]})' if added else '',
                 f'{len(removed)} removed (e.g. {removed[0]})' if removed else '']
        raise DataError(f'{path} no longer matches DATA {source.data}: '
                        f'{" and ".join(p for p in parts if p)} since the split was made. '
                        f'{fix}')


def verify(path):
    """Checks that the split file ``path`` still matches the data it was made from (the
    check every reader of a split runs: training, a resume, eval, export).

    Raises:
      DataError: naming what changed and how to go on.
    """
    from jacktf.data import sources
    content = read(path)
    try:
        source = sources.open_source(content.get('data', ''))
    except DataError as e:
        raise DataError(f'{path} was made from {content.get("data")!r}, which cannot be '
                        f'read now: {e}') from None
    check_matches(path, content, source)
    return content


def for_eval(source, kept, skipped):
    """A split file's content for evaluating on all of ``source`` (`jacktf eval DATA`):
    each file in its own split, files without one in 'test'; and the split to evaluate
    (test, else validation, else train)."""
    files = {name: [] for name in SPLITS}
    for rel, cls, split in kept:
        files[split or 'test'].append([rel, cls])
    split = next(name for name in ('test', 'validation', 'train') if files[name])
    content = {'version': VERSION, 'data': source.data, 'form': source.form,
               'root': source.root, 'classes': list(source.classes), 'made': 'for eval',
               'files': files, 'skipped': [list(s) for s in skipped]}
    return content, split


def items(path, split):
    """[(absolute image path, class index)] of ``split`` of the split file ``path``.

    Raises:
      DataError: an unreadable file or a split it does not hold.
    """
    content = read(path)
    rows = content['files'].get(split) or []
    if not rows:
        raise DataError(f'{path} holds no {split} images.')
    index = {name: i for i, name in enumerate(content['classes'])}
    root = content.get('root') or os.path.dirname(path)
    return [(os.path.join(root, rel), index[cls]) for rel, cls in rows]


def classes(path):
    return list(read(path)['classes'])
