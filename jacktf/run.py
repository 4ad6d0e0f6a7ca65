"""`python -m jacktf.run [DATA] [--gin_file=F ...] [--gin_param=B ...] [--model_dir=D] ...`.

The train command of jacktf.app.train_command (the options of `jacktf train`, as absl
flags): flags -> plugins -> gin -> one Experiment -> mode. User mistakes (bad gin, missing
files, unknown plugins, checkpoints that do not fit) exit with code 2 and a message.
TensorFlow is imported only when the run starts (``--help`` answers at once), without
its start-up noise unless ``--verbose`` or JACKTF_VERBOSE=1.
"""

import importlib.util
import os
import sys
import types


def _own_package():
    """Makes ``jacktf`` this file's package when a folder named jacktf in the working
    directory (a clone, holding the package one level down) shadows the installed one:
    Python then imports that folder as an empty namespace package and `python -m
    jacktf.run` would fail deep inside with "module 'jacktf' has no attribute ...".
    """
    package = sys.modules.get('jacktf')
    if package is None or getattr(package, '__file__', None) is not None:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        'jacktf', os.path.join(here, '__init__.py'), submodule_search_locations=[here])
    module = importlib.util.module_from_spec(spec)
    sys.modules['jacktf'] = module
    spec.loader.exec_module(module)


_own_package()

from absl import app, flags  # noqa: E402

from jacktf.core import compat  # noqa: E402
from jacktf.app import runtime, train_command  # noqa: E402

FLAGS = flags.FLAGS
train_command.define_flags(flags)
flags.DEFINE_bool('verbose', False, "Show TensorFlow's own log lines (start-up banner, "
                  'device discovery, warnings); same as JACKTF_VERBOSE=1.')


def main(argv):
    if len(argv) > 2:
        runtime.fail(f'Unexpected arguments: {" ".join(argv[2:])}. Give one DATA and '
                     'options (--gin_file, --gin_param, ...).')
    if not FLAGS.gin_file and len(argv) < 2:
        runtime.fail('Give DATA (a folder with one subfolder per class) or a recipe: '
                     '--gin_file=gin/demo.gin (see README).')
    options = types.SimpleNamespace(
        data=argv[1] if len(argv) > 1 else None,
        **{o.name: getattr(FLAGS, o.name) for o in train_command.OPTIONS
           if o.kind != 'positional'})
    compat.quiet_startup(FLAGS.verbose)  # before anything imports TensorFlow
    with runtime.user_errors(), runtime.collected():
        runtime.setup_logging(verbose=FLAGS.verbose)
        from jacktf.commands import export
        return train_command.run(options, report_export=export.report)


def run():
    app.run(main)


if __name__ == '__main__':
    sys.exit(run())
