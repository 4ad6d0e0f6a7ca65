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

from jacktf.core import compat, runtime

# The subcommand modules of jacktf/commands/, in the order `jacktf --help` lists them.
COMMANDS = ('train', 'lr_find', 'show_batch', 'convert', 'plugins', 'pretrained',
            'checkpoint', 'export', 'evaluate', 'predict')

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


def main(argv=None):
    args = build_parser().parse_args(argv)
    verbose = bool(getattr(args, 'verbose', False))
    compat.quiet_startup(verbose)  # before anything imports TensorFlow
    # With --json, stdout holds only the JSON; log lines go to stderr.
    runtime.setup_logging(stream=sys.stderr if getattr(args, 'json', False) else sys.stdout,
                          verbose=verbose)
    with runtime.user_errors():
        return args.func(args) or 0


if __name__ == '__main__':
    sys.exit(main())
