"""`jacktf calibrate`: calibrate the "unknown" answer of a checkpoint on EVAL_FILES (for
runs trained before jacktf calibrated at the end of training, or for another --keep or
--score); `jacktf export` then adds it to the export."""

from jacktf.commands import common

SCORES = ('energy', 'max_softmax', 'max_logit')  # jacktf.evaluation.unknown.SCORES


def _share(text):
    import argparse
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text!r} is not a share in (0, 1], e.g. 0.95')
    return value


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'calibrate', parents,
                           help='calibrate the "unknown" answer (an out-of-distribution '
                           'score and threshold) of a checkpoint on EVAL_FILES')
    p.add_argument('--model_dir', required=True, help='the MODEL_DIR of a training run')
    p.add_argument('--checkpoint', help='checkpoint prefix to calibrate (default: the run\'s '
                   'model: its best checkpoint when best-k kept one better than the latest, '
                   'else the latest)')
    p.add_argument('--keep', type=_share, help='share of the validation images the '
                   'threshold keeps (default: Experiment.unknown_keep, 0.95)')
    p.add_argument('--score', choices=SCORES, help='the out-of-distribution score '
                   '(default: Experiment.unknown_score, energy)')
    common.add_gin_options(p, required=False)
    p.add_argument('--json', action='store_true', help='print the calibration as JSON')
    p.set_defaults(func=run)
    return p


def run(args):
    import json
    from jacktf.app import unknown
    experiment = common.experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    result = unknown.calibrate_run(experiment, checkpoint=args.checkpoint, keep=args.keep,
                                   score=args.score)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    others = ', '.join(f'{kind} {value:.6g}' for kind, value in
                       result['thresholds'].items() if kind != result['score'])
    print(f"{result['checkpoint']}: {result['rule']} (keeps "
          f"{1 - result['validation_flagged']:.1%} of {result['validation_images']} "
          f"validation images; thresholds of the other scores: {others}) -> "
          f"{result['path']}")
    print(f'Export to use it: jacktf export --model_dir {args.model_dir} --overwrite')
    return 0
