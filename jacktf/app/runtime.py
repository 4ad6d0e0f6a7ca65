"""What every command does first: logging, plugins, gin, and turning user errors into
a message and exit code 2 instead of a traceback.

Importing this module imports neither TensorFlow nor gin (the command line's help must
stay fast); the functions that need them import them.
"""

import contextlib
import logging
import os
import sys
import warnings

from jacktf.core import compat
from jacktf.core.errors import JacktfError

log = logging.getLogger('jacktf')
EXIT_USER_ERROR = 2


def setup_logging(level=logging.INFO, stream=None, verbose=False):
    """jacktf's messages on ``stream`` (default stdout); TensorFlow's chatter off.

    Args:
      level: the level of jacktf's own logger.
      stream: where jacktf's lines go (default stdout).
      verbose: keep TensorFlow's Python warnings and log lines (``--verbose``,
        JACKTF_VERBOSE=1); its start-up noise is ``compat.quiet_startup``'s job.
    """
    verbose = verbose or compat.verbose_requested()
    if not verbose:
        warnings.filterwarnings('ignore', category=UserWarning)
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        # tf.get_logger() is this logger; naming it keeps TensorFlow unimported.
        logging.getLogger('tensorflow').setLevel(logging.ERROR)
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
    stream = stream or sys.stdout
    if not log.handlers:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter('[jacktf %(asctime)s] %(message)s',
                                               '%H:%M:%S'))
        log.addHandler(handler)
    else:
        for handler in log.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is not stream:
                if getattr(handler.stream, 'closed', False):
                    handler.stream = stream  # setStream would flush the closed one
                else:
                    handler.setStream(stream)
    log.setLevel(level)
    log.propagate = False


def fail(message):
    sys.stderr.write(f'jacktf: error: {message}\n')
    sys.stderr.flush()
    sys.exit(EXIT_USER_ERROR)


@contextlib.contextmanager
def user_errors():
    """Prints JacktfError (and compat errors) as one message and exits with 2."""
    try:
        yield
    except (JacktfError, compat.CompatError) as e:
        fail(str(e))


@contextlib.contextmanager
def collected():
    """Frees a command's objects when it ends, while TensorFlow is whole: a run's
    model, traced functions and input pipelines sit in reference cycles, and left to
    interpreter shutdown their teardown kept a finished process alive for seconds."""
    try:
        yield
    finally:
        import gc
        gc.collect()


def load_plugins():
    from jacktf.core import plugins
    from jacktf.app import configurables
    registry = plugins.set_default_registry(plugins.load_registry())
    configurables.register(registry)
    return registry


def experiment_from_gin(gin_files, gin_params=(), model_dir=None):
    """Loads plugins, parses the recipes and returns the configured Experiment."""
    from jacktf.app import configurables
    load_plugins()
    configurables.parse(gin_files, gin_params, model_dir)

    def after_first_step(directory):
        from jacktf.core.files import write_atomic
        write_atomic(os.path.join(directory, 'operative_config.gin'),
                     configurables.operative_config())

    try:
        return configurables.configured('Experiment')(
            after_first_step=after_first_step,
            callback_factories=configurables.callback_factories())
    except TypeError as e:  # a required parameter no recipe binds
        from jacktf.app import gin_messages
        from jacktf.core.errors import ConfigError
        message = gin_messages.missing_argument(e)
        if message is None:
            raise
        raise ConfigError(message) from None


def experiment_for(model_dir, gin_files=(), gin_params=()):
    """The Experiment of a model directory: its operative config unless files are given.

    Raises:
      ConfigError: the folder is missing, is a SavedModel export, or holds no
        operative_config.gin (and no ``gin_files`` are given).
    """
    import glob
    from jacktf.core.errors import ConfigError
    files = list(gin_files) or [os.path.join(model_dir, 'operative_config.gin')]
    if not gin_files and not os.path.exists(files[0]):
        if not os.path.isdir(model_dir):
            raise ConfigError(f'--model_dir {model_dir!r}: no such folder. Give the '
                              'MODEL_DIR of a jacktf training run.')
        if glob.glob(os.path.join(model_dir, 'saved_model.pb*')) or glob.glob(
                os.path.join(model_dir, '[0-9]*', 'saved_model.pb*')):
            raise ConfigError(
                f'--model_dir {model_dir!r} holds a SavedModel export, not a training '
                "run: give the run's MODEL_DIR (the folder holding export/ and "
                'operative_config.gin); a SavedModel goes in --saved_model.')
        raise ConfigError(f'{files[0]} not found: give --gin_file, or a --model_dir written '
                          'by a jacktf training run (it writes operative_config.gin after '
                          'its first step).')
    return experiment_from_gin(files, gin_params, model_dir)


def train(gin_files, gin_params=(), model_dir=None, mode='train_and_eval',
          force_unlock=False, eval_timeout=None):
    """What `python -m jacktf.run` and `jacktf train` do: recipes -> Experiment -> mode.

    ``force_unlock`` takes over MODEL_DIR's writer lock; mode 'continuous_eval' follows
    a training run's checkpoints (jacktf.app.continuous_eval) on this process's own
    device, for up to ``eval_timeout`` seconds without a new checkpoint.
    """
    if mode == 'continuous_eval':  # a sidecar is not a worker of the training cluster
        gin_params = list(gin_params) + ["Experiment.strategy = 'default'"]
    experiment = experiment_from_gin(gin_files, gin_params, model_dir)
    return experiment.run(mode, force_unlock=force_unlock, eval_timeout=eval_timeout)


def show_callbacks(gin_files, gin_params=(), model_dir=None):
    """The training loop of the recipes as text (``--show_callbacks``): each event and
    the callbacks that run at it, in order. Builds the run, trains nothing."""
    from jacktf.train.callbacks import CallbackList
    experiment = experiment_from_gin(gin_files, gin_params, model_dir)
    return CallbackList(experiment.callbacks()).describe()
