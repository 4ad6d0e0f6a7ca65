"""The one place where jacktf adapts TensorFlow, tf-keras and tf-slim to each other.

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

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile
import threading
import zlib

_LEGACY_BN = 'tf_keras.legacy_tf_layers.normalization'
_LEGACY_BN_SRC = 'tf_keras.src.legacy_tf_layers.normalization'
_LEGACY_ALIASES = {'tf_keras.legacy_tf_layers': 'tf_keras.src.legacy_tf_layers',
                   _LEGACY_BN: _LEGACY_BN_SRC}
_done = False
_log_level_set_here = False


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
    global _done, _log_level_set_here
    if _done:
        return
    if 'tensorflow' not in sys.modules:
        if 'TF_CPP_MIN_LOG_LEVEL' not in os.environ and not verbose_requested():
            os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'
            _log_level_set_here = True
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


# Lines TensorFlow writes to stderr while it starts, whatever TF_CPP_MIN_LOG_LEVEL says.
STARTUP_NOISE = (
    'All log messages before absl::InitializeLog() is called',
    'oneDNN custom operations are on',
    'Could not find cuda drivers on your machine',
    'failed call to cuInit',
    'cpu_feature_guard.cc',
    'To enable the following instructions:',
    'Unable to register cuDNN factory',
    'Unable to register cuFFT factory',
    'Unable to register cuBLAS factory',
    'computation placer already registered',
    'TF-TRT Warning: Could not find TensorRT',
)


def verbose_requested():
    """True when the environment asks for TensorFlow's own logs (JACKTF_VERBOSE=1)."""
    return os.environ.get('JACKTF_VERBOSE', '').strip().lower() not in ('', '0', 'false',
                                                                        'no')


def quiet_startup(verbose=False):
    """Shows or hides TensorFlow's start-up noise; call before TensorFlow is imported.

    Quiet (the default): TF_CPP_MIN_LOG_LEVEL=2 unless the user set it, and the first
    ``import tensorflow`` (with the device discovery that prints "failed call to
    cuInit" on machines without a GPU) runs with the lines of ``STARTUP_NOISE``
    filtered out of stderr; every other line still reaches the terminal. Verbose
    (``verbose`` or JACKTF_VERBOSE=1): TensorFlow logs as it likes; JACKTF_VERBOSE=1
    is set for child processes.

    Args:
      verbose: the user asked for verbose logs (e.g. ``--verbose``).
    """
    global _log_level_set_here
    if verbose or verbose_requested():
        os.environ['JACKTF_VERBOSE'] = '1'
        if _log_level_set_here and 'tensorflow' not in sys.modules:
            os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None)
            _log_level_set_here = False
        return
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    if 'tensorflow' not in sys.modules and not any(
            isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


@contextlib.contextmanager
def filtered_stderr(noise=STARTUP_NOISE):
    """Within the block, file descriptor 2 (where TensorFlow's C++ code writes) goes to
    a temporary file; at its end the lines not containing a ``noise`` text are written
    back to stderr, in order."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode('utf-8', errors='replace')
            kept = [line for line in text.splitlines(keepends=True)
                    if not any(n in line for n in noise)]
            if kept:
                os.write(2, ''.join(kept).encode('utf-8'))


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Runs the first ``import tensorflow`` (and its device discovery) inside
    ``filtered_stderr``, then steps out of the import system."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'tensorflow':
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # resources, get_code, ...: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            self._loader.exec_module(module)
            module.config.list_physical_devices()  # cuInit and friends speak here


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


# Per-thread settings of the substituted slim layers (MirroredStrategy traces replicas in
# threads): the innermost ``with`` block's value wins.
_dropout_seeds = threading.local()
_bn_rules = threading.local()


@contextlib.contextmanager
def _pushed(local, value):
    stack = getattr(local, 'stack', None)
    if stack is None:
        stack = local.stack = []
    stack.append(value)
    try:
        yield
    finally:
        stack.pop()


def _innermost(local):
    stack = getattr(local, 'stack', None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def seeded_dropout(seed):
    """Within the block slim's dropout draws its mask from stateless random ops.

    slim.dropout uses stateful random ops whose state lives in the op kernels: it is not
    in any checkpoint, so a resumed run would repeat the masks of its first steps. Inside
    this block each dropout layer's mask is a function of ``seed`` (int [2], e.g. the run
    seed and the step) and of the layer's scope name, so it survives a resume. ``seed``
    None keeps slim's own dropout. The substitute honours slim arg_scopes on dropout.
    """
    _install_seeded_dropout()
    with _pushed(_dropout_seeds, seed):
        yield


_slim_dropout = None


def _substitute_slim_layer(name, replacement):
    """Points tf_slim's layer ``name`` (every alias the nets use) at ``replacement``.

    Returns slim's own function. ``replacement`` takes its arg_scope key, so
    ``arg_scope([slim.<name>], ...)`` written before or after still applies to it.
    """
    import tf_slim
    slim_layers = sys.modules['tf_slim.layers']
    slim_layers_impl = sys.modules['tf_slim.layers.layers']
    original = getattr(slim_layers_impl, name)
    replacement._key_op = original._key_op
    for module in (tf_slim, slim_layers, slim_layers_impl):
        if getattr(module, name, None) is original:
            setattr(module, name, replacement)
    return original


def _install_seeded_dropout():
    """Points tf_slim's dropout at ``_dropout``, once."""
    global _slim_dropout
    if _slim_dropout is None:
        _slim_dropout = _substitute_slim_layer('dropout', _dropout)


def _dropout(inputs, *args, **kwargs):
    seed = _innermost(_dropout_seeds)
    if seed is None:
        return _slim_dropout(inputs, *args, **kwargs)
    import tensorflow as tf
    from tf_slim.layers import utils
    from tf_slim.ops import arg_scope as arg_scope_lib
    names = ('keep_prob', 'noise_shape', 'is_training', 'outputs_collections', 'scope',
             'seed')
    params = {'keep_prob': 0.5, 'noise_shape': None, 'is_training': True,
              'outputs_collections': None, 'scope': None}
    params.update(arg_scope_lib.current_arg_scope().get(_dropout._key_op, {}))
    params.update(zip(names, args))
    params.update(kwargs)
    with tf.compat.v1.variable_scope(params['scope'], 'Dropout', [inputs]) as sc:
        inputs = tf.convert_to_tensor(inputs)
        layer_seed = tf.random.experimental.stateless_fold_in(
            tf.cast(seed, tf.int64), zlib.crc32(sc.name.encode()) & 0x7fffffff)

        def drop():
            return tf.nn.experimental.stateless_dropout(
                inputs, rate=1.0 - params['keep_prob'], seed=layer_seed,
                noise_shape=params['noise_shape'])

        training = params['is_training']
        if isinstance(training, bool):
            outputs = drop() if training else tf.identity(inputs)
        else:
            outputs = tf.cond(tf.cast(training, tf.bool), drop, lambda: tf.identity(inputs))
        return utils.collect_named_outputs(params['outputs_collections'], sc.name, outputs)


_slim_batch_norm = None


@contextlib.contextmanager
def inference_batch_norms(is_frozen):
    """Within the block, slim batch norms of frozen scopes run in inference mode.

    ``is_frozen`` is a predicate over a batch norm's ``<scope>/moving_mean`` variable
    name; None leaves every batch norm as the net sets it. Most nets reach batch norm
    through their arg_scope's ``normalizer_fn`` (which ``core.batchnorm`` points here),
    but some call ``slim.batch_norm`` directly (resnet_v2's ``preact`` and
    ``postnorm``), so slim's function itself is substituted, once.
    """
    global _slim_batch_norm
    if _slim_batch_norm is None:
        _slim_batch_norm = _substitute_slim_layer('batch_norm', scope_aware_batch_norm)
    with _pushed(_bn_rules, is_frozen):
        yield


def scope_aware_batch_norm(inputs, *args, **kwargs):
    """slim.batch_norm, forced to ``is_training=False`` in a frozen scope (see above)."""
    import tensorflow as tf
    is_frozen = _innermost(_bn_rules)
    if is_frozen is not None:
        current = tf.compat.v1.get_variable_scope().name
        scope = kwargs.get('scope') or 'BatchNorm'
        if is_frozen(f'{current}/{scope}/moving_mean' if current else
                     f'{scope}/moving_mean'):
            kwargs['is_training'] = False
    original = _slim_batch_norm
    if original is None:
        import tf_slim
        original = tf_slim.batch_norm
    return original(inputs, *args, **kwargs)
