"""Export versions are training steps: ``MODEL_DIR/export/600`` holds the weights of
step 600, in every format, whichever command wrote it."""


import tensorflow as tf

from jacktf.core.checkpoint_paths import step_in_name
from jacktf.core.errors import ConfigError

# Where checkpoints keep their step: jacktf's object-based checkpoints (the trainer's
# ``step`` and older ``global_step`` objects), then TF1/slim name-based ones.
STEP_KEYS = ('step/.ATTRIBUTES/VARIABLE_VALUE', 'global_step/.ATTRIBUTES/VARIABLE_VALUE',
             'global_step')


def checkpoint_step(prefix):
    """The global step saved in a checkpoint, or None when it holds none.

    Args:
      prefix: a checkpoint prefix (``.../ckpt-600``).

    Returns:
      The step as an int, or None.
    """
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError):
        return None
    for key in STEP_KEYS:
        if reader.has_tensor(key):
            value = reader.get_tensor(key)
            try:
                return int(value)
            except (TypeError, ValueError):
                continue
    return None


def export_version(checkpoint_prefix, version=None):
    """The version number an export of ``checkpoint_prefix`` gets.

    Args:
      checkpoint_prefix: the checkpoint the weights come from.
      version: the user's --version, or None for the checkpoint's own step.

    Returns:
      ``version`` when given, else the checkpoint's global step.

    Raises:
      ConfigError: ``version`` is not a whole number >= 0, or the checkpoint holds no
        step and no ``version`` was given.
    """
    if version is not None:
        if isinstance(version, bool) or not str(version).isdigit():
            raise ConfigError(f'--version must be a whole number >= 0 (TF Serving loads '
                              f'numbered folders), got {version!r}.')
        return int(version)
    step = checkpoint_step(checkpoint_prefix)
    if step is None:
        raise ConfigError(
            f'The checkpoint {checkpoint_prefix!r} holds no global step, so its export has '
            'no version number (exports are numbered by training step). Give one with '
            f'--version N, e.g. --version {_number_in(checkpoint_prefix) or 1}.')
    return step


def _number_in(prefix):
    step = step_in_name(prefix)
    return None if step is None else str(step)
