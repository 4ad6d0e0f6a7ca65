"""Per-scope batch-norm mode: batch norm inside a frozen scope runs in inference mode.

Slim nets pass ``normalizer_fn=slim.batch_norm`` through their arg_scope and set
``is_training`` for every batch norm at once. ``frozen_bn_arg_scope`` rewrites a net's
arg_scope so that its normalizer is a thin wrapper that forces ``is_training=False``
when the batch norm's variable scope lies under one of the frozen rules; its moving mean
and variance then stay exactly as restored. Only batch norms reached through the
arg_scope's normalizer_fn are rewritten: the few a net calls directly (resnet_v2's
``preact`` and ``postnorm``) follow the net's is_training.
"""

import tensorflow as tf
import tf_slim as slim
from tf_slim.ops import arg_scope as arg_scope_lib



def _bn_scope_name(scope_name):
    current = tf.compat.v1.get_variable_scope().name
    return f'{current}/{scope_name}' if current else scope_name


def make_scoped_batch_norm(is_frozen):
    """A batch_norm in inference mode when ``is_frozen(<scope>/BatchNorm/moving_mean)``."""

    def scoped_batch_norm(inputs, *args, **kwargs):
        scope = kwargs.get('scope') or 'BatchNorm'
        if is_frozen(_bn_scope_name(scope) + '/moving_mean'):
            kwargs['is_training'] = False
        return slim.batch_norm(inputs, *args, **kwargs)

    return scoped_batch_norm


def frozen_bn_arg_scope(base_arg_scope, is_frozen):
    """Returns ``base_arg_scope`` with its batch-norm normalizer made scope-aware.

    Args:
      base_arg_scope: the dict a slim arg_scope factory returns.
      is_frozen: predicate over a batch norm's moving_mean variable name; None keeps
        ``base_arg_scope`` as it is.
    """
    if is_frozen is None:
        return base_arg_scope
    wrapper = make_scoped_batch_norm(is_frozen)
    bn_key = arg_scope_lib.arg_scope_func_key(slim.batch_norm)
    rewritten = {}
    for key, kwargs in base_arg_scope.items():
        kwargs = dict(kwargs)
        fn = kwargs.get('normalizer_fn')
        if fn is not None and arg_scope_lib.arg_scope_func_key(fn) == bn_key:
            kwargs['normalizer_fn'] = wrapper
        rewritten[key] = kwargs
    return rewritten
