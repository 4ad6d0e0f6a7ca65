"""jacktf: fine-tune image classifiers from the official TF-Slim ImageNet checkpoints.

Public names: ``Learner`` (the Python API: train, evaluate, predict and export from a
notebook or script), ``hookimpl`` (for plugins), ``Callback`` (the base class of
training callbacks), ``build_model``, ``restore_from_checkpoint``, ``load_registry``,
``BackboneCard``, ``PreprocessingCard`` (with its ``Geometry`` and ``Normalization``)
and the error classes. Importing jacktf loads only its core; the others load on first
use.
"""

import pluggy

from jacktf.core import compat as _compat

_compat.ensure()

__version__ = '0.1.0'
hookimpl = pluggy.HookimplMarker('jacktf')

from jacktf.core.card import BackboneCard  # noqa: E402
from jacktf.core.errors import (  # noqa: E402
    ConfigError, DataError, DuplicatePluginError, JacktfError, PluginError, RestoreError,
    UnknownPluginError)


_CARD_NAMES = ('Geometry', 'Normalization', 'PreprocessingCard')


def load_registry(**kwargs):
    """A fresh Registry with the built-in and installed plugins (see core.plugins)."""
    from jacktf.core.plugins import load_registry as _load
    return _load(**kwargs)


def build_model(backbone, head='logits', num_classes=None, *, registry=None,
                image_size=None, preprocessing=None, precision='auto',
                head_kwargs=None, **backbone_kwargs):
    """Builds a Model from registered names, with its variables created.

    Args:
      backbone: a registered backbone name, e.g. 'resnet_v1_50'.
      head: a registered head name ('logits', 'native', ...).
      num_classes: classes of the head; for 'native' defaults to the official count.
      registry: a Registry; by default the built-in and installed plugins.
      image_size: input size; None uses the backbone card's default.
      preprocessing: a preprocessor name; None uses the card's default.
      precision: 'auto', 'float32', 'bfloat16' or 'float16'.
      head_kwargs: keyword arguments for the head function.
      **backbone_kwargs: keyword arguments for the network function.

    Returns:
      A jacktf.core.model.Model.
    """
    from jacktf.core.model import Model
    model = Model(backbone=backbone, head=head, num_classes=num_classes,
                  registry=registry, image_size=image_size, preprocessing=preprocessing,
                  precision=precision, backbone_kwargs=backbone_kwargs,
                  head_kwargs=head_kwargs)
    model.build()
    return model


def restore_from_checkpoint(model, checkpoint_path, exclude_scopes=(), scope_map=None,
                            **kwargs):
    """Restores ``model`` from a slim or jacktf checkpoint; returns the RestoreReport."""
    from jacktf.core.restore import restore_from_checkpoint as _restore
    from jacktf.pretrained import resolve_checkpoint
    kwargs.setdefault('resolve_uri', resolve_checkpoint)
    return _restore(model, checkpoint_path, exclude_scopes=exclude_scopes,
                    scope_map=scope_map, **kwargs)


def __getattr__(name):
    """``jacktf.Learner``, ``jacktf.Callback`` and the preprocessing card's classes,
    imported on first use (they import jacktf.app, jacktf.train or TensorFlow, which
    `jacktf --help` must not)."""
    if name == 'Callback':
        from jacktf.train.callbacks.base import Callback
        return Callback
    if name == 'Learner':  # the Python door: it imports every layer
        from jacktf.app.learner import Learner
        return Learner
    if name in _CARD_NAMES:
        from jacktf.core import preprocessing_card
        return getattr(preprocessing_card, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
