"""The one place where jacktf adapts TensorFlow, tf-keras and tf-slim to each other.

TF-Slim is TF1 code. It runs in TF2 through
``tf.compat.v1.keras.utils.track_tf1_style_variables``, which exists only when
``tf.keras`` is the legacy Keras 2 (the ``tf-keras`` package). Two things are needed:

* ``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported;
* tf_slim's batch_norm imports ``tf_keras.legacy_tf_layers.normalization``, which
  tf-keras 2.16+ ships as ``tf_keras.src.legacy_tf_layers.normalization``.

``ensure()`` does both, once, and fails with instructions when TensorFlow was already
imported with Keras 3.

``seeded_dropout(seed)`` makes slim's dropout stateless for the network calls inside it,
and ``inference_batch_norms(is_frozen)`` puts the batch norms of frozen scopes in
inference mode, including those a net calls directly (see the functions).
"""

import contextlib
import importlib
import os
import sys
import threading
import zlib

_LEGACY_BN = 'tf_keras.legacy_tf_layers.normalization'
_LEGACY_BN_SRC = 'tf_keras.src.legacy_tf_layers.normalization'
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
    """Prepares TensorFlow for slim code. Safe to call many times.

    Raises:
      CompatError: TensorFlow was imported before jacktf with Keras 3 as tf.keras.
    """
    global _done
    if _done:
        return
    if 'tensorflow' not in sys.modules:
        os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    elif _keras3_already_loaded():
        raise CompatError(
            'TensorFlow was imported before jacktf with Keras 3 as tf.keras, but TF-Slim '
            'needs the legacy Keras 2 (tf-keras). Import jacktf before tensorflow, or set '
            'the environment variable TF_USE_LEGACY_KERAS=1 before Python starts.')
    os.environ['TF_USE_LEGACY_KERAS'] = '1'  # before tf.keras is first resolved
    if _LEGACY_BN not in sys.modules:
        try:
            sys.modules[_LEGACY_BN] = importlib.import_module(_LEGACY_BN_SRC)
        except ImportError:
            # Older tf-keras ships the public path itself.
            importlib.import_module(_LEGACY_BN)
    _done = True


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
