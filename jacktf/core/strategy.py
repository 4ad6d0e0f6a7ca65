"""Distribution strategies and numeric precision, chosen by name from the recipes.

strategy: 'default' (one device), 'mirrored' (all local GPUs, or the logical CPU devices
when there are none), 'multi_worker_mirrored' (workers from TF_CONFIG).
precision: 'float32'; 'bfloat16' (TensorFlow's oneDNN auto-mixed-precision rewrite: bf16
compute with float32 variables, fast on CPUs with AVX512_BF16/AMX); 'float16' (the
auto-mixed-precision rewrite for GPUs with dynamic loss scaling in the step).
Seeds and op determinism are process-wide settings too (``configure_seed``).
"""

import json
import os

import tensorflow as tf

from jacktf.core.errors import ConfigError

STRATEGIES = ('default', 'mirrored', 'multi_worker_mirrored')
PRECISIONS = ('float32', 'bfloat16', 'float16')


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
    """Seeds TensorFlow (and, when deterministic, Python and NumPy; deterministic ops)."""
    if deterministic:
        tf.config.experimental.enable_op_determinism()
        tf.keras.utils.set_random_seed(seed)
    elif seed is not None:
        tf.random.set_seed(seed)


def configure_precision(precision):
    """Sets TensorFlow's graph rewrites for ``precision`` (process-wide)."""
    if precision not in PRECISIONS:
        raise ConfigError(f'PRECISION must be one of {PRECISIONS}, got {precision!r}.')
    tf.config.optimizer.set_experimental_options({
        'auto_mixed_precision_onednn_bfloat16': precision == 'bfloat16',
        'auto_mixed_precision': precision == 'float16',
    })


def wrap_optimizer(optimizer, precision):
    """float16 training gets dynamic loss scaling."""
    if precision == 'float16':
        return tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer
