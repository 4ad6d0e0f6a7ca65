"""The built-in optional callbacks, registered like a third party's."""

import jacktf
from jacktf.train.callbacks.early_stopping import EarlyStopping


@jacktf.hookimpl
def jacktf_register_callbacks(registry):
    """Adds early_stopping (``Trainer.callbacks = [@early_stopping()]``)."""
    registry.callback('early_stopping', EarlyStopping)
