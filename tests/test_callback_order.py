"""Callbacks declare their order; `--show_callbacks` prints the loop without training;
the train command has one option table for both command lines."""

import argparse
import os

from conftest import run_cli
from jacktf.app import train_command
from jacktf.train.callbacks.base import Callback, CallbackList


class Recorder(Callback):
    def __init__(self, name, calls, order=None):
        self.name, self.calls = name, calls
        if order is not None:
            self.order = order

    def on_step_end(self, ctl, step, logs):
        self.calls.append(self.name)


def test_callbacks_run_by_order_and_keep_the_given_order_among_equals():
    calls = []
    callbacks = CallbackList([Recorder('late', calls, 90), Recorder('a', calls),
                              Recorder('first', calls, 0), Recorder('b', calls)])
    callbacks.on_step_end(None, 1, {})
    assert calls == ['first', 'a', 'b', 'late']
    text = callbacks.describe()
    assert '\non_step_end\n    0  Recorder\n   50  Recorder\n   50  Recorder\n   90  ' \
           'Recorder\non_loss_nonfinite\n       (none)\n' in text


def test_show_callbacks_prints_the_loop_and_trains_nothing(tmp_path):
    model_dir = str(tmp_path / 'never')
    outputs = []
    for argv in (['jacktf.cli', 'train'], ['jacktf.run']):
        r = run_cli(argv + ['--gin_file=gin/tiny_from_scratch.gin', '--show_callbacks',
                            f'--model_dir={model_dir}',
                            '--gin_param=Trainer.callbacks = [@early_stopping()]'])
        assert r.returncode == 0, r.stderr[-2000:]
        outputs.append(r.stdout)
    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    at = lines.index('on_eval_end')
    # Best-k keeps the checkpoint before early stopping re-ranks it.
    assert lines[at + 1:at + 7] == ['   22  TensorBoard', '   32  BatchNormGapHint',
                                    '   34  EvalPictures', '   36  MetricsCsv',
                                    '   38  BestK', '   50  EarlyStopping']
    assert lines[lines.index('on_step_end') + 1] == '   10  AfterFirstStep'
    assert lines[lines.index('on_loss_nonfinite') - 1] == '   90  StopSignals'
    assert not os.path.exists(model_dir)


def test_one_option_table_for_both_command_lines():
    from absl import flags
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    argparse_help = {a.dest: a.help for a in parser._actions if a.dest != 'help'}
    values = flags.FlagValues()
    train_command.define_flags(_Flags(values))
    # absl appends its own note to repeatable flags and lists an enum's choices first.
    absl_help = {name: values[name].help.split(';\n    repeat this option')[0].split(
        '>: ')[-1] for name in values}
    # DATA is a positional argument: absl gets it as the first argument, not a flag.
    positional = {o.name for o in train_command.OPTIONS if o.kind == 'positional'}
    assert positional == {'data'}
    assert {k: v for k, v in argparse_help.items() if k not in positional} == absl_help
    assert set(argparse_help) == {o.name for o in train_command.OPTIONS}


class _Flags:
    """absl.flags' DEFINE_* functions bound to one FlagValues (not the global one)."""

    def __init__(self, values):
        from absl import flags
        for name in ('DEFINE_multi_string', 'DEFINE_bool', 'DEFINE_enum', 'DEFINE_float',
                     'DEFINE_integer', 'DEFINE_string'):
            define = getattr(flags, name)
            setattr(self, name, lambda *a, _d=define, **k: _d(*a, flag_values=values, **k))


def _progress(callbacks):
    from jacktf.train.callbacks import Progress
    return next(c for c in callbacks if isinstance(c, Progress))


def test_callbacks_own_their_settings_and_old_trainer_names_still_work(caplog):
    import functools
    from jacktf.optim.optimizers import sgd
    from jacktf.train.callbacks import BestK, DivergenceGuard, Progress, builtin_callbacks
    from jacktf.train.trainer import Trainer
    caplog.set_level('WARNING', logger='jacktf')
    trainer = Trainer(train_steps=10, optimizer=sgd)
    assert caplog.text == ''
    callbacks = builtin_callbacks(
        trainer, factories={'progress': functools.partial(Progress, every_steps=7)})
    assert _progress(callbacks).every_steps == 7  # the factory's own option
    old = Trainer(train_steps=10, optimizer=sgd, log_every_steps=5, keep_best=2,
                  nan_retries=4, nan_lr_factor=0.25)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        'Trainer.log_every_steps is deprecated: bind progress.every_steps = 5 instead '
        '(the old name still works in this release).',
        'Trainer.keep_best is deprecated: bind best_k.keep = 2 instead (the old name '
        'still works in this release).',
        'Trainer.nan_retries is deprecated: bind divergence_guard.retries = 4 instead '
        '(the old name still works in this release).',
        'Trainer.nan_lr_factor is deprecated: bind divergence_guard.lr_factor = 0.25 '
        'instead (the old name still works in this release).']
    callbacks = builtin_callbacks(old)
    assert _progress(callbacks).every_steps == 5
    assert next(c for c in callbacks if isinstance(c, BestK)).keep == 2
    guard = next(c for c in callbacks if isinstance(c, DivergenceGuard))
    assert (guard.max_retries, guard.lr_factor) == (4, 0.25)


def test_gin_binds_a_callback_option(tmp_path, default_registry):
    from jacktf.app import runtime
    experiment = runtime.experiment_from_gin(
        ['gin/tiny_from_scratch.gin'], ['progress.every_steps = 3', 'best_k.keep = 2'],
        str(tmp_path / 'm'))
    callbacks = experiment.callbacks()
    assert _progress(callbacks).every_steps == 3
    assert [c.keep for c in callbacks if type(c).__name__ == 'BestK'] == [2]


def test_eval_cadence_and_checkpoints_kept_are_callback_options(caplog):
    from jacktf.optim.optimizers import sgd
    from jacktf.train.callbacks import PeriodicCheckpoints, PeriodicEval, builtin_callbacks
    from jacktf.train.trainer import Trainer
    caplog.set_level('WARNING', logger='jacktf')
    callbacks = builtin_callbacks(Trainer(train_steps=10, optimizer=sgd))
    assert caplog.text == ''
    periodic = next(c for c in callbacks if isinstance(c, PeriodicEval))
    saver = next(c for c in callbacks if isinstance(c, PeriodicCheckpoints))
    assert (periodic.every_steps, periodic.every_epochs) == (None, None)
    assert saver.manager_options() == {'max_to_keep': 3,
                                       'keep_checkpoint_every_n_hours': None}
    # The old names still configure them; a given None is a value (no periodic eval,
    # keep every checkpoint), not "unset".
    old = Trainer(train_steps=10, optimizer=sgd, eval_every_steps=None, max_to_keep=None,
                  keep_checkpoint_every_n_hours=2)
    assert [r.getMessage() for r in caplog.records] == [
        'Trainer.eval_every_steps is deprecated: bind periodic_eval.every_steps = None '
        'instead (the old name still works in this release).',
        'Trainer.max_to_keep is deprecated: bind periodic_checkpoints.max_to_keep = None '
        'instead (the old name still works in this release).',
        'Trainer.keep_checkpoint_every_n_hours is deprecated: bind periodic_checkpoints.'
        'keep_every_n_hours = 2 instead (the old name still works in this release).']
    callbacks = builtin_callbacks(
        old, factories={'periodic_eval': lambda **k: PeriodicEval(**dict(
            {'every_steps': 500}, **k))})
    assert next(c for c in callbacks if isinstance(c, PeriodicEval)).every_steps is None
    assert next(c for c in callbacks if isinstance(c, PeriodicCheckpoints)) \
        .manager_options() == {'max_to_keep': None, 'keep_checkpoint_every_n_hours': 2}


def test_gin_binds_the_eval_cadence(tmp_path, default_registry):
    from jacktf.app import runtime
    from jacktf.train import data_plan
    from jacktf.train.callbacks import PeriodicCheckpoints, PeriodicEval
    experiment = runtime.experiment_from_gin(
        ['gin/tiny_from_scratch.gin'], ['periodic_eval.every_steps = None',
                                        'periodic_eval.every_epochs = 2',
                                        'periodic_checkpoints.max_to_keep = 7'],
        str(tmp_path / 'm'))
    callbacks = experiment.callbacks()
    periodic = next(c for c in callbacks if isinstance(c, PeriodicEval))
    assert (periodic.every_steps, periodic.every_epochs) == (None, 2)
    assert data_plan.needs_counts(experiment, experiment.trainer, callbacks)
    assert not data_plan.needs_counts(experiment, experiment.trainer)
    assert next(c for c in callbacks if isinstance(c, PeriodicCheckpoints)) \
        .manager_options()['max_to_keep'] == 7
    assert 'PeriodicEval' in runtime.show_callbacks(['gin/tiny_from_scratch.gin'], [],
                                                    str(tmp_path / 'n'))
