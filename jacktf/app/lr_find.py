"""The learning-rate range test of a run, wired: `jacktf lr-find` and
``Learner.lr_find`` both call :func:`sweep` (jacktf.train.lr_finder holds the test)."""

import logging

log = logging.getLogger('jacktf')


def _warm_started(experiment, frozen):
    """Restores CHECKPOINT_PATH into the built model (no report file); whether it did."""
    from jacktf.core.restore import restore_from_checkpoint
    from jacktf.pretrained import resolve_checkpoint as resolve_pretrained
    if experiment.checkpoint_path:
        restore_from_checkpoint(experiment.model, experiment.checkpoint_path,
                                exclude_scopes=experiment.checkpoint_exclude_scopes,
                                scope_map=experiment.scope_map, frozen=frozen,
                                resolve_uri=resolve_pretrained)
        return True
    log.warning('CHECKPOINT_PATH is None: the sweep starts from random weights.')
    return False


def sweep(experiment, *, start_lr=1e-7, end_lr=10.0, steps=200):
    """The range test from the run's warm-started weights (CHECKPOINT_PATH), with the
    real train step of its first stage on TRAIN_FILES. The experiment's model weights
    are changed by the sweep; nothing is written.

    Returns:
      A jacktf.train.lr_finder.SweepResult.

    Raises:
      ConfigError: a bad sweep (start_lr, end_lr, steps); DataError: bad TRAIN_FILES.
    """
    from jacktf.train import lr_finder, strategy as strategy_lib
    lr_finder.check_sweep(start_lr, end_lr, steps)
    experiment.check_input('train')
    model, trainer, strategy = experiment.model, experiment.trainer, experiment.strategy
    model.precision, _ = strategy_lib.configure_precision(model.precision)
    strategy_lib.configure_seed(experiment.seed, experiment.deterministic)
    with strategy.scope():
        model.build()
    _, frozen = trainer.for_stage(0).split_variables(model)
    warm = _warm_started(experiment, frozen)
    per_replica = experiment.batch_size // strategy.num_replicas_in_sync
    data = strategy.distribute_datasets_from_function(
        lambda ctx: experiment.dataset(experiment.train_files, training=True,
                                       input_context=ctx, batch_size=per_replica))
    return lr_finder.find_learning_rate(
        model, trainer, iter(data), global_batch=experiment.batch_size, strategy=strategy,
        start_lr=start_lr, end_lr=end_lr, num_steps=steps, seed=experiment.seed or 0,
        warm_started=warm)


def title(experiment):
    """The plot's title: 'mobilenet_v1_025 + logits, batch 32: learning-rate range test'."""
    model = experiment.model
    return (f'{model.backbone_name} + {model.head_name}, batch {experiment.batch_size}: '
            'learning-rate range test')
