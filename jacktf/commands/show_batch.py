"""`jacktf show-batch`: the first training batch after preprocessing and augmentation,
mapped back to viewable pixels, as a labelled grid PNG (no training)."""

from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(
        subparsers, 'show-batch', parents,
        help='the first training batch after preprocessing and augmentation, as a '
        'labelled grid PNG')
    common.add_gin_options(p, required=True)
    p.add_argument('--model_dir', help="overrides MODEL_DIR, where the PNG goes "
                   "(default: the recipe's)")
    p.add_argument('--count', type=common.positive_int, default=32,
                   help='images shown, at most a batch')
    p.add_argument('--output', help='the PNG, a file or a folder (default: '
                   'MODEL_DIR/batch_preview.png)')
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.app import runtime
    from jacktf.train.callbacks import preview
    experiment = runtime.experiment_from_gin(args.gin_file, args.gin_param, args.model_dir)
    experiment.check_input('train')
    path = common.output_png(experiment, args.output, 'batch_preview.png')
    info = preview.write_preview(experiment, experiment.model, path, max_images=args.count)
    print(f"Wrote {path}: {info['images']} training images of the first batch after "
          f"preprocessing{' and augmentation' if info['augmented'] else ''} "
          f"({info['size']}x{info['size']} pixels each, {info['preprocessing']} "
          'preprocessing undone for viewing).')
    return 0
