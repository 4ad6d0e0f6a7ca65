"""Trainer options that moved to the built-in callbacks they configure.

Each still works for one release: a value given to the Trainer configures the callback
(jacktf.train.callbacks.builtin_callbacks applies Trainer.callback_settings) and logs
one deprecation line naming the new binding.
"""

import logging

log = logging.getLogger('jacktf')
# The default of the deprecated options whose None is a value of its own (no periodic
# evaluation, keep every checkpoint): "not given" is told from a given None by it.
UNSET = object()

# Trainer options that configure one built-in callback each, and where they live now:
# {old Trainer option: (the callback's gin name, its option)}.
DEPRECATED_OPTIONS = {
    'log_every_steps': ('progress', 'every_steps'),
    'progress_bar': ('progress', 'bar'),
    'checkpoint_every_steps': ('periodic_checkpoints', 'every_steps'),
    'checkpoint_every_seconds': ('periodic_checkpoints', 'every_seconds'),
    'keep_best': ('best_k', 'keep'),
    'nan_retries': ('divergence_guard', 'retries'),
    'nan_lr_factor': ('divergence_guard', 'lr_factor'),
    'eval_every_steps': ('periodic_eval', 'every_steps'),
    'eval_every_epochs': ('periodic_eval', 'every_epochs'),
    'max_to_keep': ('periodic_checkpoints', 'max_to_keep'),
    'keep_checkpoint_every_n_hours': ('periodic_checkpoints', 'keep_every_n_hours'),
}
# Of those, the ones where a given None is passed on (the others' None is "not given").
NONE_IS_A_VALUE = ('eval_every_steps', 'eval_every_epochs', 'max_to_keep',
                   'keep_checkpoint_every_n_hours')


def deprecated_settings(given):
    """{callback name: {option: value}} of the deprecated Trainer options that were
    given (not UNSET; not None unless NONE_IS_A_VALUE), each logged once as a
    deprecation line naming its new binding."""
    settings = {}
    for old, value in given.items():
        if value is UNSET or (value is None and old not in NONE_IS_A_VALUE):
            continue
        name, option = DEPRECATED_OPTIONS[old]
        log.warning('Trainer.%s is deprecated: bind %s.%s = %r instead (the old name '
                    'still works in this release).', old, name, option, value)
        settings.setdefault(name, {})[option] = value
    return settings
