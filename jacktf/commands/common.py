"""What several subcommands share: their parser factory, argument types, the
Experiment of a model directory and notes on stderr."""

import argparse
import os
import sys


class HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default after its help text.

    An option whose help already says its default (the word "default"), a required
    option and a flag are left as written, or marked "(required)" / "(default: off)";
    any other gets "(default: VALUE)".
    """

    def _get_help_string(self, action):
        return help_with_default(action)


def help_with_default(action):
    """The help text of ``action`` with its default (see HelpFormatter)."""
    text = action.help or ''
    if not action.option_strings or 'default' in text.lower():
        return text
    if action.required:
        return f'{text} (required)'
    if isinstance(action, argparse._StoreTrueAction) and action.default is False:
        return f'{text} (default: off)'
    if action.default in (None, [], argparse.SUPPRESS):
        return text  # the help text must say what happens without the option
    return f'{text} (default: %(default)s)'


def add_command(subparsers, name, parents, help, description=None):
    """A subcommand's parser with jacktf's help formatter and the shared options."""
    return subparsers.add_parser(name, help=help, description=description or help,
                                 parents=parents, formatter_class=HelpFormatter)


def add_gin_options(parser, required):
    """--gin_file and --gin_param, as `python -m jacktf.run` has them."""
    parser.add_argument(
        '--gin_file', action='append', required=required,
        help='gin recipe(s): a path, or a shipped recipe such as gin/demo.gin; repeat '
        'for several' + ('' if required else
                         ' (default: the operative_config.gin of --model_dir)'))
    parser.add_argument(
        '--gin_param', action='append', default=[],
        help="gin bindings applied after the files, e.g. --gin_param='TRAIN_STEPS = 500'; "
        'repeat for several (default: none)')


def positive_int(text):
    """argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number of 1 or more')
    return value


def output_png(experiment, output, name):
    """Where a command writes its PNG: --output (a file or a folder) or MODEL_DIR/name."""
    path = output or os.path.join(experiment.model_dir, name)
    if os.path.isdir(path):
        path = os.path.join(path, name)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return path


def note(message):
    """A line about the run (not its result): on stderr, so --json output stays JSON."""
    print(message, file=sys.stderr, flush=True)


def experiment_for(model_dir, gin_files=(), gin_params=()):
    """The Experiment of a model directory (see jacktf.app.runtime.experiment_for)."""
    from jacktf.app import runtime
    return runtime.experiment_for(model_dir, gin_files, gin_params)
