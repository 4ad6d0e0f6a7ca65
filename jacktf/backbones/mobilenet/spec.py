"""The pieces a MobileNet spec is written with (research/slim's nets/mobilenet/
mobilenet.py exports them, and ``mobilenet`` still does): ``op`` (one layer),
``depth_multiplier`` and ``make_divisible`` (channel scaling), ``safe_arg_scope``,
``apply_activation``, and ``named_output``, which lists a block's intermediate tensors
as end_points ``layer_<i>/<name>`` (``mobilenet_base`` collects them).

The spec's arg_scope defaults are entered late-bound: a batch norm a spec names when it
is defined runs as whatever tf_slim's batch norm is when the net is built (jacktf's
scope-aware one for frozen scopes).
"""

import collections
import contextlib
import threading

import tensorflow as tf
import tf_slim as slim


@slim.add_arg_scope
def apply_activation(x, name=None, activation_fn=None):
    return activation_fn(x, name=name) if activation_fn else x


def make_divisible(v, divisor, min_value=None):
    """Rounds ``v`` to a multiple of ``divisor`` (at least ``min_value``), never below 90%."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


_make_divisible = make_divisible  # the official private name

# The tensors blocks name '*output' while a layer is built (see named_output).
_outputs = threading.local()


@contextlib.contextmanager
def _collecting_outputs():
    stack = getattr(_outputs, 'stack', None)
    if stack is None:
        stack = _outputs.stack = []
    found = []
    stack.append(found)
    try:
        yield found
    finally:
        stack.pop()


def named_output(tensor, name):
    """``tf.identity(tensor, name)``, listed as end_point ``layer_<i>/<name>`` by the builder.

    The official builder finds these by scanning the graph for ops named '*output';
    registering them works in eager mode as well.
    """
    out = tf.identity(tensor, name=name)
    stack = getattr(_outputs, 'stack', None)
    if stack:
        stack[-1].append((name, out))
    return out


def _current(fn):
    """The function tf_slim exports under ``fn``'s name now, if it stands in for ``fn``.

    Specs bind ``slim.batch_norm`` when they are defined; jacktf may later point tf_slim's
    batch norm at a scope-aware substitute (frozen scopes run in inference mode), which
    must apply to the specs' batch norms too.
    """
    key = getattr(fn, '_key_op', None)
    current = getattr(slim, getattr(fn, '__name__', ''), None)
    if key is not None and current is not fn and getattr(current, '_key_op', None) == key:
        return current
    return fn


def _late_bound(kwargs):
    kwargs = dict(kwargs)
    if kwargs.get('normalizer_fn') is not None:
        kwargs['normalizer_fn'] = _current(kwargs['normalizer_fn'])
    return kwargs


@contextlib.contextmanager
def _set_arg_scope_defaults(defaults):
    """Enters ``slim.arg_scope(funcs, **kwargs)`` for each (funcs, kwargs) of ``defaults``."""
    items = list(defaults.items()) if hasattr(defaults, 'items') else list(defaults)
    with contextlib.ExitStack() as stack:
        for funcs, kwargs in items:
            stack.enter_context(slim.arg_scope(funcs, **_late_bound(kwargs)))
        yield


@slim.add_arg_scope
def depth_multiplier(output_params, multiplier, divisible_by=8, min_depth=8,
                     **unused_kwargs):
    """Scales ``output_params['num_outputs']`` by ``multiplier``, rounded (in place)."""
    if 'num_outputs' not in output_params:
        return
    d = output_params['num_outputs']
    output_params['num_outputs'] = make_divisible(d * multiplier, divisible_by, min_depth)


_Op = collections.namedtuple('Op', ['op', 'params', 'multiplier_func'])


def op(opfunc, multiplier_func=depth_multiplier, **params):
    """One layer of a spec: ``opfunc(net, **params)``, depth scaled by ``multiplier_func``."""
    multiplier = params.pop('multiplier_transform', multiplier_func)
    return _Op(opfunc, params=params, multiplier_func=multiplier)


class NoOpScope(object):
    """No-op context manager."""

    def __enter__(self):
        return None

    def __exit__(self, exc_type, exc_value, traceback):
        return False


def safe_arg_scope(funcs, **kwargs):
    """``slim.arg_scope(funcs, **kwargs)`` without the None values (no-op if none left)."""
    filtered = {name: value for name, value in kwargs.items() if value is not None}
    if filtered:
        return slim.arg_scope(funcs, **filtered)
    return NoOpScope()
