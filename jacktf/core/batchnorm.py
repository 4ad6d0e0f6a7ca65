"""Batch-norm settings that reach every slim batch norm, whatever the backbone.

``batch_norm_arg_scope(base, params)`` puts jacktf's ``Model.batch_norm_params`` (the
moving-average ``decay`` and the ``epsilon`` that every slim batch norm takes) on
``slim.batch_norm`` and into every batch-norm ``normalizer_params`` of a slim arg_scope,
so a recipe sets them once for any backbone, including one whose arg_scope factory has
no batch-norm options (a third-party plugin's ``arg_scope(weight_decay)``).

Per-scope batch-norm mode: batch norm inside a frozen scope runs in inference mode.
Slim nets set ``is_training`` for every batch norm at once. Inside
``compat.inference_batch_norms(is_frozen)`` each slim batch norm checks its own
``<scope>/moving_mean`` against the freeze rules and, when frozen, runs in inference
mode, so its moving mean and variance stay exactly as restored. That covers batch norms
a net calls directly (resnet_v2's ``preact`` and ``postnorm``); ``frozen_bn_arg_scope``
covers those reached through an arg_scope's ``normalizer_fn`` that was bound to slim's
function before the substitution.
"""

import difflib
import numbers

import tf_slim as slim
from tf_slim.ops import arg_scope as arg_scope_lib

from jacktf.core import compat
from jacktf.core.errors import ConfigError

#: The batch-norm options ``Model.batch_norm_params`` takes: every slim batch norm has
#: them, and they change no variable (so checkpoints still fit).
BATCH_NORM_PARAMS = ('decay', 'epsilon')


def check_batch_norm_params(params):
    """Validates ``Model.batch_norm_params``; returns it as a dict.

    Args:
      params: None or a dict with keys from BATCH_NORM_PARAMS: ``decay`` in (0, 1) (the
        moving averages' decay; lower settles faster in short runs) and ``epsilon`` > 0.

    Raises:
      ConfigError: not a dict, an unknown key, or a value out of range.
    """
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ConfigError(f'Model.batch_norm_params must be a dict such as '
                          f"{{'decay': 0.9, 'epsilon': 1e-3}}, got {params!r}.")
    for key, value in params.items():
        if key not in BATCH_NORM_PARAMS:
            close = difflib.get_close_matches(str(key).replace('batch_norm_', ''),
                                              BATCH_NORM_PARAMS, n=1, cutoff=0.5)
            hint = f' Did you mean {close[0]!r}?' if close else ''
            raise ConfigError(
                f'Model.batch_norm_params has {key!r}, which is not a batch-norm setting '
                f'jacktf applies to every backbone.{hint} It takes: '
                f'{", ".join(BATCH_NORM_PARAMS)}. Other options go through the '
                "backbone's arg_scope (Model.arg_scope_kwargs).")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f'Model.batch_norm_params[{key!r}] must be a number, got '
                              f'{value!r}.')
    decay = params.get('decay')
    if decay is not None and not 0 < decay < 1:
        raise ConfigError(f"Model.batch_norm_params['decay'] must be in (0, 1), got "
                          f'{decay!r} (slim nets default to 0.997; 0.9 suits short runs).')
    epsilon = params.get('epsilon')
    if epsilon is not None and not epsilon > 0:
        raise ConfigError(f"Model.batch_norm_params['epsilon'] must be > 0, got "
                          f'{epsilon!r} (e.g. 1e-3).')
    return {k: float(v) for k, v in params.items()}


def batch_norm_arg_scope(base_arg_scope, params):
    """Returns ``base_arg_scope`` with ``params`` forced onto every slim batch norm.

    ``params`` go on ``slim.batch_norm``'s own entry (batch norms called directly or
    through a ``normalizer_fn`` without ``normalizer_params``) and into every
    ``normalizer_params`` that feeds slim's batch norm (which slim passes explicitly,
    so they would win over the batch_norm entry).

    Args:
      base_arg_scope: the dict a slim arg_scope factory returns ({} for none).
      params: the checked ``Model.batch_norm_params``; empty keeps ``base_arg_scope``.
    """
    if not params:
        return base_arg_scope
    bn_key = arg_scope_lib.arg_scope_func_key(slim.batch_norm)
    rewritten = {}
    for key, kwargs in base_arg_scope.items():
        kwargs = dict(kwargs)
        fn = kwargs.get('normalizer_fn')
        normalizer = kwargs.get('normalizer_params')
        feeds_bn = fn is None or arg_scope_lib.arg_scope_func_key(fn) == bn_key
        if feeds_bn and isinstance(normalizer, dict):
            kwargs['normalizer_params'] = {**normalizer, **params}
        rewritten[key] = kwargs
    rewritten[bn_key] = {**rewritten.get(bn_key, {}), **params}
    return rewritten


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
