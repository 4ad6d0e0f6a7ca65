"""`jacktf eval`: evaluate a checkpoint or a SavedModel of a run on EVAL_FILES, or on
DATA (a labelled folder, split folders, a CSV or TFRecord files)."""

from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'eval', parents,
                           help='evaluate a checkpoint or SavedModel on EVAL_FILES or DATA')
    p.add_argument('--model_dir', required=True, help='the MODEL_DIR of a training run')
    p.add_argument('data', nargs='?', metavar='DATA',
                   help='evaluate on this data instead of the run\'s EVAL_FILES: a folder '
                   'with one subfolder per class, split folders (their test/, else val/), a '
                   'CSV of path,label[,split] or TFRecord files (default: EVAL_FILES)')
    p.add_argument('--checkpoint', help='checkpoint prefix to evaluate (default: the '
                   'latest of the model directory)')
    p.add_argument('--saved_model', help='evaluate this SavedModel (or the newest in an '
                   'export folder or model directory) instead of a checkpoint '
                   '(default: a checkpoint)')
    common.add_gin_options(p, required=False)
    p.add_argument('--tta', nargs='?', const='flip', metavar='MODES',
                   help='also report test-time augmentation: flip, crops or flip,crops '
                   '(alone: flip; default: none)')
    p.add_argument('--top_losses', type=int, default=16, metavar='N',
                   help='most confidently wrong examples in top_losses.png/.csv (0: none)')
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.app import runtime
    if args.checkpoint and args.saved_model:
        runtime.fail('Give --checkpoint or --saved_model, not both: eval runs one of them.')
    experiment = common.experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    if args.data:
        from jacktf.app import eval_data
        eval_data.use_data(experiment, args.data)
    report = experiment.evaluate_latest(checkpoint=args.checkpoint,
                                        saved_model=args.saved_model, tta=args.tta,
                                        top_losses=args.top_losses)
    top_k = ''.join(f"  {key.replace('_accuracy', '')} {report[key]:.4f}" for key in report
                    if key.startswith('top_') and key != 'top_1_accuracy')  # K > 2 only
    print(f"top-1 {report['top_1_accuracy']:.4f}{top_k}  macro-F1 "
          f"{report['macro_f1']:.4f}  on {report['examples']} examples of "
          f"{report['source']} -> {report['report_path']}")
    if 'tta' in report:
        from jacktf.evaluation.report import format_tta
        print(format_tta(report))
    return 0
