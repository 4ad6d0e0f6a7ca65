"""Hook specifications of the ``jacktf`` pluggy project.

Each hook receives a :class:`jacktf.core.registry.Registry` and calls its registrar
method for the kind (``registry.backbone(...)``, ``registry.head(...)``, ...). To add a
plugin, implement any of these with ``@jacktf.hookimpl`` in a module and expose that
module in the ``jacktf`` entry-point group of your distribution.
"""

import pluggy

hookspec = pluggy.HookspecMarker('jacktf')

KIND_HOOKS = {
    'backbone': 'jacktf_register_backbones',
    'head': 'jacktf_register_heads',
    'optimizer': 'jacktf_register_optimizers',
    'lr_schedule': 'jacktf_register_lr_schedules',
    'decoder': 'jacktf_register_decoders',
    'preprocessor': 'jacktf_register_preprocessors',
    'callback': 'jacktf_register_callbacks',
    'augmentation': 'jacktf_register_augmentations',
}


@hookspec
def jacktf_register_backbones(registry):
    """Registers backbones with ``registry.backbone(name, net_fn, ...)``."""


@hookspec
def jacktf_register_heads(registry):
    """Registers classification heads with ``registry.head(name, head_fn)``."""


@hookspec
def jacktf_register_optimizers(registry):
    """Registers optimizer factories with ``registry.optimizer(name, fn)``."""


@hookspec
def jacktf_register_lr_schedules(registry):
    """Registers learning-rate schedules with ``registry.lr_schedule(name, fn)``."""


@hookspec
def jacktf_register_decoders(registry):
    """Registers record decoders with ``registry.decoder(name, fn)``."""


@hookspec
def jacktf_register_preprocessors(registry):
    """Registers preprocessings with ``registry.preprocessor(name, card)``, ``card`` a
    ``jacktf.PreprocessingCard`` (see docs/guides/preprocessing.md)."""


@hookspec
def jacktf_register_callbacks(registry):
    """Registers training callbacks with ``registry.callback(name, factory)``."""


@hookspec
def jacktf_register_augmentations(registry):
    """Registers training augmentations with ``registry.augmentation(name, factory)``."""
