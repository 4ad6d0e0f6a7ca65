"""Per-scope batch-norm mode: batch norm inside a frozen scope runs in inference mode.

Slim nets set ``is_training`` for every batch norm at once. Inside
``compat.inference_batch_norms(is_frozen)`` each slim batch norm checks its own
``<scope>/moving_mean`` against the freeze rules and, when frozen, runs in inference
mode, so its moving mean and variance stay exactly as restored. That covers batch norms
a net calls directly (resnet_v2's ``preact`` and ``postnorm``); ``frozen_bn_arg_scope``
covers those reached through an arg_scope's ``normalizer_fn`` that was bound to slim's
function before the substitution.
"""

import tf_slim as slim
from tf_slim.ops import arg_scope as arg_scope_lib

from jacktf.core import compat


def frozen_bn_arg_scope(base_arg_scope, is_frozen):
    """Returns ``base_arg_scope`` with its batch-norm normalizer made scope-aware.

    Args:
      base_arg_scope: the dict a slim arg_scope factory returns.
      is_frozen: predicate over a batch norm's moving_mean variable name; None keeps
        ``base_arg_scope`` as it is.
    """
    if is_frozen is None:
        return base_arg_scope
    bn_key = arg_scope_lib.arg_scope_func_key(slim.batch_norm)
    rewritten = {}
    for key, kwargs in base_arg_scope.items():
        kwargs = dict(kwargs)
        fn = kwargs.get('normalizer_fn')
        if fn is not None and arg_scope_lib.arg_scope_func_key(fn) == bn_key:
            kwargs['normalizer_fn'] = compat.scope_aware_batch_norm
        rewritten[key] = kwargs
    return rewritten
