"""SlimNetwork: the Keras layer that runs a slim backbone and head in TF2.

``call`` runs the slim code under ``tf.compat.v1.keras.utils.track_tf1_style_variables``:
variables are created once by ``tf.compat.v1.get_variable`` with exactly slim's names
(``resnet_v1_50/conv1/weights``) and tracked by the layer, so checkpoints, optimizers and
tf.distribute see them. Also the check of ``Model.arg_scope_kwargs`` against the
backbone's arg_scope. jacktf.core.model.Model builds one.
"""

import contextlib
import difflib
import inspect

import tensorflow as tf
import tf_slim as slim

from jacktf.core import compat
from jacktf.core.batchnorm import batch_norm_arg_scope, frozen_bn_arg_scope
from jacktf.core.errors import ConfigError


def _is_batch_norm_option(key):
    """batch_norm_decay, bn_decay, batch_norm_epsilon, ...: not weight_decay."""
    key = key.lower()
    return key.startswith(('bn_', 'batch_norm')) or 'epsilon' in key or \
        ('decay' in key and 'weight' not in key)


def check_arg_scope_kwargs(backbone, arg_scope, kwargs):
    """Model.arg_scope_kwargs as a dict, every key one ``arg_scope`` takes.

    Raises:
      ConfigError: a key the backbone's arg_scope factory does not take (naming the
        backbone, the key and the keys it takes), or options for a backbone that has
        no arg_scope.
    """
    kwargs = dict(kwargs or {})
    if not kwargs:
        return kwargs
    if arg_scope is None:
        raise ConfigError(f'Model.arg_scope_kwargs {kwargs!r} given, but backbone '
                          f'{backbone!r} has no arg_scope. Remove Model.arg_scope_kwargs; '
                          'batch-norm settings go in Model.batch_norm_params.')
    try:
        params = inspect.signature(arg_scope).parameters
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return kwargs
    accepted = [n for n, p in params.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in kwargs if k not in accepted]
    if not unknown:
        return kwargs
    name = getattr(arg_scope, '__name__', 'arg_scope')
    lines = []
    for key in unknown:  # a batch-norm option is never "weight_decay misspelt"
        same_kind = [k for k in accepted if _is_batch_norm_option(k) ==
                     _is_batch_norm_option(key)]
        close = difflib.get_close_matches(key, same_kind, n=1, cutoff=0.5)
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        lines.append(f'{key!r}{hint}')
    bn = [k for k in unknown if _is_batch_norm_option(k)]
    bn_hint = (" For batch-norm decay and epsilon on any backbone use "
               "Model.batch_norm_params = {'decay': 0.9, 'epsilon': 1e-3}." if bn else '')
    raise ConfigError(
        f'Model.arg_scope_kwargs has {", ".join(lines)}, which backbone {backbone!r} '
        f'does not take: its arg_scope {name}() takes '
        f'{", ".join(accepted) or "no options"}. Use those keys or remove the others.'
        f'{bn_hint}')


class SlimNetwork(tf.keras.layers.Layer):
    """Keras layer running backbone + head as slim code; returns a dict of outputs."""

    def __init__(self, *, net_fn, head_fn, card, num_classes, native, backbone_kwargs,
                 head_kwargs, arg_scope_kwargs=None, batch_norm_params=None,
                 name='jacktf_network'):
        super().__init__(name=name)
        self._net_fn = net_fn
        self._head_fn = head_fn
        self._card = card
        self._num_classes = num_classes
        self._native = native
        self._backbone_kwargs = dict(backbone_kwargs or {})
        self._head_kwargs = dict(head_kwargs or {})
        self._arg_scope_kwargs = dict(arg_scope_kwargs or {})
        self._batch_norm_params = dict(batch_norm_params or {})
        self.bn_frozen = None  # predicate over moving_mean names; set before tracing
        # () -> the training step, for nets whose schedule reads it (NASNet's drop path
        # takes ``current_step``); the trainer sets it. A function, so Keras does not
        # track the step variable as a weight of the network.
        self.step_source = None
        try:
            self._takes_step = 'current_step' in inspect.signature(net_fn).parameters
        except (TypeError, ValueError):
            self._takes_step = False

    def _net_kwargs(self, training):
        kwargs = dict(self._backbone_kwargs)
        if training and self._takes_step and self.step_source is not None:
            kwargs.setdefault('current_step', self.step_source())
        return kwargs

    def _arg_scope(self):
        base = {}
        if self._card.arg_scope is not None:
            base = compat.eager_safe_arg_scope(
                self._card.arg_scope(**self._arg_scope_kwargs))
        base = batch_norm_arg_scope(base, self._batch_norm_params)
        if not base:
            return contextlib.nullcontext()
        return slim.arg_scope(frozen_bn_arg_scope(base, self.bn_frozen))

    def _head_arg_scope(self):
        """Heads run outside the backbone's arg_scope but get batch_norm_params."""
        if not self._batch_norm_params:
            return contextlib.nullcontext()
        return slim.arg_scope(batch_norm_arg_scope({}, self._batch_norm_params))

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, images, training=False, seed=None):
        with compat.seeded_dropout(seed if training else None), \
                compat.inference_batch_norms(self.bn_frozen):
            with self._arg_scope():
                if self._native:
                    logits, end_points = self._net_fn(
                        images, num_classes=self._num_classes, is_training=training,
                        **self._net_kwargs(training))
                    features = end_points.get(self._card.features_endpoint,
                                              end_points.get('global_pool'))
                else:
                    features, end_points = self._net_fn(
                        images, num_classes=None, is_training=training,
                        **self._net_kwargs(training))
            if not self._native:  # heads run outside the backbone's arg_scope
                with self._head_arg_scope():
                    logits = self._head_fn(features, num_classes=self._num_classes,
                                           is_training=training, **self._head_kwargs)
        if logits.shape.rank == 4:
            logits = tf.squeeze(logits, [1, 2])
        if features is not None and features.shape.rank == 4:
            features = tf.reduce_mean(features, [1, 2])
        return {'logits': logits, 'features': features, 'end_points': dict(end_points)}

    # The two halves of ``call`` for a separate head (not the native one), each under
    # the contexts ``call`` uses, on the same variables: the feature cache runs the
    # backbone once per example and the head on the cached features.
    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def backbone_features(self, images, training=False, seed=None):
        """Preprocessed images -> the tensor the head receives (e.g. [N, 1, 1, C])."""
        with compat.seeded_dropout(seed if training else None), \
                compat.inference_batch_norms(self.bn_frozen), self._arg_scope():
            features, _ = self._net_fn(images, num_classes=None, is_training=training,
                                       **self._net_kwargs(training))
        return features

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def head_logits(self, features, training=False, seed=None):
        """backbone_features' output -> logits [N, num_classes], as ``call`` computes."""
        with compat.seeded_dropout(seed if training else None), \
                compat.inference_batch_norms(self.bn_frozen), self._head_arg_scope():
            logits = self._head_fn(features, num_classes=self._num_classes,
                                   is_training=training, **self._head_kwargs)
        return tf.squeeze(logits, [1, 2]) if logits.shape.rank == 4 else logits
