"""`jacktf pretrained list | download`: the official slim checkpoints (the zoo)."""

import json

from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'pretrained', parents,
                           help='the official slim checkpoints: list, download')
    actions = p.add_subparsers(dest='action', required=True, metavar='ACTION',
                               help='list or download')
    q = common.add_command(actions, 'list', parents,
                           help='list the official checkpoints: name, accuracy, size, '
                           'preprocessing, archive, status')
    q.add_argument('--json', action='store_true', help='print JSON')
    q = common.add_command(actions, 'download', parents,
                           help='fetch, verify and cache official checkpoints')
    q.add_argument('names', nargs='+', metavar='NAME', help='names from `pretrained list`')
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.app import runtime
    from jacktf.pretrained import cache, fetch, zoo
    if args.action == 'download':
        registry = runtime.load_plugins()
        for name in args.names:
            print(f'{name}: {fetch.fetch(name, registry=registry)}')
        return 0
    rows = zoo.listing()
    if args.json:
        print(json.dumps({'cache_dir': cache.pretrained_dir(), 'checkpoints': rows},
                         indent=2))
        return 0
    print(zoo.format_listing(rows))
    print(f"CHECKPOINT_PATH = 'slim://NAME' downloads into {cache.pretrained_dir()} on "
          "first use; 'builtin://NAME' needs no download.")
    return 0
