"""The learning rate follows the global batch (timm's ``lr_base`` x batch / ``lr_base_size``).

A recipe states ``LEARNING_RATE`` for the batch it was tuned at (``Trainer.
reference_batch_size``, the recipe's ``BATCH_SIZE``). A run with another global batch
(BATCH_SIZE x Trainer.accumulate_steps; BATCH_SIZE is already split over the replicas)
scales it: linearly for SGD and momentum (Goyal et al., "ImageNet in 1 hour"), by the
square root for adaptive optimizers (Adam, AdamW, RMSProp, Adagrad), as timm's
``--lr-base-scale`` does. ``Trainer.lr_scaling = False`` (or no reference batch) keeps
the rate as given.
"""

import logging
import math

from jacktf.core.errors import ConfigError

log = logging.getLogger('jacktf')

LINEAR_OPTIMIZERS = ('momentum', 'sgd')
RULES = ('auto', 'linear', 'sqrt', True, False, None)


def check_rule(rule):
    """Raises ConfigError unless ``rule`` is one of RULES."""
    if rule not in RULES:
        raise ConfigError(f"Trainer.lr_scaling must be 'auto', 'linear', 'sqrt' or False, "
                          f'got {rule!r}.')


def rule_for(rule, optimizer_name):
    """'linear', 'sqrt' or None (no scaling) for ``rule`` and the optimizer's name."""
    if rule in (False, None):
        return None
    if rule in ('auto', True):
        return 'linear' if optimizer_name in LINEAR_OPTIMIZERS else 'sqrt'
    return rule


def factor(global_batch, reference_batch, rule):
    """The factor a rate tuned at ``reference_batch`` takes at ``global_batch``."""
    if not rule or not reference_batch or global_batch == reference_batch:
        return 1.0
    ratio = float(global_batch) / float(reference_batch)
    return ratio if rule == 'linear' else math.sqrt(ratio)


def optimizer_name(optimizer_factory):
    """The registered name of an optimizer factory (gin wrapper or plain function)."""
    entry = getattr(optimizer_factory, 'jacktf_entry', None)
    return entry.name if entry is not None else getattr(optimizer_factory, '__name__', '?')


def apply(trainer, global_batch):
    """Scales ``trainer.learning_rate`` and each stage's rate for ``global_batch``; logs
    one line with both numbers. Idempotent (the unscaled rates are kept).

    Returns:
      The factor applied (1.0 when scaling is off or the batch is the reference).
    """
    if not hasattr(trainer, 'unscaled_learning_rate'):
        trainer.unscaled_learning_rate = trainer.learning_rate
        for stage in trainer.stages:
            stage.unscaled_learning_rate = stage.learning_rate
    name = optimizer_name(trainer.optimizer_factory)
    rule = rule_for(trainer.lr_scaling, name)
    reference = trainer.reference_batch_size
    scale = factor(global_batch, reference, rule)
    trainer.learning_rate = trainer.unscaled_learning_rate * scale
    for stage in trainer.stages:
        if stage.unscaled_learning_rate is not None:
            stage.learning_rate = stage.unscaled_learning_rate * scale
    if scale != 1.0:
        log.info('Learning rate %.4g (the recipe\'s, for a batch of %d) -> %.4g for the '
                 'global batch of %d (%s scaling for %s; Trainer.lr_scaling = False keeps '
                 'the recipe\'s rate).', trainer.unscaled_learning_rate, reference,
                 trainer.learning_rate, global_batch, rule, name)
    return scale
