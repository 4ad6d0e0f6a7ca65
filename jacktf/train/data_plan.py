"""What a training run knows of its data before the first step: the example counts,
the length of an epoch, and so the run's length in steps and its class weights.

Counts are read from dataset.json for free; a counting pass over TRAIN_FILES runs only
when the run needs the counts (TRAIN_EPOCHS, stages or evaluation in epochs,
class_weight 'balanced', balanced sampling). See jacktf.data.counts.
"""

import collections
import logging
import math

from jacktf.core import multilabel_loss
from jacktf.core.errors import ConfigError, DataError
from jacktf.data import counts as counts_lib, pipeline, sampling
from jacktf.train.balance import BALANCED

log = logging.getLogger('jacktf')
DataPlan = collections.namedtuple('DataPlan', 'train eval steps_per_epoch')
DataPlan.__doc__ = """train / eval: ExampleCounts (None when unknown); steps_per_epoch:
optimizer steps in one pass over the training examples (None when unknown)."""


def needs_counts(inputs, trainer, callbacks=()):
    """True when the run cannot start without the training set's class counts
    (``callbacks``: a callback with ``needs_epoch_length`` true counts in epochs)."""
    return trainer.needs_epoch_length or trainer.class_weight == BALANCED or \
        bool(getattr(inputs, 'sampling', None)) or \
        any(getattr(c, 'needs_epoch_length', False) for c in callbacks)


def steps_per_epoch(examples, batch_size, accumulate_steps=1):
    """ceil(examples / (batch_size * accumulate_steps)): the optimizer steps that read
    one pass over ``examples`` (the last batch of an epoch may take a few examples of
    the next pass: the training input repeats without a break)."""
    return max(1, math.ceil(examples / (batch_size * accumulate_steps)))


def prepare(experiment, model, trainer, callbacks=()):
    """Counts what the run needs and resolves ``trainer`` (length, stages, weights).

    ``experiment``: what the run reads (train_files, eval_files, decode_fn, batch_size,
    sampling: the Experiment or a RunInputs); ``callbacks``: the run's callbacks (an
    evaluation interval in epochs needs the counts too).

    Returns:
      The run's DataPlan.

    Raises:
      DataError / ConfigError: from counting, or bad class weights.
    """
    num_classes = model.num_classes
    if getattr(model, 'multi_label', False):
        multilabel_checks(experiment, model, trainer)
    elif getattr(model, 'pos_weight', None) is not None:
        raise ConfigError('Model.pos_weight applies to multi-label models only (Model.head '
                          '= @multilabel_logits); for one label per image use '
                          'Trainer.class_weight.')
    balanced_pos = getattr(model, 'pos_weight', None) == BALANCED
    if needs_counts(experiment, trainer, callbacks) or balanced_pos:
        train = counts_lib.example_counts(experiment.train_files, experiment.decode_fn,
                                          num_classes)
    else:
        train = counts_lib.from_dataset_json(pipeline.list_files(experiment.train_files),
                                             num_classes)
    eval_ = None
    if experiment.eval_files:
        try:
            eval_ = counts_lib.from_dataset_json(
                pipeline.list_files(experiment.eval_files), num_classes)
        except DataError:
            eval_ = None
    spe = steps_per_epoch(train.total, experiment.batch_size, trainer.accumulate_steps) \
        if train else None
    if balanced_pos:
        model.pos_weight = multilabel_loss.balanced_pos_weight(train.per_class, train.total)
        log.info('Balanced positive weights per label (negatives / positives): %s.',
                 counts_lib.short_list([round(w, 3) for w in model.pos_weight]))
    names = pipeline.labels_for(experiment.train_files)
    trainer.resolve(spe, train.per_class if train else None, names, num_classes)
    if getattr(experiment, 'sampling', None):
        if trainer.class_weight is not None:
            log.warning('Experiment.sampling = %r and Trainer.class_weight = %r both '
                        'rebalance the classes: the rare classes then count twice over. '
                        'Use one of them.', experiment.sampling, trainer.class_weight)
        log.info('Balanced sampling: keeps each record of a class with probability %s '
                 '(%.0f%% of the records read reach training).',
                 counts_lib.short_list([round(a, 3) for a in
                                    sampling.acceptance(train.per_class)]),
                 100 * sampling.kept_fraction(train.per_class))
    return DataPlan(train, eval_, spe)


def multilabel_checks(experiment, model, trainer):
    """A multi-label run has a multi-label decoder and no per-class rebalancing.

    Raises:
      ConfigError: naming the setting that does not apply and what to use instead.
    """
    if not getattr(experiment.decode_fn, 'multi_label', False):
        raise ConfigError(
            f'The model is multi-label (Model.head = @{model.head_name}) but the decoder '
            f'{experiment.decoder_name!r} gives one label per image. Set '
            "Experiment.decoder = 'tfexample_multilabel' (records written by `jacktf "
            'convert --labels_csv`), or use Model.head = @logits.')
    if trainer.class_weight is not None:
        raise ConfigError(
            f'Trainer.class_weight = {trainer.class_weight!r} does not apply to a '
            'multi-label model (an image has several classes). Weigh each label\'s '
            "positives instead: Model.pos_weight = 'balanced' (negatives / positives "
            'per label) or a list of K weights.')
    if getattr(experiment, 'sampling', None):
        raise ConfigError(
            f'Experiment.sampling = {experiment.sampling!r} does not apply to a '
            'multi-label model (an image has several classes). Use Model.pos_weight = '
            "'balanced' instead.")


def describe(plan, trainer, sampling=None):
    """The start line's part about the data: counts, steps per epoch, epochs, class
    balance."""
    def count(c):
        if c is None:
            return 'not counted (no dataset.json)'
        where = 'dataset.json' if c.source != 'counted' else 'counted'
        return f'{c.total} ({where})'
    text = f'train examples {count(plan.train)}'
    if plan.eval is not None:
        text += f', eval examples {count(plan.eval)}'
    if plan.steps_per_epoch:
        text += f', {plan.steps_per_epoch} steps per epoch'
        if trainer.train_steps:
            text += f' ({trainer.train_steps / plan.steps_per_epoch:.3g} epochs)'
    if trainer.class_weights is not None:
        text += ', class weights [' + ', '.join(f'{w:.3g}' for w in
                                                trainer.class_weights[:10]) + \
            (', ...]' if len(trainer.class_weights) > 10 else ']')
    if sampling:
        text += f', {sampling} sampling'
    found = counts_lib.near_duplicates(plan.train.source) \
        if plan.train is not None and plan.train.source != 'counted' else None
    if found:
        text += (f", near-duplicates {found['groups']} groups ({found['conflicts']} across "
                 f"classes, {found['leaks']} across splits)")
    return text
