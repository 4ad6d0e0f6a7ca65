"""The one place where jacktf adapts TensorFlow, tf-keras and tf-slim to each other.

This module prepares the import (below); ``startup`` keeps TensorFlow's start-up noise
off the terminal and ``slim_layers`` substitutes two tf_slim layers. Their public names
are importable from here: ``from jacktf.core import compat; compat.seeded_dropout``.

TF-Slim is TF1 code. It runs in TF2 through
``tf.compat.v1.keras.utils.track_tf1_style_variables``, which exists only when
``tf.keras`` is the legacy Keras 2 (the ``tf-keras`` package). Two things are needed:

* ``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported;
* tf_slim's batch_norm imports ``tf_keras.legacy_tf_layers.normalization``, which
  tf-keras 2.16+ ships as ``tf_keras.src.legacy_tf_layers.normalization``.

``ensure()`` does both, once, and fails with instructions when TensorFlow was already
imported with Keras 3. It imports nothing heavy: the batch-norm module is aliased by an
import hook when tf_slim first asks for it, so ``import jacktf`` (and ``jacktf --help``)
stays fast.

``quiet_startup(verbose)`` keeps TensorFlow's start-up noise (the absl
"All log messages before absl::InitializeLog()" banner, printed once per TensorFlow
library, oneDNN and CPU-feature notes, "failed call to cuInit" on machines without a
GPU) off the terminal unless the user asks for verbose logs.

``seeded_dropout(seed)`` makes slim's dropout stateless for the network calls inside it,
and ``inference_batch_norms(is_frozen)`` puts the batch norms of frozen scopes in
inference mode, including those a net calls directly (see the functions).
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

from jacktf.core.compat.slim_layers import (  # noqa: F401  (compat's public names)
    dropout_seed, inference_batch_norms, scope_aware_batch_norm, seeded_dropout)
from jacktf.core.compat.startup import (  # noqa: F401
    STARTUP_NOISE, filtered_stderr, quiet_startup, verbose_requested)
from jacktf.core.compat import startup as _startup

_LEGACY_BN = 'tf_keras.legacy_tf_layers.normalization'
_LEGACY_BN_SRC = 'tf_keras.src.legacy_tf_layers.normalization'
_LEGACY_ALIASES = {'tf_keras.legacy_tf_layers': 'tf_keras.src.legacy_tf_layers',
                   _LEGACY_BN: _LEGACY_BN_SRC}
_done = False


class CompatError(RuntimeError):
    """TensorFlow was imported in a way jacktf cannot work with."""


def _keras_loaders(tf):
    """tf.keras and tf.compat.v1/v2.keras: lazy loaders until first use, then modules."""
    compat = vars(tf).get('compat')
    modules = [tf] + [getattr(compat, v, None) for v in ('v1', 'v2')] if compat else [tf]
    return [vars(m).get('keras') for m in modules if m is not None and
            vars(m).get('keras') is not None]


def _keras3_already_loaded():
    """True when tf.keras already resolved to Keras 3 in this process.

    TensorFlow resolves ``tf.keras`` lazily, on its first use, from TF_USE_LEGACY_KERAS:
    a process that imported TensorFlow but has not touched ``tf.keras`` yet can still
    get the legacy Keras 2 (``ensure`` then sets the variable).
    """
    tf = sys.modules.get('tensorflow')
    if tf is None:
        return False
    for loader in _keras_loaders(tf):
        if not vars(loader).get('_tfll_initialized', True):
            continue  # not resolved yet
        version = vars(loader).get('_tfll_keras_version')
        name = version or vars(loader).get('__name__', '') or ''
        if not str(name).startswith('tf_keras'):
            return True
    return False


def ensure():
    """Prepares TensorFlow for slim code without importing it. Safe to call many times.

    Raises:
      CompatError: TensorFlow was imported before jacktf with Keras 3 as tf.keras.
    """
    global _done
    if _done:
        return
    if 'tensorflow' not in sys.modules:
        _startup.set_default_log_level()
    elif _keras3_already_loaded():
        raise CompatError(
            'TensorFlow was imported before jacktf with Keras 3 as tf.keras, but TF-Slim '
            'needs the legacy Keras 2 (tf-keras). Import jacktf before tensorflow, or set '
            'the environment variable TF_USE_LEGACY_KERAS=1 before Python starts.')
    os.environ['TF_USE_LEGACY_KERAS'] = '1'  # before tf.keras is first resolved
    if _LEGACY_BN not in sys.modules and not _tf_keras_has_public_legacy_layers():
        sys.meta_path.insert(0, _LegacyLayersAlias())
    _done = True


def _tf_keras_has_public_legacy_layers():
    """True when tf-keras ships ``tf_keras/legacy_tf_layers`` itself (older releases),
    or is not installed (then tf_slim's own ImportError says so)."""
    spec = importlib.util.find_spec('tf_keras')  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        return True
    return any(os.path.isdir(os.path.join(location, 'legacy_tf_layers'))
               for location in spec.submodule_search_locations)


class _LegacyLayersAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``tf_keras.legacy_tf_layers[.normalization]`` (which tf_slim's batch norm
    imports through TensorFlow) as the very modules under ``tf_keras.src``, on first
    import: the same module objects, never a second copy."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _LEGACY_ALIASES:
            return None
        return importlib.util.spec_from_loader(
            fullname, self, is_package=fullname != _LEGACY_BN)

    def create_module(self, spec):
        return None  # the default module; exec_module replaces it in sys.modules

    def exec_module(self, module):
        sys.modules[module.__name__] = importlib.import_module(
            _LEGACY_ALIASES[module.__name__])


def eager_safe_arg_scope(arg_scope):
    """Drops ``variables_collections`` from a slim arg_scope dict.

    tf_slim adds a variable to a named collection with ``var not in collection``, which
    compares variables element-wise under eager execution and fails (the Inception arg
    scopes put batch-norm statistics in 'moving_vars'). Collections have no use in TF2,
    so the option is removed, also inside ``normalizer_params``.
    """
    cleaned = {}
    for key, kwargs in arg_scope.items():
        kwargs = {k: v for k, v in kwargs.items() if k != 'variables_collections'}
        params = kwargs.get('normalizer_params')
        if isinstance(params, dict) and 'variables_collections' in params:
            kwargs['normalizer_params'] = {k: v for k, v in params.items()
                                           if k != 'variables_collections'}
        cleaned[key] = kwargs
    return cleaned


def refresh_learning_rate(optimizer):
    """Recomputes a tf-keras optimizer's cached learning rate from its schedule.

    tf-keras optimizers cache the scheduled rate in a variable that is checkpointed and
    only refreshed during ``apply_gradients``; after a restore (or after changing a
    variable the schedule reads) the first step would use the stale value.
    """
    inner = getattr(optimizer, 'inner_optimizer', optimizer)
    cached = getattr(inner, '_current_learning_rate', None)
    schedule = getattr(inner, '_learning_rate', None)
    if cached is not None and callable(schedule):
        cached.assign(tf_cast_float(schedule(inner.iterations)))


def tf_cast_float(value):
    import tensorflow as tf
    return tf.cast(value, tf.float32)


def disable_op_determinism():
    """Turns TensorFlow's process-wide op determinism off again.

    TensorFlow exports ``tf.config.experimental.enable_op_determinism`` but keeps its
    counterpart private (``tensorflow.python.framework.config``); without it, one
    deterministic run in a process makes every later unseeded random op fail.
    """
    from tensorflow.python.framework import config as tf_config
    if tf_config.is_op_determinism_enabled():
        tf_config.disable_op_determinism()
