"""Substitutes for two tf_slim layers (part of ``compat``): dropout whose masks survive
a resume (``seeded_dropout``) and batch norm that runs in inference mode inside frozen
scopes (``inference_batch_norms``). Each is pointed at once, in every tf_slim alias the
nets use, and keeps honouring slim arg_scopes.
"""

import contextlib
import sys
import threading
import zlib


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


def dropout_seed(name):
    """The stateless seed (int64 [2]) of the random layer ``name`` inside a
    ``seeded_dropout`` block, or None outside one (for slim-style random layers that are
    not slim.dropout, such as NASNet's drop path)."""
    seed = _innermost(_dropout_seeds)
    if seed is None:
        return None
    import tensorflow as tf
    return tf.random.experimental.stateless_fold_in(
        tf.cast(seed, tf.int64), zlib.crc32(name.encode()) & 0x7fffffff)


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
