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


def run(args):
    from jacktf.app import lr_find, runtime
    from jacktf.train import lr_finder
    lr_finder.check_sweep(args.start_lr, args.end_lr, args.steps)
    experiment = runtime.experiment_from_gin(args.gin_file, args.gin_param, args.model_dir)
    result = lr_find.sweep(experiment, start_lr=args.start_lr, end_lr=args.end_lr,
                           steps=args.steps)
    path = common.output_png(experiment, args.output, 'lr_find.png')
    lr_finder.plot(result, path, title=lr_find.title(experiment))
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
