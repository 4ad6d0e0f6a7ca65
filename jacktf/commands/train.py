"""`jacktf train`: the train command of jacktf.app.train_command (the same options and
help texts as `python -m jacktf.run`)."""

from jacktf.app import train_command
from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'train', parents, help=train_command.HELP)
    train_command.add_arguments(p)
    p.set_defaults(func=lambda args: train_command.run(args, report_export=export_report))
    return p


def export_report(summary):
    """Prints the end-of-training export as `jacktf export` does; its exit code."""
    from jacktf.commands import export
    return export.report(summary)
