"""`jacktf train`: what `python -m jacktf.run` does, with the same options."""

from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(
        subparsers, 'train', parents,
        help='train (and evaluate) from gin recipes, as `python -m jacktf.run` does, '
        'from any folder')
    common.add_gin_options(p, required=True)
    p.add_argument('--model_dir',
                   help="overrides MODEL_DIR of the recipe (default: the recipe's)")
    p.add_argument('--mode', choices=['train_and_eval', 'train', 'eval'],
                   default='train_and_eval', help='what to run')
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.core import runtime
    runtime.train(args.gin_file, args.gin_param, args.model_dir, args.mode)
    return 0
