"""The `jacktf` command: train | convert | plugins | pretrained | inspect-checkpoint |
export | eval | predict.

This module is only the parser and the dispatch; each subcommand lives in its own
module under ``jacktf/commands/`` (``jacktf/commands/__init__.py`` says how to add
one). Nothing here imports TensorFlow: ``jacktf --help`` and ``jacktf X --help`` answer
at once, and a command imports what it needs when it runs. TensorFlow's start-up noise
stays off the terminal unless ``-v/--verbose`` (or JACKTF_VERBOSE=1) asks for it.
User mistakes exit with 2 and a one-line message.
"""

import argparse
import importlib
import sys

from jacktf.core import compat
from jacktf.app import runtime

# The subcommand modules of jacktf/commands/, in the order `jacktf --help` lists them.
COMMANDS = ('train', 'lr_find', 'show_batch', 'convert', 'plugins', 'pretrained',
            'checkpoint', 'export', 'verify_client', 'evaluate', 'predict')

VERBOSE_HELP = ("show TensorFlow's own log lines (start-up banner, device discovery, "
                'warnings); same as JACKTF_VERBOSE=1 (default: hidden)')


def build_parser():
    """The argparse parser of `jacktf` with every subcommand of ``COMMANDS``."""
    from jacktf.commands import common
    parser = argparse.ArgumentParser(
        prog='jacktf', formatter_class=common.HelpFormatter,
        description='Fine-tune image classifiers from the official TF-Slim ImageNet '
        'checkpoints. `jacktf COMMAND --help` explains a command.')
    parser.add_argument('-v', '--verbose', action='store_true', help=VERBOSE_HELP)
    # Each subcommand takes -v too; SUPPRESS keeps `jacktf -v train` from being undone.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument('-v', '--verbose', action='store_true', default=argparse.SUPPRESS,
                        help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND',
                                help='what to do')
    for name in COMMANDS:
        importlib.import_module(f'jacktf.commands.{name}').add_parser(sub, [shared])
    return parser


def _parse(parser, argv):
    """parse_args, but an unknown option is named with the closest options of its
    command (argparse itself only says "unrecognized arguments") and that command's
    usage line; exits 2 like argparse."""
    import difflib
    args, unknown = parser.parse_known_args(argv)
    if not unknown:
        return args
    _unclaim_value(args, unknown, sys.argv[1:] if argv is None else list(argv))
    command = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    owner = command.choices.get(args.command, parser)
    options = [o for a in owner._actions for o in a.option_strings if o.startswith('--')]
    hints = []
    for arg in unknown:
        name = arg.split('=', 1)[0]
        close = difflib.get_close_matches(name.replace('-', '_'), options, n=2, cutoff=0.6)
        if name.startswith('-') and close:
            hints.append(f'{name}: did you mean {" or ".join(close)}?')
    owner.error(f'unrecognized arguments: {" ".join(unknown)}' +
                (''.join(f'\n  {h}' for h in hints)) +
                f'\n`jacktf {args.command} --help` lists its options.')


def _unclaim_value(args, unknown, argv):
    """A positional DATA that is the value of a misspelt option (`--gin_parm X`) goes
    back to that option in ``unknown`` (argparse took it for DATA)."""
    data = getattr(args, 'data', None)
    if data is None or data not in argv:
        return
    at = argv.index(data)
    before = argv[at - 1] if at else ''
    if before.startswith('-') and '=' not in before and before in unknown:
        unknown.insert(unknown.index(before) + 1, data)
        args.data = None


def main(argv=None):
    args = _parse(build_parser(), argv)
    verbose = bool(getattr(args, 'verbose', False))
    compat.quiet_startup(verbose)  # before anything imports TensorFlow
    # With --json, stdout holds only the JSON; log lines go to stderr.
    runtime.setup_logging(stream=sys.stderr if getattr(args, 'json', False) else sys.stdout,
                          verbose=verbose)
    with runtime.user_errors(), runtime.collected():
        return args.func(args) or 0


if __name__ == '__main__':
    sys.exit(main())
