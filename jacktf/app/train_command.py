"""The train command, defined once: `jacktf train` (argparse, jacktf.cli) and `python -m
jacktf.run` (absl flags) both read OPTIONS, so both have the same options with the same
help texts, and both call :func:`run`.

Importing this module imports neither TensorFlow nor gin (``--help`` answers at once).
"""

import dataclasses
from typing import Any, Tuple

MODES = ('train_and_eval', 'train', 'eval', 'continuous_eval')
HELP = ('train (and evaluate) from gin recipes; `jacktf train` and `python -m jacktf.run` '
        'are the same command')


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of the train command.

    ``kind``: 'multi' (repeatable string), 'string', 'enum', 'bool' (a flag) or 'float'.
    """
    name: str
    kind: str
    help: str
    default: Any = None
    choices: Tuple[str, ...] = ()
    required: bool = False


OPTIONS = (
    Option('gin_file', 'multi', required=True, default=(),
           help='gin recipe(s): a path, or a shipped recipe such as gin/demo.gin; repeat '
           'for several'),
    Option('gin_param', 'multi', default=(),
           help="gin bindings applied after the files, e.g. --gin_param='TRAIN_STEPS = "
           "500'; repeat for several (default: none)"),
    Option('model_dir', 'string',
           help="overrides MODEL_DIR of the recipe (default: the recipe's)"),
    Option('mode', 'enum', default='train_and_eval', choices=MODES,
           help="what to run; continuous_eval follows a training run's checkpoints (a "
           'sidecar evaluator)'),
    Option('force_unlock', 'bool', default=False,
           help="take over MODEL_DIR's writer lock (train.lock) from a live or remote "
           'holder'),
    Option('eval_timeout', 'float', default=3600,
           help='continuous_eval: seconds without a new checkpoint before it stops'),
    Option('export', 'multi', default=(),
           help='at the end of training also write and verify these formats, as `jacktf '
           'export` does: tflite:VARIANTS (e.g. tflite:int8 or tflite:float,int8) or '
           'onnx; repeat for more (default: none)'),
    Option('seed', 'string', default=None,
           help="the run's seed (default: the recipe's Experiment.seed, 0): data order, "
           "augmentation, head initialization, dropout; 'none' for a fresh seed each run"),
    Option('show_callbacks', 'bool', default=False,
           help='print each event of the training loop and the callbacks that run at it, '
           'in order, then exit without training'),
)


def add_arguments(parser):
    """Adds OPTIONS to an argparse parser (`jacktf train`)."""
    for option in OPTIONS:
        flag = f'--{option.name}'
        if option.kind == 'multi':
            parser.add_argument(flag, action='append', required=option.required,
                                default=None if option.required else [], help=option.help)
        elif option.kind == 'bool':
            parser.add_argument(flag, action='store_true', help=option.help)
        elif option.kind == 'enum':
            parser.add_argument(flag, choices=option.choices, default=option.default,
                                help=option.help)
        else:
            parser.add_argument(flag, type=float if option.kind == 'float' else str,
                                default=option.default, help=option.help)


def define_flags(flags):
    """Defines OPTIONS as absl flags (`python -m jacktf.run`); ``flags`` is absl.flags."""
    for option in OPTIONS:
        if option.kind == 'multi':
            flags.DEFINE_multi_string(option.name, list(option.default), option.help)
        elif option.kind == 'bool':
            flags.DEFINE_bool(option.name, option.default, option.help)
        elif option.kind == 'enum':
            flags.DEFINE_enum(option.name, option.default, list(option.choices),
                              option.help)
        elif option.kind == 'float':
            flags.DEFINE_float(option.name, option.default, option.help)
        else:
            flags.DEFINE_string(option.name, option.default, option.help)


def run(options, report_export=None):
    """Runs the train command; ``options`` has one attribute per OPTIONS name.

    Args:
      options: the parsed options (argparse namespace or absl FLAGS).
      report_export: prints the summary of the ``--export`` formats written at the end
        and returns the exit code (the commands' `jacktf export` report); None: the
        summary is only logged.

    Returns:
      0, or with ``--export`` 1 when a format fell short (errors raise JacktfError,
      which the callers turn into exit code 2).
    """
    from jacktf.app import runtime
    if options.show_callbacks:
        print(runtime.show_callbacks(options.gin_file, options.gin_param,
                                     options.model_dir))
        return 0
    targets = None
    if options.export:
        from jacktf.serve import deploy
        targets = deploy.parse_targets(options.export)  # a bad value fails before training
    params = list(options.gin_param or ())
    if options.seed is not None:
        import argparse
        from jacktf.core.errors import ConfigError
        from jacktf.train import seeding
        try:
            params.append(seeding.seed_binding(seeding.parse_seed(options.seed)))
        except argparse.ArgumentTypeError as e:  # a bad --seed
            raise ConfigError(str(e)) from None
    runtime.train(options.gin_file, params, options.model_dir, options.mode,
                  force_unlock=options.force_unlock, eval_timeout=options.eval_timeout)
    if not targets or not (targets[0] or targets[1]):
        return 0
    from jacktf.serve import deploy
    experiment = runtime.experiment_from_gin(options.gin_file, params, options.model_dir)
    summary = deploy.export_run(experiment, tflite_variants=targets[0], onnx=targets[1])
    return report_export(summary) if report_export else 0
