"""Epochs as users think of them: TRAIN_EPOCHS, evaluation at epoch ends, the start
line's counts, plain progress lines off a terminal, the bar, stages in epochs."""

import csv
import io
import os
import re
import types

import pytest

from jacktf.core.errors import ConfigError
from jacktf.optim import schedules
from jacktf.optim.optimizers import sgd
from jacktf.train import data_plan, step
from jacktf.train.callbacks.evaluation import PeriodicEval
from jacktf.train.callbacks.progress import Progress
from jacktf.train.stages import Stage, boundaries
from jacktf.train.trainer import Trainer
from conftest import run_cli
from test_class_balance import write_records

TIMEOUT = 300


@pytest.fixture(scope='module')
def records(tmp_path_factory):
    """10 training records (no dataset.json: the run counts them) and 6 eval records."""
    root = tmp_path_factory.mktemp('epochs')
    train = write_records(str(root / 'train'), [0] * 6 + [1] * 4, shards=2, size=16)
    evals = write_records(str(root / 'eval'), [0, 1] * 3, shards=1, split='validation',
                          size=16)
    return train, evals


def _train(records, model_dir, *extra):
    train, evals = records
    return run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
                    f'--model_dir={model_dir}', f"--gin_param=TRAIN_FILES = '{train}'",
                    f"--gin_param=EVAL_FILES = '{evals}'", '--gin_param=TRAIN_STEPS = None',
                    '--gin_param=TRAIN_EPOCHS = 2', '--gin_param=BATCH_SIZE = 4',
                    '--gin_param=IMAGE_SIZE = 32', '--gin_param=Trainer.log_every_steps = 1',
                    '--gin_param=periodic_eval.every_steps = None',
                    '--gin_param=Experiment.export_at_end = False', *extra],
                   timeout=TIMEOUT)


@pytest.mark.slow
def test_train_epochs_runs_ceil_n_over_batch_steps_per_epoch_and_evals_each_epoch(
        records, tmp_path):
    r = _train(records, tmp_path / 'run')
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    # 10 examples, batch 4: ceil(10 / 4) = 3 steps per epoch, 2 epochs = 6 steps.
    assert 'Counted 10 examples in TRAIN_FILES (2 files' in out
    start = next(line for line in out.splitlines() if 'Training resnet_v1_tiny' in line)
    assert 'steps 0..6' in start and 'input 32x32 (simple preprocessing)' in start
    assert 'train examples 10 (counted)' in start and '3 steps per epoch (2 epochs)' in start
    assert 'Done at step 6' in out
    assert re.findall(r'eval at step (\d+)', out) == ['3', '6']  # at each epoch's end
    with open(tmp_path / 'run' / 'metrics.csv') as f:
        assert [row['step'] for row in csv.DictReader(f)] == ['3', '6']
    # Off a terminal: plain lines, one per step here, with the epoch; no bar.
    lines = [line for line in out.splitlines() if re.search(r'step \d+/6 ', line)]
    assert len(lines) == 6
    assert re.search(r'epoch 1/2  step 3/6  loss [\d.]+ .* acc [\d.]+  lr [\de.-]+  '
                     r'[\d.]+ img/s  ETA \d+:\d\d:\d\d', lines[2])
    assert 'epoch 2/2  step 4/6' in lines[3] and 'epoch 2/2  step 6/6' in lines[5]
    assert '%|' not in r.stderr and '6/6 [' not in r.stderr  # no tqdm bar


@pytest.mark.slow
def test_progress_bar_when_asked_shows_epoch_loss_and_rate(records, tmp_path):
    r = _train(records, tmp_path / 'bar', '--gin_param=Trainer.progress_bar = True',
               '--gin_param=periodic_eval.every_epochs = 0', '--mode=train')
    assert r.returncode == 0, r.stderr[-3000:]
    bar = r.stderr
    assert '100%|' in bar and 'step 6/6 [' in bar and 'ETA 00:00' in bar
    assert re.search(r'epoch 2/2  loss [\d.]+  acc [\d.]+  lr [\de.-]+  [\d.]+ img/s', bar)
    assert 'eval at step' not in r.stdout  # eval_every_epochs = 0: only at the end (none)


def test_both_train_steps_and_train_epochs_is_an_error_naming_both(tmp_path):
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
                 f'--model_dir={tmp_path}', '--gin_param=TRAIN_EPOCHS = 2'],
                timeout=TIMEOUT)
    assert r.returncode == 2
    assert 'TRAIN_STEPS = 600 and TRAIN_EPOCHS = 2 are both set' in r.stderr
    assert 'TRAIN_STEPS = None' in r.stderr and 'Traceback' not in r.stderr
    assert not os.listdir(tmp_path)


def test_steps_per_epoch_rule():
    assert data_plan.steps_per_epoch(10, 4) == 3
    assert data_plan.steps_per_epoch(12, 4) == 3
    assert data_plan.steps_per_epoch(10, 2, accumulate_steps=2) == 3
    trainer = Trainer(train_epochs=2.5, optimizer=sgd)
    assert trainer.train_steps is None and trainer.needs_epoch_length
    trainer.resolve(steps_per_epoch=3)
    assert trainer.train_steps == 8  # ceil(2.5 * 3)
    assert PeriodicEval().interval(trainer) == 3  # every epoch by default in an epoch run
    assert PeriodicEval(every_epochs=2).interval(trainer) == 6
    assert PeriodicEval().interval(Trainer(train_steps=5, optimizer=sgd)) is None
    with pytest.raises(ConfigError, match='Neither TRAIN_STEPS nor TRAIN_EPOCHS'):
        Trainer(optimizer=sgd)
    with pytest.raises(ConfigError, match='periodic_eval.every_steps = 5 and periodic_'
                                          'eval.every_epochs = 1 are both set'):
        PeriodicEval(every_steps=5, every_epochs=1)


def test_stages_in_epochs():
    spans = boundaries([Stage(epochs=1), Stage(epochs=0.5), Stage()], 10,
                       steps_per_epoch=4)
    assert spans == [(0, 4), (4, 6), (6, 10)]
    trainer = Trainer(train_epochs=2, optimizer=sgd,
                      stages=[Stage(epochs=0.5), Stage(steps=None)])
    trainer.resolve(steps_per_epoch=4)
    assert trainer.train_steps == 8 and trainer.stage_spans == [(0, 2), (2, 8)]
    with pytest.raises(ConfigError, match='stage.steps = 3 and stage.epochs = 1'):
        Stage(steps=3, epochs=1)


def test_cosine_without_decay_steps_decays_over_the_whole_run():
    schedule = step.schedule_for_run(schedules.cosine, 0.1, 40)
    assert schedule.decay_steps == 40
    assert schedules.cosine(0.1, decay_steps=7, total_steps=40).decay_steps == 7


def test_the_bar_is_on_for_a_terminal_and_off_elsewhere_unless_forced():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    ctl = types.SimpleNamespace(chief=True)
    assert Progress(stream=Terminal()).wants_bar(ctl)
    assert not Progress(stream=io.StringIO()).wants_bar(ctl)  # a pipe or a log file
    assert not Progress(bar=False, stream=Terminal()).wants_bar(ctl)  # progress.bar
    assert Progress(bar=True, stream=io.StringIO()).wants_bar(ctl)
    ctl.chief = False  # other workers of a multi-worker run never draw one
    assert not Progress(bar=True, stream=Terminal()).wants_bar(ctl)
