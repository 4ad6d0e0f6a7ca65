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
