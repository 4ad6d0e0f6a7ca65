"""`jacktf lr-find` and `jacktf show-batch`: look at a configuration before training.

Only the parsers are defined at import time; TensorFlow is imported inside the
commands, so `jacktf --help` stays fast.
"""

import json
import os

from jacktf.core import runtime


def _png_path(experiment, output, name):
    path = output or os.path.join(experiment.model_dir, name)
    if os.path.isdir(path):
        path = os.path.join(path, name)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return path


def _warm_started(experiment, frozen):
    """Builds the model and restores CHECKPOINT_PATH into it (no report file)."""
    import logging
    from jacktf.core.restore import restore_from_checkpoint
    model = experiment.model
    with experiment.strategy.scope():
        model.build()
    if experiment.checkpoint_path:
        restore_from_checkpoint(model, experiment.checkpoint_path,
                                exclude_scopes=experiment.checkpoint_exclude_scopes,
                                scope_map=experiment.scope_map, frozen=frozen)
        return True
    logging.getLogger('jacktf').warning(
        'CHECKPOINT_PATH is None: the sweep starts from random weights.')
    return False


def cmd_lr_find(args):
    from jacktf.train import lr_finder, strategy as strategy_lib
    lr_finder.check_sweep(args.start_lr, args.end_lr, args.steps)
    experiment = runtime.experiment_from_gin(args.gin_file, args.gin_param, args.model_dir)
    experiment.check_input('train')
    model, trainer, strategy = experiment.model, experiment.trainer, experiment.strategy
    strategy_lib.configure_precision(model.precision)
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
    path = _png_path(experiment, args.output, 'lr_find.png')
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


def cmd_show_batch(args):
    from jacktf.train.callbacks import preview
    experiment = runtime.experiment_from_gin(args.gin_file, args.gin_param, args.model_dir)
    experiment.check_input('train')
    path = _png_path(experiment, args.output, 'batch_preview.png')
    info = preview.write_preview(experiment, path, max_images=args.count)
    print(f"Wrote {path}: {info['images']} training images of the first batch after "
          f"preprocessing{' and augmentation' if info['augmented'] else ''} "
          f"({info['size']}x{info['size']} pixels each, {info['preprocessing']} "
          'preprocessing undone for viewing).')
    return 0


def _at_least_one(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number of 1 or more')
    return value


def _recipe_args(p):
    p.add_argument('--gin_file', action='append', required=True,
                   help='recipe(s): a path, or a shipped recipe such as gin/demo.gin')
    p.add_argument('--gin_param', action='append', default=[], help='gin bindings')
    p.add_argument('--model_dir', help='overrides MODEL_DIR (where the PNG goes)')


def add_parsers(sub):
    """Adds lr-find and show-batch to the `jacktf` subcommands."""
    p = sub.add_parser('lr-find', help='learning-rate range test from the warm-started '
                       'weights: plot and suggestion (writes no checkpoint)')
    _recipe_args(p)
    p.add_argument('--start_lr', type=float, default=1e-7, help='default 1e-7')
    p.add_argument('--end_lr', type=float, default=10.0, help='default 10')
    p.add_argument('--steps', type=_at_least_one, default=200,
                   help='steps of the sweep (it stops early when the loss blows up)')
    p.add_argument('--output', help='the PNG (default MODEL_DIR/lr_find.png; a .json '
                   'with the numbers goes beside it)')
    p.set_defaults(func=cmd_lr_find)
    p = sub.add_parser('show-batch', help='the first training batch after '
                       'preprocessing and augmentation, as a labelled grid PNG')
    _recipe_args(p)
    p.add_argument('--count', type=_at_least_one, default=32,
                   help='images shown, at most a batch (default 32)')
    p.add_argument('--output', help='the PNG (default MODEL_DIR/batch_preview.png)')
    p.set_defaults(func=cmd_show_batch)
