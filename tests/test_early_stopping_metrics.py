"""Early stopping (and its best export) and MODEL_DIR/metrics.csv."""

import csv
import json
import logging
import os
import re

import pytest

from jacktf.core.errors import ConfigError
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.optim.optimizers import sgd
from jacktf.train.callbacks import EarlyStopping
from jacktf.train.trainer import Trainer


@pytest.mark.slow
def test_stops_after_patience_evaluations_without_gain_and_exports_the_best(
        tmp_path, default_registry, caplog):
    # A learning rate of 1e-12 and batch norm in inference mode: the eval metrics stay
    # put, so the first evaluation (step 2) is the last gain and patience 2 ends at step
    # 6; of the tied evaluations best-k keeps the latest (step 6).
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry, train_batch_norm=False)
    stopper = EarlyStopping(metric='loss', patience=2, min_delta=1e-3)
    trainer = Trainer(train_steps=40, optimizer=sgd, learning_rate=1e-12,
                      log_every_steps=1, eval_every_steps=2, checkpoint_every_steps=100,
                      callbacks=[stopper])
    exp = Experiment(model_dir=str(tmp_path), model=model, trainer=trainer,
                     train_files='demo://train', eval_files='demo://validation',
                     batch_size=8)
    logger = logging.getLogger('jacktf')
    propagate, logger.propagate = logger.propagate, True
    try:
        with caplog.at_level(logging.INFO, logger='jacktf'):
            summary = exp.run('train_and_eval')
    finally:
        logger.propagate = propagate
    assert 'Early stopping at step 6: eval loss has not improved' in caplog.text
    assert summary['step'] == 6 and stopper.stopped_at == 6
    assert summary['checkpoint'].endswith('ckpt-6')
    best = json.load(open(tmp_path / 'best' / 'best.json'))
    assert [e['step'] for e in best] == [6] and 'loss' in best[0]
    assert summary['eval_export_best'].endswith(os.path.join('export_best', '6'))
    assert summary['eval_export'].endswith(os.path.join('export', '6'))
    # metrics.csv: one row per evaluation (no second one for the last step).
    with open(tmp_path / 'metrics.csv') as f:
        rows = list(csv.DictReader(f))
    assert [int(r['step']) for r in rows] == [2, 4, 6]
    assert list(rows[0]) == ['step', 'stage', 'train_loss', 'train_accuracy', 'eval_loss',
                             'eval_accuracy', 'learning_rate', 'eval_macro_f1',
                             'eval_balanced_accuracy', 'eval_min_recall']
    assert {r['stage'] for r in rows} == {'0'}
    assert float(rows[-1]['eval_loss']) == pytest.approx(summary['eval_loss'], rel=1e-5)
    assert float(rows[-1]['eval_accuracy']) == pytest.approx(summary['eval_accuracy'])
    assert float(rows[0]['learning_rate']) == pytest.approx(1e-12)
    # train_loss: the mean of the progress lines' losses of steps 5 and 6.
    lines = {int(s): float(v) for s, v in re.findall(r'step (\d+)/40  loss ([0-9.]+)',
                                                     caplog.text)}
    assert float(rows[-1]['train_loss']) == pytest.approx((lines[5] + lines[6]) / 2,
                                                          abs=1e-3)


@pytest.mark.slow
def test_a_resumed_run_drops_rows_after_its_start(tmp_path, default_registry):
    def run(steps):
        model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                      preprocessing='simple', registry=default_registry)
        trainer = Trainer(train_steps=steps, optimizer=sgd, learning_rate=0.01,
                          eval_every_steps=2, checkpoint_every_steps=2)
        return Experiment(model_dir=str(tmp_path), model=model, trainer=trainer,
                          train_files='demo://train', eval_files='demo://validation',
                          batch_size=4, export_at_end=False).run('train_and_eval')
    run(4)
    # A row past the last checkpoint (as a run killed after its evaluation leaves).
    with open(tmp_path / 'metrics.csv', 'a') as f:
        f.write('5,0,0.1,0.5,0.2,0.5,0.01\n')
    run(6)
    with open(tmp_path / 'metrics.csv') as f:
        assert [int(r['step']) for r in csv.DictReader(f)] == [2, 4, 6]


def test_early_stopping_rejects_unknown_metric():
    with pytest.raises(ConfigError, match="early_stopping.metric must be one of"):
        EarlyStopping(metric='top5')


@pytest.mark.slow
def test_a_resumed_run_keeps_counting_patience(tmp_path, default_registry):
    # The eval loss stays put (learning rate 1e-12): best at step 2. A first run ends at
    # step 4 (one evaluation without gain); resumed with patience 2 it stops at step 6,
    # where the uninterrupted run stops, not at step 8.
    def run(steps):
        model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                      preprocessing='simple', registry=default_registry,
                      train_batch_norm=False)
        stopper = EarlyStopping(metric='loss', patience=2, min_delta=1e-3)
        trainer = Trainer(train_steps=steps, optimizer=sgd, learning_rate=1e-12,
                          eval_every_steps=2, checkpoint_every_steps=2, callbacks=[stopper])
        summary = Experiment(model_dir=str(tmp_path), model=model, trainer=trainer,
                             train_files='demo://train', eval_files='demo://validation',
                             batch_size=8, export_at_end=False).run('train_and_eval')
        return summary, stopper
    summary, stopper = run(4)
    assert summary['step'] == 4 and stopper.stopped_at is None and stopper.wait == 1
    summary, stopper = run(40)
    assert stopper.stopped_at == 6 and summary['step'] == 6
    assert stopper.best_step == 2
