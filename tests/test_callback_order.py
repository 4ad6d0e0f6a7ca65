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
    assert argparse_help == absl_help
    assert set(argparse_help) == {o.name for o in train_command.OPTIONS}


class _Flags:
    """absl.flags' DEFINE_* functions bound to one FlagValues (not the global one)."""

    def __init__(self, values):
        from absl import flags
        for name in ('DEFINE_multi_string', 'DEFINE_bool', 'DEFINE_enum', 'DEFINE_float',
                     'DEFINE_string'):
            define = getattr(flags, name)
            setattr(self, name, lambda *a, _d=define, **k: _d(*a, flag_values=values, **k))
