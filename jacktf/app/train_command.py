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

    ``kind``: 'positional' (an optional argument without a flag; absl: the first
    argument), 'multi' (repeatable string), 'string', 'enum', 'bool' (a flag), 'int'
    or 'float'.
    """
    name: str
    kind: str
    help: str
    default: Any = None
    choices: Tuple[str, ...] = ()
    required: bool = False


OPTIONS = (
    Option('data', 'positional',
           help='DATA: a folder with one subfolder per class, a folder with train/ and '
           'val/ (or validation/, optionally test/) folders, a CSV of path,label[,split] '
           'rows, or TFRecord files of `jacktf convert`; classes, NUM_CLASSES and the '
           'split come from it (default: none; give DATA or --gin_file, or both)'),
    Option('gin_file', 'multi', default=(),
           help='gin recipe(s): a path, or a shipped recipe such as gin/demo.gin; repeat '
           'for several; with DATA they apply on top of gin/front_door.gin (default: '
           'none)'),
    Option('gin_param', 'multi', default=(),
           help="gin bindings applied after the files, e.g. --gin_param='TRAIN_STEPS = "
           "500'; repeat for several (default: none)"),
    Option('model_dir', 'string',
           help="overrides MODEL_DIR of the recipe (default: the recipe's; with DATA "
           'runs/<DATA name>, or runs/<DATA name>-N when that holds a run of other data)'),
    Option('backbone', 'string',
           help='with DATA: the backbone, any name of `jacktf pretrained list` or of a '
           'plugin; its official checkpoint, size and preprocessing come with it '
           '(default: mobilenet_v1_025, whose weights ship with jacktf: no download)'),
    Option('epochs', 'int', help='with DATA: TRAIN_EPOCHS (default: the recipe\'s, 10)'),
    Option('batch_size', 'int', help='with DATA: BATCH_SIZE (default: the recipe\'s, 32)'),
    Option('image_size', 'int',
           help="with DATA: IMAGE_SIZE (default: the backbone card's size)"),
    Option('lr', 'float',
           help="with DATA: LEARNING_RATE for a batch of 32 (default: the recipe's, 0.01)"),
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


_TYPES = {'float': float, 'int': int}


def add_arguments(parser):
    """Adds OPTIONS to an argparse parser (`jacktf train`)."""
    for option in OPTIONS:
        flag = f'--{option.name}'
        if option.kind == 'positional':
            parser.add_argument(option.name, nargs='?', metavar=option.name.upper(),
                                help=option.help)
        elif option.kind == 'multi':
            parser.add_argument(flag, action='append', required=option.required,
                                default=None if option.required else [], help=option.help)
        elif option.kind == 'bool':
            parser.add_argument(flag, action='store_true', help=option.help)
        elif option.kind == 'enum':
            parser.add_argument(flag, choices=option.choices, default=option.default,
                                help=option.help)
        else:
            parser.add_argument(flag, type=_TYPES.get(option.kind, str),
                                default=option.default, help=option.help)


def define_flags(flags):
    """Defines OPTIONS as absl flags (`python -m jacktf.run`); ``flags`` is absl.flags."""
    for option in OPTIONS:
        if option.kind == 'positional':
            continue  # the first argument (jacktf.run passes it as options.data)
        if option.kind == 'multi':
            flags.DEFINE_multi_string(option.name, list(option.default), option.help)
        elif option.kind == 'bool':
            flags.DEFINE_bool(option.name, option.default, option.help)
        elif option.kind == 'enum':
            flags.DEFINE_enum(option.name, option.default, list(option.choices),
                              option.help)
        elif option.kind == 'float':
            flags.DEFINE_float(option.name, option.default, option.help)
        elif option.kind == 'int':
            flags.DEFINE_integer(option.name, option.default, option.help)
        else:
            flags.DEFINE_string(option.name, option.default, option.help)


DATA_ONLY = ('backbone', 'epochs', 'batch_size', 'image_size', 'lr')


def run(options, report_export=None):
    """Runs the train command; ``options`` has one attribute per OPTIONS name.

    With DATA the run is the front door's (jacktf.app.front_door): the data's split,
    classes and the options on top of gin/front_door.gin (and --gin_file/--gin_param
    on top of that), ending with a summary; without DATA, the recipes' run as it is.

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
    from jacktf.core.errors import ConfigError
    data = getattr(options, 'data', None)
    if not data and not options.gin_file:
        raise ConfigError('Give DATA (a folder with one subfolder per class, split folders, '
                          'a CSV or TFRecord files), e.g. `jacktf train photos/`, or a '
                          'recipe: --gin_file gin/demo.gin.')
    given = [f'--{name}' for name in DATA_ONLY if getattr(options, name, None) is not None]
    if given and not data:
        raise ConfigError(f'{", ".join(given)} set{"s" if len(given) == 1 else ""} the front '
                          'door\'s run and needs DATA (`jacktf train DATA ...`); with a '
                          'recipe alone bind the macros instead, e.g. --gin_param '
                          '"TRAIN_EPOCHS = 5".')
    seed = _seed(options.seed)
    if data:
        return _front_door(options, seed, report_export)
    if options.show_callbacks:
        print(runtime.show_callbacks(options.gin_file, options.gin_param,
                                     options.model_dir))
        return 0
    targets = None
    if options.export:
        from jacktf.serve import deploy
        targets = deploy.parse_targets(options.export)  # a bad value fails before training
    params = list(options.gin_param or ())
    if seed:
        from jacktf.train import seeding
        params.append(seeding.seed_binding(seed[0]))
    runtime.train(options.gin_file, params, options.model_dir, options.mode,
                  force_unlock=options.force_unlock, eval_timeout=options.eval_timeout)
    if not targets or not (targets[0] or targets[1]):
        return 0
    from jacktf.serve import deploy
    experiment = runtime.experiment_from_gin(options.gin_file, params, options.model_dir)
    summary = deploy.export_run(experiment, tflite_variants=targets[0], onnx=targets[1])
    return report_export(summary) if report_export else 0


def _seed(text):
    """() without --seed, else (the seed,) with None for 'none' (ConfigError when bad)."""
    if text is None:
        return ()
    import argparse
    from jacktf.core.errors import ConfigError
    from jacktf.train import seeding
    try:
        return (seeding.parse_seed(text),)
    except argparse.ArgumentTypeError as e:  # a bad --seed
        raise ConfigError(str(e)) from None


def _front_door(options, seed, report_export):
    """`jacktf train DATA`: plan, train, evaluate, summarize (jacktf.app.front_door)."""
    import logging
    from jacktf.app import front_door, run_summary, runtime
    from jacktf.train import seeding
    params = list(options.gin_param or ())
    if seed and seed[0] is None:  # --seed none: an unseeded run (the split keeps 0)
        params.append(seeding.seed_binding(None))
    plan = front_door.plan(
        options.data, backbone=options.backbone, epochs=options.epochs,
        batch_size=options.batch_size, image_size=options.image_size, lr=options.lr,
        model_dir=options.model_dir, seed=seed[0] if seed else None,
        export=tuple(options.export or ()), gin_files=tuple(options.gin_file or ()),
        gin_params=params)
    for line in plan.describe().splitlines():
        logging.getLogger('jacktf').info(line)
    if options.show_callbacks:
        print(runtime.show_callbacks(plan.gin_files, plan.gin_params, plan.model_dir))
        return 0
    if options.mode not in ('train_and_eval', 'train'):
        runtime.train(plan.gin_files, plan.gin_params, plan.model_dir, options.mode,
                      force_unlock=options.force_unlock, eval_timeout=options.eval_timeout)
        return 0
    summary = front_door.train(plan, mode=options.mode, force_unlock=options.force_unlock)
    print(run_summary.format_summary(summary), flush=True)
    if summary.get('export') and report_export:
        return report_export(summary['export'])
    return 0
