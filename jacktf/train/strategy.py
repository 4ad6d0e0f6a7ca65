"""Distribution strategies and numeric precision, chosen by name from the recipes.

strategy: 'default' (one device), 'mirrored' (all local GPUs, or the logical CPU devices
when there are none), 'multi_worker_mirrored' (workers from TF_CONFIG).
precision: 'auto' (bfloat16 where the device computes it natively and a probe shows it
faster, else float32: jacktf.core.precision); 'float32'; 'bfloat16' (TensorFlow's oneDNN auto-mixed-precision rewrite: bf16
compute with float32 variables, fast on CPUs with AVX512_BF16/AMX); 'float16' (grappler's
auto-mixed-precision rewrite, which casts the step's math to float16 on GPUs of compute
capability 7.0+, with dynamic loss scaling: ``wrap_optimizer`` makes the optimizer a
tf-keras ``LossScaleOptimizer``, and the train step scales the loss inside its gradient
tape and unscales the gradients after; a step whose gradients overflow is skipped and
the scale halved, the scale doubles after 2000 good steps, and its state is part of
every checkpoint). On a machine without such a GPU the float16 rewrite finds nothing to
run in float16 and changes nothing: the step computes in float32 (with the same loss
scaling, so training is correct but not faster); ``configure_precision`` says so in a
warning. Use 'bfloat16' for mixed precision on CPUs.
Seeds and op determinism are process-wide settings too (``configure_seed``).
"""

import json
import logging
import os

import tensorflow as tf

from jacktf.core import compat, precision as precision_lib
from jacktf.core.errors import ConfigError
from jacktf.core.model import PRECISIONS  # noqa: F401  (re-exported)

log = logging.getLogger('jacktf')
STRATEGIES = ('default', 'mirrored', 'multi_worker_mirrored')


def make_strategy(name='default'):
    if name not in STRATEGIES:
        raise ConfigError(f'strategy must be one of {STRATEGIES}, got {name!r}.')
    if name == 'default':
        return tf.distribute.get_strategy()
    if name == 'mirrored':
        gpus = tf.config.list_logical_devices('GPU')
        devices = [d.name for d in gpus] or [d.name for d in
                                             tf.config.list_logical_devices('CPU')]
        return tf.distribute.MirroredStrategy(devices=devices)
    if not os.environ.get('TF_CONFIG'):
        raise ConfigError("strategy 'multi_worker_mirrored' needs TF_CONFIG describing the "
                          'cluster and this worker (see the TensorFlow distribute guide).')
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief():
    """True on the worker that writes summaries, checkpoints and exports."""
    config = json.loads(os.environ.get('TF_CONFIG') or '{}')
    task = config.get('task', {})
    if not task:
        return True
    cluster = config.get('cluster', {})
    if task.get('type') == 'chief':
        return True
    return task.get('type') == 'worker' and task.get('index', 0) == 0 and \
        'chief' not in cluster


def configure_seed(seed, deterministic=False):
    """Seeds TensorFlow (and, when deterministic, Python and NumPy; deterministic ops).

    Op determinism is process-wide: a run that is not deterministic turns it off again,
    so an earlier deterministic run in the same process (a notebook, a test session)
    does not make its unseeded random ops fail.
    """
    if deterministic:
        tf.config.experimental.enable_op_determinism()
        tf.keras.utils.set_random_seed(seed)
        return
    compat.disable_op_determinism()
    if seed is not None:
        tf.random.set_seed(seed)


def configure_precision(precision, **device):
    """Sets TensorFlow's graph rewrites for ``precision`` (process-wide); 'auto' is
    resolved for the device first, and 'bfloat16' set by hand where it is slower than
    float32 gets one warning with the measured cost (jacktf.core.precision).

    ``device``: cpuinfo / gpus / probe for jacktf.core.precision (tests inject them).

    Returns:
      (the precision computed in, the start line's words for it).

    Raises:
      ConfigError: ``precision`` is not one of PRECISIONS.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f'PRECISION must be one of {PRECISIONS}, got {precision!r}.')
    requested = precision
    precision, note = precision_lib.resolve(precision, **device)
    warning = precision_lib.emulation_warning(requested, **device)
    if warning:
        log.warning(warning)
    if precision == 'float16' and not tf.config.list_logical_devices('GPU'):
        log.warning("PRECISION 'float16' without a GPU: TensorFlow's float16 rewrite runs "
                    'on GPUs only, so this run computes in float32 (with loss scaling). '
                    "Use PRECISION = 'bfloat16' for mixed precision on a CPU.")
    tf.config.optimizer.set_experimental_options({
        'auto_mixed_precision_onednn_bfloat16': precision == 'bfloat16',
        'auto_mixed_precision': precision == 'float16',
    })
    return precision, note


def wrap_optimizer(optimizer, precision):
    """float16 training gets dynamic loss scaling (a tf-keras LossScaleOptimizer).

    The train step must scale the loss inside its gradient tape
    (``optimizer.get_scaled_loss``) and unscale the gradients
    (``optimizer.get_unscaled_gradients``) before ``apply_gradients``.
    """
    if precision == 'float16':
        return tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer
