"""`jacktf lr-find`: the learning-rate range test from the warm-started weights.

The real train step (model, optimizer, freeze rules, multipliers) runs while the learning
rate grows exponentially; the loss-vs-rate plot and the suggestion are written beside
MODEL_DIR (or --output), and no checkpoint is written.
"""

import json
import os

from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(
        subparsers, 'lr-find', parents,
        help='learning-rate range test from the warm-started weights: plot and '
        'suggestion (writes no checkpoint)')
    common.add_gin_options(p, required=True)
    p.add_argument('--model_dir', help="overrides MODEL_DIR, where the PNG goes "
                   "(default: the recipe's)")
    p.add_argument('--start_lr', type=float, default=1e-7,
                   help='learning rate of the first step')
    p.add_argument('--end_lr', type=float, default=10.0,
                   help='learning rate of the last step')
    p.add_argument('--steps', type=common.positive_int, default=200,
                   help='steps of the sweep (it stops early when the loss blows up)')
    p.add_argument('--output', help='the PNG, a file or a folder (default: '
                   'MODEL_DIR/lr_find.png; a .json with the numbers goes beside it)')
    p.set_defaults(func=run)
    return p


def _warm_started(experiment, frozen):
    """Builds the model and restores CHECKPOINT_PATH into it (no report file)."""
    import logging
    from jacktf.core.restore import restore_from_checkpoint
    from jacktf.pretrained import resolve_checkpoint as resolve_pretrained
    model = experiment.model
    with experiment.strategy.scope():
        model.build()
    if experiment.checkpoint_path:
        restore_from_checkpoint(model, experiment.checkpoint_path,
                                exclude_scopes=experiment.checkpoint_exclude_scopes,
                                scope_map=experiment.scope_map, frozen=frozen,
                                resolve_uri=resolve_pretrained)
        return True
    logging.getLogger('jacktf').warning(
        'CHECKPOINT_PATH is None: the sweep starts from random weights.')
    return False


def run(args):
    from jacktf.app import runtime
    from jacktf.train import lr_finder, strategy as strategy_lib
    lr_finder.check_sweep(args.start_lr, args.end_lr, args.steps)
    experiment = runtime.experiment_from_gin(args.gin_file, args.gin_param, args.model_dir)
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
    result = lr_finder.find_learning_rate(
        model, trainer, iter(data), global_batch=experiment.batch_size, strategy=strategy,
        start_lr=args.start_lr, end_lr=args.end_lr, num_steps=args.steps,
        seed=experiment.seed or 0, warm_started=warm)
    path = common.output_png(experiment, args.output, 'lr_find.png')
    lr_finder.plot(result, path, title=f'{model.backbone_name} + {model.head_name}, '
                   f'batch {experiment.batch_size}: learning-rate range test')
    with open(os.path.splitext(path)[0] + '.json', 'w') as f:
        json.dump(result.to_dict(), f, indent=1)
    print(f'Swept {len(result.losses)} steps from {args.start_lr:g}: {result.reason}.')
    if result.suggestion is None:
        print('No suggestion: the loss never fell. Lower --start_lr, or check the data '
              f'and the model. Plot: {path}')
        return 1
    print(f'Lowest loss at learning rate {result.min_loss_lr:.3g}; the loss falls '
          f'fastest at {result.suggestion:.3g}.')
    print(f'Suggested: LEARNING_RATE = {result.suggestion:.2g}   (plot: {path})')
    return 0
