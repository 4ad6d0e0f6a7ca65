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
    p.add_argument('--mode', choices=['train_and_eval', 'train', 'eval', 'continuous_eval'],
                   default='train_and_eval', help="what to run; continuous_eval follows a "
                   "training run's checkpoints (a sidecar evaluator)")
    p.add_argument('--force_unlock', action='store_true',
                   help="take over MODEL_DIR's writer lock (train.lock) from a live or "
                   'remote holder')
    p.add_argument('--eval_timeout', type=float, default=3600,
                   help='continuous_eval: seconds without a new checkpoint before it stops')
    p.add_argument('--export', action='append', metavar='FORMAT',
                   help='at the end of training also write and verify these formats, as '
                   '`jacktf export` does: tflite:VARIANTS (e.g. tflite:int8 or '
                   'tflite:float,int8) or onnx; repeat for more (default: none)')
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.commands import export
    from jacktf.core import runtime
    variants, onnx = export.parse_targets(args.export)  # a bad value fails before training
    runtime.train(args.gin_file, args.gin_param, args.model_dir, args.mode,
                  force_unlock=args.force_unlock, eval_timeout=args.eval_timeout)
    if not (variants or onnx):
        return 0
    from jacktf.serve import deploy
    experiment = common.experiment_for(args.model_dir, args.gin_file, args.gin_param)
    return export.report(deploy.export_run(experiment, tflite_variants=variants,
                                           onnx=onnx))
