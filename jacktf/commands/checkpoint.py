"""`jacktf inspect-checkpoint`: dry-run the restore a training run would do."""

import json

from jacktf.commands import common


def add_parser(subparsers, parents):
    # Not ``parents``: this command's --verbose also lists every variable.
    p = common.add_command(subparsers, 'inspect-checkpoint', [],
                           help='dry-run the restore a training run would do, and report')
    p.add_argument('--checkpoint', required=True,
                   help='checkpoint prefix, one of its files, or its folder; slim://NAME '
                   'and builtin://NAME work too')
    common.add_gin_options(p, required=True)
    p.add_argument('--json', action='store_true', help='print the report as JSON')
    p.add_argument('-v', '--verbose', action='store_true',
                   help='list every variable, and show TensorFlow\'s own log lines '
                   '(default: long lists grouped by scope, TensorFlow quiet)')
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.app import runtime
    from jacktf.core.restore import restore_from_checkpoint
    from jacktf.pretrained import resolve_checkpoint as resolve_pretrained
    experiment = runtime.experiment_from_gin(args.gin_file, args.gin_param)
    model = experiment.model.build()
    _, frozen = experiment.trainer.split_variables(model)
    report = restore_from_checkpoint(
        model, args.checkpoint, exclude_scopes=experiment.checkpoint_exclude_scopes,
        scope_map=experiment.scope_map, strict=False, frozen=frozen, dry_run=True,
        setting='--checkpoint', resolve_uri=resolve_pretrained)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print('\n'.join(report.lines(verbose=args.verbose)))
    if not report.ok:
        runtime.fail(report.error_message())
    print('OK: a training run would start from this checkpoint.')
    return 0


