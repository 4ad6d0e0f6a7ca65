"""Resume from the model directory, else warm start from CHECKPOINT_PATH."""

import logging
import os

import tensorflow as tf

from jacktf.core import fingerprint
from jacktf.core.errors import ConfigError
from jacktf.core.restore import restore_from_checkpoint
from jacktf.pretrained import resolve_checkpoint as resolve_pretrained

log = logging.getLogger('jacktf')


def initialize(inputs, model, checkpoint, frozen, chief=True, latest=None, *, model_dir,
               train_steps):
    """Restores ``checkpoint`` from MODEL_DIR's latest, else warm-starts ``model`` from
    ``inputs.checkpoint_path`` (a RunInputs).

    ``latest``: the checkpoint to resume from (jacktf.train.recovery.recover's newest
    readable one); None: MODEL_DIR's latest.

    Returns:
      True when the run resumed from the model directory's own checkpoint.

    Raises:
      ConfigError: the latest checkpoint does not hold this model's variables.
    """
    latest = latest or tf.train.latest_checkpoint(os.path.join(model_dir, 'checkpoints'))
    changes = fingerprint.check_or_write(
        model_dir, model, has_checkpoint=bool(latest),
        run={'batch_size': inputs.batch_size, 'train_steps': train_steps}) \
        if chief else []
    if latest:
        checkpoint.restore(latest).expect_partial()
        try:  # every network variable must come from the checkpoint
            tf.train.Checkpoint(network=model.network).restore(
                latest).assert_existing_objects_matched()
        except AssertionError as e:
            raise ConfigError(f'{latest} does not hold this model\'s variables ({e}). '
                              'Use a new --model_dir for this configuration.') from None
        log.info('Resuming from %s at step %d (CHECKPOINT_PATH is not applied to a '
                 'model directory that has its own checkpoints).', latest,
                 int(checkpoint.step.numpy()))
        if changes:
            log.info('Changed since the last run in this MODEL_DIR: %s.', ', '.join(changes))
        return True
    if inputs.checkpoint_path:
        restore_from_checkpoint(
            model, inputs.checkpoint_path,
            exclude_scopes=inputs.checkpoint_exclude_scopes,
            scope_map=inputs.scope_map, frozen=frozen,
            report_path=os.path.join(model_dir, 'restore_report.json') if chief else None,
            resolve_uri=resolve_pretrained)
    else:
        log.warning('CHECKPOINT_PATH is None: training %s from scratch (random '
                    'initialization).', model.backbone_name)
    return False
