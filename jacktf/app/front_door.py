"""The front door: from DATA (a folder of photos, split folders, a CSV or TFRecords) to
a trained, evaluated run, with the options users know (`jacktf train DATA`, and the
Python API built on it).

:func:`plan` reads the data (jacktf.data.sources), makes or re-reads the run's split
(MODEL_DIR/split.json) and returns a :class:`Plan`: the gin files and bindings of the
run, so the run is a recipe like any other (its operative_config.gin reruns it).
:func:`train` runs a Plan through the one train path (jacktf.app.runtime) and returns
the summary :func:`format_summary` prints. Neither exits: errors are jacktf's
(DataError, ConfigError), which the command line turns into exit code 2.
"""

import ast
import dataclasses
import logging
import os
import re
from typing import List, Optional

from jacktf.app import input_size
from jacktf.core.errors import ConfigError, JacktfError
from jacktf.data import sources, split_file

log = logging.getLogger('jacktf')
RECIPE = 'front_door.gin'
DEFAULT_BACKBONE = 'mobilenet_v1_025'
_NUM_CLASSES = re.compile(r'^\s*NUM_CLASSES\s*=\s*([^#\n]+)', re.MULTILINE)
_IMAGE_SIZE = re.compile(r'^\s*IMAGE_SIZE\s*=', re.MULTILINE)


@dataclasses.dataclass
class Plan:
    """A run of the front door, before it trains.

    Attributes:
      data: DATA as given; form: its form (jacktf.data.sources.FORMS).
      classes: the class names, from the data.
      model_dir: where the run goes.
      split_path: MODEL_DIR/split.json (None for TFRecord data, split when converted).
      counts: {'train': n, 'validation': n, 'test': n} images per split.
      skipped: [(file, reason)] of the files that are not used.
      gin_files / gin_params: the recipe of the run (the front door's, then the user's
        files; the data's and the options' bindings, then the user's).
      backbone / checkpoint: the backbone name and CHECKPOINT_PATH (None: the recipe's).
      export: the formats to export at the end (e.g. ['tflite:int8', 'onnx']).
      notes: lines said about the plan (a numbered model_dir, a split re-read, ...).
    """
    data: str
    form: str
    classes: List[str]
    model_dir: str
    split_path: Optional[str]
    counts: dict
    skipped: list
    gin_files: List[str]
    gin_params: List[str]
    backbone: Optional[str] = None
    checkpoint: Optional[str] = None
    export: tuple = ()
    notes: List[str] = dataclasses.field(default_factory=list)

    def describe(self):
        """The plan in a few lines a person reads."""
        shown = ', '.join(self.classes[:8]) + (', ...' if len(self.classes) > 8 else '')
        split = ', '.join(f'{n} {name}' for name, n in self.counts.items() if n)
        lines = [f'data {self.data} ({self.form}): {len(self.classes)} classes ({shown})'
                 + (f'; {split} images' if split else '') +
                 (f'; {len(self.skipped)} file{"s" if len(self.skipped) > 1 else ""} skipped'
                  if self.skipped else '')]
        if self.split_path:
            lines.append(f'split: {self.split_path}')
        lines.append(f'backbone {self.backbone or "(recipe)"}'
                     + (f' from {self.checkpoint}' if self.checkpoint else '') +
                     f'; model_dir {self.model_dir}')
        lines.append('recipe: ' + ' '.join(self.gin_files) + ''.join(
            f' --gin_param "{p}"' for p in self.gin_params))
        return '\n'.join(self.notes + lines)


def plan(data, *, backbone=None, epochs=None, batch_size=None, image_size=None, lr=None,
         model_dir=None, seed=None, export=(), gin_files=(), gin_params=(),
         val_fraction=None, groups=None):
    """Reads ``data``, makes (or re-reads) its split and returns the run's Plan.

    Args:
      data: a folder with one subfolder per class, a folder with train/ and val/ (or
        validation/, optionally test/), a CSV of ``path,label[,split]``, or TFRecord
        globs of `jacktf convert`.
      backbone: a registered backbone name (`jacktf plugins --kind backbone`); None:
        the shipped mobilenet_v1_025 weights (offline). Its official checkpoint
        (`jacktf pretrained list`) is the warm start; its card gives size and
        preprocessing.
      epochs, batch_size, image_size, lr: TRAIN_EPOCHS, BATCH_SIZE, IMAGE_SIZE,
        LEARNING_RATE (None: the recipe's).
      model_dir: None: runs/<data name>, or runs/<data name>-N when that holds a run
        of other data.
      seed: the run's seed and the split's (None: 0 for the split, the recipe's seed).
      export: formats exported at the end of :func:`train` ('tflite:int8', 'onnx').
      gin_files / gin_params: recipes and bindings applied on top.
      val_fraction: the validation share when the data has no split (None: 10-20% by
        size, see jacktf.data.splits.default_fraction).
      groups: {file path relative to the data: group} kept on one side of the split
        (e.g. near-duplicates); files not in it are groups of one.

    Returns:
      A Plan; MODEL_DIR/split.json is written (or checked against the data).

    Raises:
      DataError: unusable data, or a split.json that no longer matches it.
      ConfigError: a NUM_CLASSES binding that disagrees with the data, bad options.
    """
    _check_options(epochs=epochs, batch_size=batch_size, image_size=image_size, lr=lr)
    source = sources.open_source(data)
    if not source.classes:
        raise ConfigError(f'DATA {data!r}: TFRecord files without a labels.txt beside them '
                          'do not name their classes. `jacktf convert` writes labels.txt.')
    _check_num_classes(gin_files, gin_params, len(source.classes))
    notes = []
    model_dir = model_dir or _default_model_dir(source, notes)
    params = [f'NUM_CLASSES = {len(source.classes)}', f'MODEL_DIR = {model_dir!r}']
    split_path, counts, skipped = None, {}, []
    if source.form == 'tfrecord':
        params += [f'TRAIN_FILES = {source.train_files!r}',
                   f'EVAL_FILES = {source.eval_files!r}']
    else:
        split_path = os.path.join(model_dir, split_file.NAME)
        content = _split(source, split_path, seed, val_fraction, groups, notes)
        counts = {name: len(rows) for name, rows in content['files'].items()}
        skipped = [tuple(s) for s in content['skipped']]
        params += [f'TRAIN_FILES = {split_file.ref(split_path, "train")!r}',
                   f'EVAL_FILES = {split_file.ref(split_path, "validation")!r}',
                   "Experiment.decoder = 'image_list'"]
    checkpoint = None
    if backbone:
        checkpoint = _checkpoint_of(backbone)
        params += [f'BACKBONE = @{backbone}', f'CHECKPOINT_PATH = {checkpoint!r}']
    if image_size is None and split_path and (backbone or not gin_files) and \
            not any(_IMAGE_SIZE.search(text) for _, text in _user_texts(gin_files,
                                                                         gin_params)):
        image_size = input_size.from_split(content, backbone or DEFAULT_BACKBONE, notes)
    for value, macro in ((epochs, 'TRAIN_EPOCHS'), (batch_size, 'BATCH_SIZE'),
                         (image_size, 'IMAGE_SIZE'), (lr, 'LEARNING_RATE')):
        if value is not None:
            params.append(f'{macro} = {value!r}')
    if epochs is not None:
        params.append('TRAIN_STEPS = None')
    if seed is not None:
        params.append(f'Experiment.seed = {seed!r}')
    return Plan(data=str(data), form=source.form, classes=list(source.classes),
                model_dir=model_dir, split_path=split_path, counts=counts,
                skipped=skipped, gin_files=[RECIPE] + list(gin_files),
                gin_params=params + list(gin_params),
                backbone=backbone or (None if gin_files else DEFAULT_BACKBONE),
                checkpoint=checkpoint, export=tuple(export), notes=notes)


def _split(source, path, seed, fraction, groups, notes):
    """split.json's content: re-read (and checked against the data) or made now."""
    if os.path.exists(path):
        content = split_file.read(path)
        split_file.check_matches(path, content, source)
        notes.append(f'split: the run\'s own {path} (made {content.get("made")})')
        return content
    sides = []
    kept, skipped, turned = sources.checked(source, sides=sides)
    group_list = None
    if groups is not None:
        group_list = [groups.get(rel) for rel, _, split in kept if split in (None, 'train')]
    content = split_file.make(source, kept, skipped, fraction=fraction,
                              seed=0 if seed is None else seed, groups=group_list,
                              turned=turned)
    if sides:
        content['median_shorter_side'] = input_size.median(sides)
    split_file.write(path, content)
    return content


def _default_model_dir(source, notes):
    """runs/<name>, or the first runs/<name>-N that is free or holds this data's run."""
    base = os.path.join('runs', source.name)
    candidate, n = base, 1
    while _other_run(candidate, source):
        n += 1
        candidate = f'{base}-{n}'
    if candidate != base:
        notes.append(f'{base} holds a run of other data: this run goes to {candidate}')
    return candidate


def _other_run(model_dir, source):
    """True when ``model_dir`` exists, is not empty and is not a run of ``source``."""
    if not os.path.isdir(model_dir) or not os.listdir(model_dir):
        return False
    path = os.path.join(model_dir, split_file.NAME)
    if source.form != 'tfrecord':
        if not os.path.exists(path):
            return True
        try:
            return split_file.read(path).get('data') != source.data
        except JacktfError:  # an unreadable split file is not this data's
            return True
    config = os.path.join(model_dir, 'operative_config.gin')
    try:
        with open(config) as f:
            return repr(source.train_files) not in f.read()
    except OSError:
        return True


def _check_options(**values):
    """ConfigError for an option that is not a positive number."""
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not
                                  isinstance(value, (int, float)) or value <= 0):
            raise ConfigError(f'--{name} must be a number above 0, got {value!r}.')


def _checkpoint_of(backbone):
    """CHECKPOINT_PATH for a backbone: the shipped weights, else its official slim
    checkpoint; None (train from scratch, said once) for a backbone without one.

    Raises:
      UnknownPluginError: no backbone of that name (with the closest names).
    """
    from jacktf.app import runtime
    from jacktf.pretrained import builtin, zoo
    runtime.load_plugins().get('backbone', backbone)
    if backbone in builtin.BUILTIN:
        return f'builtin://{backbone}'
    if zoo.pretrained(backbone) is not None:
        return f'slim://{backbone}'
    log.warning('%s has no official checkpoint (`jacktf pretrained list`): it trains from '
                'scratch.', backbone)
    return None


def _user_texts(gin_files, gin_params):
    """[(where, text)] of the user's own bindings and recipe files (a file that cannot
    be read is left to the recipe parser, which names it)."""
    from jacktf.app import configurables
    texts = [(f'--gin_param {p!r}', p) for p in gin_params]
    for f in gin_files:
        try:
            with open(configurables.resolve_gin_file(f)) as handle:
                texts.append((f, handle.read()))
        except (OSError, ConfigError):
            continue
    return texts


def _check_num_classes(gin_files, gin_params, n):
    """ConfigError when the user's recipes or bindings set NUM_CLASSES to another n."""
    for where, text in _user_texts(gin_files, gin_params):
        for match in _NUM_CLASSES.finditer(text):
            try:
                value = ast.literal_eval(match.group(1).strip())
            except (ValueError, SyntaxError):
                continue
            if value != n:
                raise ConfigError(f'NUM_CLASSES = {value} in {where}, but the data has {n} '
                                  f'classes. The front door takes NUM_CLASSES from the '
                                  'data: remove that binding (or fix the data).')


def train(plan, *, mode='train_and_eval', force_unlock=False):
    """Trains ``plan`` (a resume when its MODEL_DIR holds checkpoints), evaluates the
    latest checkpoint on the validation split (and the test split when the data has
    one), exports ``plan.export`` and returns the summary (see jacktf.app.run_summary).

    Raises:
      JacktfError: DataError, ConfigError, RestoreError, ExportError with the cause and
        the fix.
    """
    from jacktf.app import run_summary, runtime
    targets = None
    if plan.export:
        from jacktf.serve import deploy
        targets = deploy.parse_targets(plan.export)  # a bad value fails before training
    result = runtime.train(plan.gin_files, plan.gin_params, plan.model_dir, mode,
                           force_unlock=force_unlock)
    experiment = runtime.experiment_from_gin(plan.gin_files, plan.gin_params,
                                             plan.model_dir)
    exported = None
    if targets and (targets[0] or targets[1]):
        from jacktf.serve import deploy
        exported = deploy.export_run(experiment, tflite_variants=targets[0],
                                     onnx=targets[1])
    return run_summary.summarize(plan, experiment, result, exported)
