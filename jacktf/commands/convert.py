"""`jacktf convert`: an image folder (one subfolder per class) to TFRecord shards."""

from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'convert', parents,
                           help='image folder (one subfolder per class) to TFRecords')
    p.add_argument('--image_dir', default=None,
                   help='the folder holding one subfolder of images per class (with '
                        '--labels_csv: where its relative paths start; default: none, '
                        'then --labels_csv is needed)')
    p.add_argument('--labels_csv', default=None,
                   help='multi-label: a CSV of `path,labels` rows (labels separated by '
                        'spaces or |); records get a list of labels (default: none)')
    p.add_argument('--multi_label', action='store_true',
                   help='multi-label folder: an image may be in several class folders '
                        '(same content = one image with all their labels; default: off)')
    p.add_argument('--output_dir', required=True,
                   help='where the shards, labels.txt and dataset.json are written')
    p.add_argument('--val_fraction', type=float, default=0.1,
                   help='fraction of each class put in the validation split')
    p.add_argument('--num_shards', type=int, default=4,
                   help='TFRecord files per split')
    p.add_argument('--workers', type=int, default=None,
                   help='processes that decode images (default: the number of CPUs)')
    p.add_argument('--seed', type=int, default=0, help='seed of the stratified split')
    p.add_argument('--overwrite', action='store_true',
                   help='replace an existing conversion in --output_dir')
    p.add_argument('--max_pixels', type=int, default=100_000_000,
                   help='images with more pixels are skipped before decoding')
    p.add_argument('--max_bytes', type=int, default=256 << 20,
                   help='files larger than this are skipped without being read')
    p.add_argument('--allow_empty_classes', action='store_true',
                   help='keep a class folder without usable images as a class')
    p.add_argument('--allow_conflicts', action='store_true',
                   help='convert near-identical images found in different classes (label '
                        'conflicts) instead of stopping; they are listed in dataset.json')
    p.set_defaults(func=run)
    return p


def run(args):
    if args.labels_csv or args.multi_label:
        return _run_multilabel(args)
    if not args.image_dir:
        from jacktf.core.errors import DataError
        raise DataError('jacktf convert needs --image_dir (a folder with one subfolder '
                        'per class) or --labels_csv (multi-label).')
    from jacktf.data import near_duplicates
    from jacktf.data.converter import convert
    info = convert(args.image_dir, args.output_dir, val_fraction=args.val_fraction,
                   num_shards=args.num_shards, workers=args.workers, seed=args.seed,
                   overwrite=args.overwrite, max_pixels=args.max_pixels,
                   allow_empty_classes=args.allow_empty_classes, max_bytes=args.max_bytes,
                   allow_conflicts=args.allow_conflicts)
    per_split = ', '.join(f'{split} {sum(c.values())}' for split, c in info['counts'].items())
    print(f"Wrote {info['num_written']} images of {len(info['classes'])} classes "
          f"({per_split}) to {args.output_dir} in {info['seconds']} s; "
          f"{info['num_skipped']} skipped.")
    for item in info['skipped']:
        print(f"  skipped {item['file']}: {item['reason']}")
    for line in near_duplicates.describe(info['near_duplicates']):
        print(line)
    return 0


def _run_multilabel(args):
    from jacktf.data.multilabel_convert import convert_multilabel
    info = convert_multilabel(args.output_dir, labels_csv=args.labels_csv,
                              image_dir=args.image_dir, val_fraction=args.val_fraction,
                              num_shards=args.num_shards, workers=args.workers,
                              seed=args.seed, overwrite=args.overwrite,
                              max_pixels=args.max_pixels, max_bytes=args.max_bytes)
    per_split = ', '.join(f'{split} {n}' for split, n in info['images'].items())
    print(f"Wrote {info['num_written']} multi-label images of {len(info['classes'])} "
          f"labels ({per_split}; iterative stratification) to {args.output_dir} in "
          f"{info['seconds']} s; {info['num_skipped']} skipped. Read them with "
          "Experiment.decoder = 'tfexample_multilabel' and Model.head = "
          "@multilabel_logits.")
    for item in info['skipped']:
        print(f"  skipped {item['file']}: {item['reason']}")
    return 0
