"""The model directory's fingerprint: what a checkpoint in it was trained as.

A run writes MODEL_DIR/fingerprint.json before its first checkpoint. A later run in the
same directory resumes only when the model-defining part of its configuration (backbone,
head, classes, input size, preprocessing, variable names and shapes) is the same;
training length, learning rate and logging may change between runs. The file also keeps
the last run's BATCH_SIZE and TRAIN_STEPS (under "run", outside the digest), so a resume
that changes them can say so.
"""

import hashlib
import json
import os

import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.core.files import write_atomic

FILENAME = 'fingerprint.json'


def model_fingerprint(model):
    """A dict describing the model, with a digest over it."""
    variables = sorted(f'{n}:{v.shape.as_list()}' for n, v in
                       zip(model.variable_names(), model.variables))
    fields = {'backbone': model.backbone_name, 'head': model.head_name,
              'num_classes': model.num_classes, 'image_size': model.image_size,
              'preprocessing': model.preprocessing, 'precision': model.precision,
              'variables': hashlib.sha256('\n'.join(variables).encode()).hexdigest()[:16]}
    fields['digest'] = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()
                                      ).hexdigest()[:16]
    return fields


# Run settings that may change on resume, by the macro a user sets them with.
RUN_SETTINGS = {'batch_size': 'BATCH_SIZE', 'train_steps': 'TRAIN_STEPS'}


def check_or_write(model_dir, model, has_checkpoint, run=None):
    """Writes the fingerprint for a new run; raises when it differs from a resumed one.

    Args:
      model_dir: the model directory.
      model: the Model of this run.
      has_checkpoint: the directory has checkpoints, so this run resumes.
      run: this run's settings that may change on resume, {'batch_size': ...,
        'train_steps': ...}; stored, and compared with those stored by the last run.

    Returns:
      ['BATCH_SIZE 32 -> 64', ...]: the run settings that differ from the last run's
      (empty for a new run, or a directory written before run settings were stored).

    Raises:
      ConfigError: the directory's checkpoints were trained as another configuration.
    """
    path = os.path.join(model_dir, FILENAME)
    current = model_fingerprint(model)
    run = dict(run or {})
    changes = []
    if has_checkpoint and tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            stored = json.load(f)
        if stored.get('digest') != current['digest']:
            diffs = [f'{k}: {stored.get(k)!r} in the directory, {current[k]!r} now'
                     for k in current if k != 'digest' and stored.get(k) != current[k]]
            raise ConfigError(
                f'MODEL_DIR {model_dir} holds checkpoints of another configuration ('
                f'{"; ".join(diffs)}). Use a new --model_dir to start this configuration, '
                'or restore the recipe that wrote the directory to resume it.')
        before = stored.get('run') or {}
        changes = [f'{RUN_SETTINGS.get(k, k)} {before[k]} -> {v}' for k, v in run.items()
                   if k in before and before[k] != v]
        if not run or before == run:
            return changes
    write_atomic(path, json.dumps(dict(current, run=run) if run else current, indent=2))
    return changes
