"""The operating point: ranking metrics from the confusion matrix, best-k by any of them
(min_recall keeps another checkpoint than accuracy on skewed data), the two-class
threshold curve, its picture and the copy an export stores."""

import json
import os
import types

import numpy as np
import pytest

from jacktf.core.errors import ConfigError
from jacktf.evaluation import operating_point as op
from jacktf.evaluation import report as report_lib
from jacktf.serve import model_card
from jacktf.train.callbacks import BestK, CallbackList, EarlyStopping, PeriodicEval

# 90 images of 'common', 10 of 'rare'. Step 1 calls everything common: accuracy 0.90 but
# the rare class is never found. Step 2 finds 8 of the 10 rare ones for 10 false alarms.
SKEWED = {1: [[90, 0], [10, 0]], 2: [[80, 10], [2, 8]], 3: [[85, 5], [5, 5]]}


def test_rank_metrics_of_a_known_confusion_matrix():
    m = op.rank_metrics([[80, 10], [2, 8]])
    assert m['accuracy'] == pytest.approx(0.88)
    assert m['balanced_accuracy'] == pytest.approx((80 / 90 + 0.8) / 2)
    assert m['min_recall'] == pytest.approx(0.8) and m['worst_class'] == 1
    f1_common = 2 * (80 / 82) * (80 / 90) / (80 / 82 + 80 / 90)
    f1_rare = 2 * (8 / 18) * 0.8 / (8 / 18 + 0.8)
    assert m['macro_f1'] == pytest.approx((f1_common + f1_rare) / 2)
    # A class absent from the eval data has no recall: it is not the worst class.
    three = op.rank_metrics([[5, 1, 0], [0, 0, 0], [2, 0, 2]])
    assert three['min_recall'] == pytest.approx(0.5) and three['worst_class'] == 2
    assert op.rank_metrics([[90, 0], [10, 0]])['min_recall'] == 0.0


class _Checkpoint:
    """Writes empty checkpoint files (what best-k checks for)."""

    def write(self, prefix):
        os.makedirs(os.path.dirname(prefix), exist_ok=True)
        for suffix in ('.index', '.data-00000-of-00001'):
            open(prefix + suffix, 'w').close()
        return prefix


def _keep_best(tmp_path, metric, callbacks=()):
    ctl = types.SimpleNamespace(write_dir=str(tmp_path / metric), checkpoint=_Checkpoint(),
                                model_dir=str(tmp_path / metric), start_step=0,
                                eval_dataset=object(), best=None,
                                callbacks=CallbackList([PeriodicEval(every_steps=1)]),
                                trainer=types.SimpleNamespace(train_steps=10))
    best_k = BestK(keep=1, metric=metric)
    best_k.on_train_begin(ctl)
    for callback in callbacks:
        callback.on_train_begin(ctl)
    for step, matrix in SKEWED.items():
        metrics = dict(op.rank_metrics(matrix), loss=1.0 / step)
        best_k.on_eval_end(ctl, step, metrics)
        for callback in callbacks:
            callback.on_eval_end(ctl, step, metrics)
    with open(os.path.join(ctl.write_dir, 'best', 'best.json')) as f:
        return json.load(f)


def test_best_k_by_min_recall_keeps_another_checkpoint_than_accuracy(tmp_path):
    by_accuracy = _keep_best(tmp_path, 'accuracy')
    by_min_recall = _keep_best(tmp_path, 'min_recall')
    # accuracy ties at 0.9 on steps 1 and 3: the later step is kept
    assert [(e['step'], e['accuracy']) for e in by_accuracy] == [(3, 0.9)]
    assert [(e['step'], e['min_recall']) for e in by_min_recall] == [(2, 0.8)]
    assert by_min_recall[0]['checkpoint'] == os.path.join('best', 'ckpt-2')
    assert _keep_best(tmp_path, 'balanced_accuracy')[0]['step'] == 2
    assert _keep_best(tmp_path, 'loss')[0]['step'] == 3  # lowest loss: the last step
    # Early stopping ranks best-k by its own metric, with the same names.
    stopper = EarlyStopping(metric='min_recall', patience=5)
    ranked = _keep_best(tmp_path / 'es', 'accuracy', [stopper])
    assert [e['step'] for e in ranked] == [2] and stopper.best_step == 2
    with pytest.raises(ConfigError, match="best_k.metric must be one of"):
        BestK(metric='recall')


def test_threshold_curve_and_the_thresholds_for_targets():
    labels = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    curve = op.threshold_curve(labels, scores)
    assert curve['precision'].tolist() == pytest.approx(
        [1, 1, 2 / 3, 3 / 4, 3 / 5, 3 / 6, 4 / 7, 4 / 8])
    assert curve['recall'].tolist() == pytest.approx([.25, .5, .5, .75, .75, .75, 1, 1])
    # AP = sum over recall steps of precision: .25*1 + .25*1 + .25*.75 + .25*4/7.
    assert curve['average_precision'] == pytest.approx(0.25 * (2 + 0.75 + 4 / 7))
    assert op.threshold_for(curve, precision=0.75) == {
        'threshold': 0.6, 'precision': 0.75, 'recall': 0.75}
    assert op.threshold_for(curve, recall=1.0)['threshold'] == 0.3
    assert op.threshold_for(curve, precision=1.0)['recall'] == 0.5
    tied = op.threshold_curve([0, 1, 1], [0.5, 0.5, 0.9])  # one point per distinct score
    assert tied['thresholds'].tolist() == [0.9, 0.5]
    assert tied['precision'].tolist() == pytest.approx([1, 2 / 3])


def test_two_class_report_picture_and_export_copy(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(40, int), np.ones(20, int)]
    p1 = np.clip(labels * 0.5 + rng.uniform(0, 0.5, 60), 0, 1)
    report = report_lib.classification_report(labels, np.c_[1 - p1, p1], ['ok', 'defect'])
    assert report['per_class']['defect']['recall'] == pytest.approx(
        float((p1[labels == 1] > 0.5).mean()))
    section = report['threshold_curve']
    assert section['positive_class'] == 'defect'
    assert section['for_recall']['0.99']['recall'] >= 0.99
    assert section['for_precision']['0.95']['precision'] >= 0.95
    assert len(section['curve']['thresholds']) <= op.CURVE_POINTS
    assert report['min_recall'] == min(v['recall'] for v in report['per_class'].values())
    report['step'] = 7
    path, images = report_lib.write_report(report, str(tmp_path / 'eval'))
    assert images['precision_recall'].ndim == 3
    assert os.path.getsize(tmp_path / 'eval' / op.PICTURE) > 5000
    json.loads(open(path).read())  # JSON-ready
    point = op.for_export(report)
    assert point['evaluated']['step'] == 7 and 'curve' not in point
    folder = tmp_path / 'eval' / 'operating_points'
    folder.mkdir()
    (folder / 'step-7.json').write_text(json.dumps(point))
    (tmp_path / 'export').mkdir()
    assert model_card.store_operating_point(str(tmp_path), 7, str(tmp_path / 'export'))
    assert json.load(open(tmp_path / 'export' / 'operating_point.json')) == point
    assert model_card.operating_point_of(str(tmp_path), 8) is None
    lines = op.format_lines(report)
    assert lines[0].startswith('balanced accuracy') and 'precision >= 0.95: threshold' \
        in '\n'.join(lines)
    three = report_lib.classification_report([0, 1, 2], np.eye(3), ['a', 'b', 'c'])
    assert 'threshold_curve' not in three and op.for_export(three) is None


@pytest.mark.slow
def test_a_run_keeps_and_exports_its_best_checkpoint_by_min_recall(tmp_path,
                                                                    default_registry):
    import csv
    from jacktf.app.experiment import Experiment
    from jacktf.core.model import Model
    from jacktf.optim.optimizers import sgd
    from jacktf.train.trainer import Trainer
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry)
    trainer = Trainer(train_steps=6, optimizer=sgd, learning_rate=0.05, log_every_steps=2,
                      eval_every_steps=2, checkpoint_every_steps=100)
    trainer.callback_settings['best_k'] = {'keep': 1, 'metric': 'min_recall'}
    Experiment(model_dir=str(tmp_path), model=model, trainer=trainer,
               train_files='demo://train', eval_files='demo://validation', batch_size=8,
               preview_images=0).run('train_and_eval')
    with open(tmp_path / 'metrics.csv') as f:
        rows = [(int(r['step']), float(r['eval_min_recall'])) for r in csv.DictReader(f)]
    assert [s for s, _ in rows] == [2, 4, 6]
    best_step = max(rows, key=lambda r: (r[1], r[0]))[0]  # ties: the latest
    with open(tmp_path / 'best' / 'best.json') as f:
        kept = json.load(f)
    assert [e['step'] for e in kept] == [best_step]
    assert kept[0]['min_recall'] == pytest.approx(dict(rows)[best_step], abs=1e-5)
    for folder, step in (('export_best', best_step), ('export', 6)):
        with open(tmp_path / folder / str(step) / 'operating_point.json') as f:
            point = json.load(f)
        assert point['evaluated']['step'] == step and point['positive_class']
        assert set(point['for_precision']) == {'0.8', '0.9', '0.95', '0.99'}
    assert (tmp_path / 'eval' / op.PICTURE).exists()
