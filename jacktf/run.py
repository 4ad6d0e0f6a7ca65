"""`python -m jacktf.run --gin_file=F [--gin_param=B ...] [--model_dir=D] [--mode=M]`.

Flags -> plugins -> gin -> one Experiment -> mode. User mistakes (bad gin, missing
files, unknown plugins, checkpoints that do not fit) exit with code 2 and a message.
TensorFlow is imported only when the run starts (``--help`` answers at once), without
its start-up noise unless ``--verbose`` or JACKTF_VERBOSE=1.
"""

import importlib.util
import os
import sys


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

from jacktf.core import compat, runtime  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_multi_string('gin_file', [], 'Gin recipe(s): a path, or a shipped recipe '
                          'name such as gin/demo.gin or resnet50_2cls.gin.')
flags.DEFINE_multi_string('gin_param', [], "Gin bindings, e.g. --gin_param='TRAIN_STEPS "
                          "= 500'. Applied after the files.")
flags.DEFINE_string('model_dir', None, "Overrides MODEL_DIR of the recipe (default: the "
                    "recipe's).")
flags.DEFINE_enum('mode', 'train_and_eval',
                  ['train_and_eval', 'train', 'eval', 'continuous_eval'],
                  'What to run. continuous_eval: evaluate each new checkpoint of a '
                  'training run in MODEL_DIR (a sidecar evaluator).')
flags.DEFINE_bool('force_unlock', False, "Take over MODEL_DIR's writer lock (train.lock) "
                  'even when its holder looks alive or runs on another host.')
flags.DEFINE_float('eval_timeout', 3600, 'continuous_eval: stop after this many seconds '
                   'without a new checkpoint.')
flags.DEFINE_string('seed', None, "The run's seed (default: the recipe's Experiment.seed, "
                    "0): data order, augmentation, head initialization, dropout; 'none' for "
                    'a fresh seed each run.')
flags.DEFINE_bool('verbose', False, "Show TensorFlow's own log lines (start-up banner, "
                  'device discovery, warnings); same as JACKTF_VERBOSE=1.')


def main(argv):
    if len(argv) > 1:
        runtime.fail(f'Unexpected arguments: {" ".join(argv[1:])}. Use --gin_file and '
                     '--gin_param.')
    if not FLAGS.gin_file:
        runtime.fail('Give a recipe: --gin_file=gin/demo.gin (see README).')
    compat.quiet_startup(FLAGS.verbose)  # before anything imports TensorFlow
    with runtime.user_errors():
        runtime.setup_logging(verbose=FLAGS.verbose)
        params = list(FLAGS.gin_param)
        if FLAGS.seed is not None:
            from jacktf.train import seeding
            try:
                params.append(seeding.seed_binding(seeding.parse_seed(FLAGS.seed)))
            except Exception as e:  # argparse.ArgumentTypeError: a bad --seed
                runtime.fail(str(e))
        runtime.train(FLAGS.gin_file, params, FLAGS.model_dir, FLAGS.mode,
                      force_unlock=FLAGS.force_unlock, eval_timeout=FLAGS.eval_timeout)


def run():
    app.run(main)


if __name__ == '__main__':
    sys.exit(run())
