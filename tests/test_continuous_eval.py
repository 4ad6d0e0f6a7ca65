"""--mode=continuous_eval: a sidecar evaluator follows a training run's checkpoints,
evaluates each once, writes eval summaries, best-k and the report, and stops after the
final checkpoint, when training has ended, or after its timeout."""

import json
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import ROOT
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.optim.optimizers import sgd
from jacktf.train import recovery
from jacktf.app import continuous_eval
from jacktf.train.trainer import Trainer
from test_multi_worker import _free_ports


def _experiment(model_dir, registry, steps=4, keep_best=2):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=registry)
    trainer = Trainer(train_steps=steps, optimizer=sgd, learning_rate=0.01,
                      log_every_steps=2, checkpoint_every_steps=2, keep_best=keep_best)
    return Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                      train_files='demo://train', eval_files='demo://validation',
                      batch_size=8, eval_batch_size=100, export_at_end=False)


def _eval_scalars(eval_dir, tag='accuracy'):
    """{step: value} of ``tag`` over every event file in ``eval_dir``."""
    out = {}
    for path in tf.io.gfile.glob(os.path.join(eval_dir, 'events.out.tfevents.*')):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    out.setdefault(event.step, []).append(
                        float(tf.make_ndarray(value.tensor)))
    return out


def test_times_out_without_checkpoints(tmp_path, default_registry, caplog):
    caplog.set_level('INFO', logger='jacktf')
    result = continuous_eval.run(_experiment(tmp_path / 'm', default_registry), timeout=3)
    assert result['evaluated'] == [] and result['last_step'] == -1
    assert 'no new checkpoint in' in caplog.text and '(--eval_timeout): stopping' in caplog.text


def test_needs_eval_files(tmp_path, default_registry):
    exp = _experiment(tmp_path, default_registry)
    exp.eval_files = None
    with pytest.raises(Exception, match='needs EVAL_FILES'):
        continuous_eval.Sidecar(exp)


@pytest.mark.slow
def test_after_training_evaluates_once_and_a_restart_evaluates_nothing(
        tmp_path, default_registry, caplog, monkeypatch):
    caplog.set_level('INFO', logger='jacktf')
    model_dir = tmp_path / 'm'
    _experiment(model_dir, default_registry, keep_best=0).run('train')
    result = continuous_eval.run(_experiment(model_dir, default_registry), timeout=60)
    assert result['evaluated'] == [4]  # the newest when it started: the final one
    assert 'evaluated the final checkpoint (step 4): stopping' in caplog.text
    with open(model_dir / 'eval' / 'continuous_eval.json') as f:
        assert json.load(f)['step'] == 4
    best = json.load(open(model_dir / 'best' / 'best.json'))
    assert [e['step'] for e in best] == [4]
    # best.json names it relative to MODEL_DIR; a whole copy
    assert best[0]['checkpoint'] == 'best/ckpt-4'
    assert recovery.unreadable(str(model_dir / best[0]['checkpoint'])) is None
    assert set(_eval_scalars(model_dir / 'eval')) == {4}
    assert (model_dir / 'eval' / 'metrics.json').exists()
    # A restarted sidecar does not evaluate ckpt-4 again; training has ended: it stops
    # (after its start-up grace, shortened here).
    caplog.clear()
    monkeypatch.setattr(continuous_eval, 'START_GRACE_SECONDS', 1.0)
    again = continuous_eval.run(_experiment(model_dir, default_registry), timeout=60)
    assert again['evaluated'] == [] and again['last_step'] == 4
    assert 'has ended and its newest checkpoint was evaluated' in caplog.text
    # A checkpoint that is gone (rotated away) is skipped with a warning.
    sidecar = continuous_eval.Sidecar(_experiment(model_dir, default_registry))
    assert sidecar.evaluate(str(model_dir / 'checkpoints' / 'ckpt-99')) is None
    assert 'skipped' in caplog.text and 'ckpt-99' in caplog.text


TRAIN = ['--gin_file=gin/tiny_from_scratch.gin', '--gin_param=IMAGE_SIZE = 32',
         '--gin_param=Trainer.log_every_steps = 5', '--gin_param=Experiment.export_at_end = '
         'False', '--gin_param=Trainer.keep_best = 2', '--gin_param=Trainer.max_to_keep = 10']


def _popen(args, env=None):
    return subprocess.Popen([sys.executable, '-m', 'jacktf.run'] + args, cwd=ROOT,
                            env=dict(os.environ, **(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize('layout', ['local', pytest.param('multi_worker',
                                                          marks=pytest.mark.heavy)])
def test_beside_a_training_run(tmp_path, layout):
    model_dir = tmp_path / 'm'
    steps = 40
    flags = TRAIN + [f'--model_dir={model_dir}', f'--gin_param=TRAIN_STEPS = {steps}',
                     '--gin_param=BATCH_SIZE = 8', '--gin_param=Trainer.eval_every_steps = '
                     'None', '--gin_param=Trainer.checkpoint_every_steps = 5']
    sidecar = _popen(flags + ['--mode=continuous_eval', '--eval_timeout=240'])
    trainers = []
    if layout == 'local':
        trainers.append(_popen(flags + ['--mode=train']))
    else:
        cluster = {'worker': [f'localhost:{p}' for p in _free_ports(2)]}
        for index in range(2):
            trainers.append(_popen(flags + [
                '--mode=train', "--gin_param=Experiment.strategy = 'multi_worker_mirrored'"],
                env={'TF_CONFIG': json.dumps({'cluster': cluster,
                                              'task': {'type': 'worker', 'index': index}})}))
    try:
        for proc in trainers:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err[-3000:]
        out, err = sidecar.communicate(timeout=300)
    finally:
        for proc in trainers + [sidecar]:
            proc.kill()
    assert sidecar.returncode == 0, err[-3000:]
    evaluated = [int(s) for s in re.findall(r'continuous_eval: step (\d+): accuracy', out)]
    assert evaluated and evaluated[-1] == steps, out[-3000:]
    assert evaluated == sorted(set(evaluated))  # each checkpoint once, in order
    assert f'evaluated the final checkpoint (step {steps}): stopping' in out
    scalars = _eval_scalars(model_dir / 'eval')
    assert set(evaluated) <= set(scalars) and all(len(v) == 1 for v in scalars.values())
    best = json.load(open(model_dir / 'best' / 'best.json'))
    assert 1 <= len(best) <= 2 and {e['step'] for e in best} <= set(evaluated)
    for entry in best:
        assert recovery.unreadable(str(model_dir / entry['checkpoint'])) is None
    report = json.load(open(model_dir / 'eval' / 'metrics.json'))
    assert report['source'].endswith(f'ckpt-{steps}') and report['examples'] == 400


def _eval_values(eval_dir):
    """[(event file, {(step, tag): value})] of the scalars in ``eval_dir``, by file."""
    out = []
    for path in sorted(tf.io.gfile.glob(os.path.join(eval_dir, 'events.out.tfevents.*'))):
        values = {}
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == 'scalars':
                    values[(event.step, value.tag)] = float(tf.make_ndarray(value.tensor))
        if values:
            out.append((path, values))
    return out


@pytest.mark.slow
def test_sidecar_writes_the_training_eval_scalars_for_the_same_checkpoint(
        tmp_path, default_registry):
    """One evaluation function: for the final checkpoint, the sidecar's scalars (and
    `jacktf eval`'s report numbers) equal the ones training's own evaluation wrote."""
    model_dir = tmp_path / 'm'
    summary = _experiment(model_dir, default_registry, keep_best=0).run('train_and_eval')
    continuous_eval.run(_experiment(model_dir, default_registry), timeout=60)
    files = _eval_values(model_dir / 'eval')
    assert len(files) == 2  # training's writer, then the sidecar's
    training, sidecar = files[0][1], files[1][1]
    assert set(training) == set(sidecar) == {
        (4, 'accuracy'), (4, 'loss'), (4, 'macro_f1'), (4, 'balanced_accuracy'),
        (4, 'min_recall')}
    for key, value in training.items():
        assert sidecar[key] == pytest.approx(value, abs=1e-6), key
    assert training[(4, 'accuracy')] == pytest.approx(summary['eval_accuracy'])
    report = json.load(open(model_dir / 'eval' / 'metrics.json'))
    assert report['top_1_accuracy'] == pytest.approx(training[(4, 'accuracy')])
    assert report['loss'] == pytest.approx(training[(4, 'loss')], abs=1e-6)
