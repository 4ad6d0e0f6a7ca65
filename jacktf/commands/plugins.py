"""`jacktf plugins`: what is registered, by whom."""

import json
import sys

from jacktf.commands import common

KINDS = ('backbone', 'head', 'optimizer', 'lr_schedule', 'decoder', 'preprocessor',
         'callback', 'augmentation')


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'plugins', parents,
                           help='list registered plugins and who provides them')
    p.add_argument('--kind', choices=KINDS, help='list only this kind (default: all)')
    p.add_argument('--json', action='store_true', help='print JSON')
    p.add_argument('--check', metavar='NAME',
                   help='run the plugin contract on the registered backbone NAME (build, '
                   'scoped names, end_points, arg_scope, a few train steps, checkpoint '
                   'round trip, export, predict); exit 1 when a step fails (default: list the plugins)')
    p.add_argument('--image_size', type=common.positive_int, metavar='N',
                   help='with --check: build at N x N, at most the card\'s default size '
                   '(default: the default size)')
    p.set_defaults(func=run)
    return p


def _row(entry):
    row = {'name': entry.name, 'kind': entry.kind, 'provider': entry.provider,
           'summary': entry.summary}
    if entry.kind == 'preprocessor' and entry.card is not None:
        row['card'] = entry.card.describe()
    elif entry.card is not None:
        card = entry.card
        row['card'] = {'scope': card.scope, 'default_image_size': card.default_image_size,
                       'preprocessing': card.preprocessing,
                       'num_classes_official': card.num_classes_official,
                       'features_endpoint': card.features_endpoint,
                       'cam_endpoint': card.cam_endpoint,
                       'classifier_scopes': list(card.classifier_scopes)}
    return row


def run(args):
    from jacktf.app import runtime
    registry = runtime.load_plugins()
    if args.check:
        return _check(registry, args)
    if args.image_size:
        runtime.fail('--image_size goes with --check NAME.')
    rows = [_row(entry) for entry in registry.entries(args.kind)]
    if args.json:
        print(json.dumps({'plugins': rows, 'failures': [
            {'provider': p, 'message': m} for p, m in registry.failures]}, indent=2))
        return 0
    width = max([len(r['name']) for r in rows] + [4])
    pwidth = max([len(r['provider']) for r in rows] + [8])
    print(f'{"NAME":<{width}}  {"KIND":<12}  {"PROVIDER":<{pwidth}}  SUMMARY')
    for r in rows:
        summary = r['summary']
        if 'card' in r and r['kind'] == 'backbone':
            c = r['card']
            summary = (f"scope={c['scope']} size={c['default_image_size']} "
                       f"prep={c['preprocessing']} classes={c['num_classes_official']}")
        print(f"{r['name']:<{width}}  {r['kind']:<12}  {r['provider']:<{pwidth}}  {summary}")
    for provider, message in registry.failures:
        print(f'FAILED {provider}: {message}', file=sys.stderr)
    return 0


def _check(registry, args):
    from jacktf.commands import plugin_check
    from jacktf.app import runtime
    entry = registry.get('backbone', args.check)
    default = entry.card.default_image_size
    size = args.image_size or default
    if not 16 <= size <= default:
        runtime.fail(f'--image_size {size}: give 16 to {default} (the default size of '
                     f'{entry.name}), or leave it out.')
    rows = plugin_check.check(entry, size)
    if args.json:
        print(json.dumps({'backbone': entry.name, 'image_size': size, 'steps': [
            {'step': s, 'result': r, 'seconds': round(t, 1), 'detail': d}
            for s, r, t, d in rows]}, indent=2))
    else:
        print(plugin_check.table(entry.name, size, rows))
    return 0 if all(row[1] == 'PASS' for row in rows) else 1
