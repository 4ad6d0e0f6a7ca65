"""`jacktf train`: the train command of jacktf.app.train_command (the same options and
help texts as `python -m jacktf.run`)."""

from jacktf.app import train_command
from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'train', parents, help=train_command.HELP)
    train_command.add_arguments(p)
    p.set_defaults(func=train_command.run)
    return p
