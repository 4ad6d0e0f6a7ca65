"""The `jacktf` command: plugins | convert | inspect-checkpoint | export | predict | eval.

Each subcommand is a small function over the public pieces; user mistakes exit with 2.
"""

import argparse
import json
import sys

from jacktf.core import runtime


def cmd_plugins(args):
    registry = runtime.load_plugins()
    rows = []
    for entry in registry.entries(args.kind):
        row = {'name': entry.name, 'kind': entry.kind, 'provider': entry.provider,
               'summary': entry.summary}
        if entry.card is not None:
            card = entry.card
            row['card'] = {'scope': card.scope, 'default_image_size': card.default_image_size,
                           'preprocessing': card.preprocessing,
                           'num_classes_official': card.num_classes_official,
                           'features_endpoint': card.features_endpoint,
                           'cam_endpoint': card.cam_endpoint,
                           'classifier_scopes': list(card.classifier_scopes)}
        rows.append(row)
    if args.json:
        print(json.dumps({'plugins': rows, 'failures': [
            {'provider': p, 'message': m} for p, m in registry.failures]}, indent=2))
        return 0
    width = max([len(r['name']) for r in rows] + [4])
    pwidth = max([len(r['provider']) for r in rows] + [8])
    print(f'{"NAME":<{width}}  {"KIND":<12}  {"PROVIDER":<{pwidth}}  SUMMARY')
    for r in rows:
        summary = r['summary']
        if 'card' in r:
            c = r['card']
            summary = (f"scope={c['scope']} size={c['default_image_size']} "
                       f"prep={c['preprocessing']} classes={c['num_classes_official']}")
        print(f"{r['name']:<{width}}  {r['kind']:<12}  {r['provider']:<{pwidth}}  {summary}")
    for provider, message in registry.failures:
        print(f'FAILED {provider}: {message}', file=sys.stderr)
    return 0


def cmd_inspect_checkpoint(args):
    from jacktf.core.restore import restore_from_checkpoint
    experiment = runtime.experiment_from_gin(args.gin_file, args.gin_param)
    model = experiment.model.build()
    _, frozen = experiment.trainer.split_variables(model)
    report = restore_from_checkpoint(
        model, args.checkpoint, exclude_scopes=experiment.checkpoint_exclude_scopes,
        scope_map=experiment.scope_map, strict=False, frozen=frozen, dry_run=True)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary_line())
        sections = [('restored', report.restored), ('excluded', report.excluded),
                    ('auto-excluded', report.auto_excluded), ('missing', report.missing),
                    ('shape-mismatched', [f'{n} model {m} checkpoint {c}'
                                          for n, m, c in report.shape_mismatched]),
                    ('frozen', report.frozen)]
        for title, names in sections:
            if names:
                print(f'{title} ({len(names)}):')
                for name in names if args.verbose or title != 'restored' else names[:10]:
                    print(f'  {name}')
                if not args.verbose and title == 'restored' and len(names) > 10:
                    print(f'  ... {len(names) - 10} more (--verbose lists all)')
    if not report.ok:
        runtime.fail(report.error_message())
    print('OK: a training run would start from this checkpoint.')
    return 0


def cmd_convert(args):
    from jacktf.data.converter import convert
    info = convert(args.image_dir, args.output_dir, val_fraction=args.val_fraction,
                   num_shards=args.num_shards, workers=args.workers, seed=args.seed,
                   overwrite=args.overwrite, max_pixels=args.max_pixels)
    per_split = ', '.join(f'{split} {sum(c.values())}' for split, c in info['counts'].items())
    print(f"Wrote {info['num_written']} images of {len(info['classes'])} classes "
          f"({per_split}) to {args.output_dir} in {info['seconds']} s; "
          f"{info['num_skipped']} skipped.")
    for item in info['skipped']:
        print(f"  skipped {item['file']}: {item['reason']}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog='jacktf', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('plugins', help='list registered plugins')
    p.add_argument('--kind', choices=['backbone', 'head', 'optimizer', 'lr_schedule',
                                      'decoder', 'preprocessor'])
    p.add_argument('--json', action='store_true', help='print JSON')
    p.set_defaults(func=cmd_plugins)
    p = sub.add_parser('inspect-checkpoint',
                       help='dry-run the restore a training run would do, and report')
    p.add_argument('--checkpoint', required=True, help='checkpoint prefix or directory')
    p.add_argument('--gin_file', action='append', required=True, help='recipe(s)')
    p.add_argument('--gin_param', action='append', default=[], help='gin bindings')
    p.add_argument('--json', action='store_true', help='print the report as JSON')
    p.add_argument('--verbose', action='store_true', help='list every restored variable')
    p.set_defaults(func=cmd_inspect_checkpoint)
    p = sub.add_parser('convert', help='image folder (one subfolder per class) to TFRecords')
    p.add_argument('--image_dir', required=True)
    p.add_argument('--output_dir', required=True)
    p.add_argument('--val_fraction', type=float, default=0.1)
    p.add_argument('--num_shards', type=int, default=4)
    p.add_argument('--workers', type=int, default=None, help='processes (default: CPUs)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--overwrite', action='store_true')
    p.add_argument('--max_pixels', type=int, default=100_000_000,
                   help='images with more pixels are skipped before decoding')
    p.set_defaults(func=cmd_convert)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    runtime.setup_logging()
    with runtime.user_errors():
        return args.func(args) or 0


if __name__ == '__main__':
    sys.exit(main())
