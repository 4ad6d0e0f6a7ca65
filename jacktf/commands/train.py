"""`jacktf train`: what `python -m jacktf.run` does, with the same options."""

import argparse

from jacktf.commands import common
from jacktf.train import seeding


def add_parser(subparsers, parents):
    p = common.add_command(
        subparsers, 'train', parents,
        help='train (and evaluate) from gin recipes, as `python -m jacktf.run` does, '
        'from any folder')
    common.add_gin_options(p, required=True)
    p.add_argument('--model_dir',
                   help="overrides MODEL_DIR of the recipe (default: the recipe's)")
    p.add_argument('--mode', choices=['train_and_eval', 'train', 'eval', 'continuous_eval'],
                   default='train_and_eval', help="what to run; continuous_eval follows a "
                   "training run's checkpoints (a sidecar evaluator)")
    p.add_argument('--force_unlock', action='store_true',
                   help="take over MODEL_DIR's writer lock (train.lock) from a live or "
                   'remote holder')
    p.add_argument('--eval_timeout', type=float, default=3600,
                   help='continuous_eval: seconds without a new checkpoint before it stops')
    p.add_argument('--seed', type=seeding.parse_seed, default=argparse.SUPPRESS,
                   help="the run's seed (default: the recipe's Experiment.seed, 0): data "
                   "order, augmentation, head initialization, dropout; 'none' for a "
                   'fresh seed each run')
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.core import runtime
    params = list(args.gin_param or ())
    if hasattr(args, 'seed'):
        params.append(seeding.seed_binding(args.seed))
    runtime.train(args.gin_file, params, args.model_dir, args.mode,
                  force_unlock=args.force_unlock, eval_timeout=args.eval_timeout)
    return 0
