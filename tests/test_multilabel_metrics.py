"""Multi-label loss, head, metrics and threshold tuning, with exact values."""

import numpy as np
import pytest
import tensorflow as tf

from jacktf.core import multilabel_loss
from jacktf.core.errors import ConfigError
from jacktf.data import augment
from jacktf.evaluation import multilabel, multilabel_metrics as mm


def test_average_precision_exact_values():
    # ranks: + - + -  -> precision at the positives 1/1 and 2/3 -> AP (1 + 2/3) / 2
    assert mm.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(5 / 6)
    assert mm.average_precision([1, 1, 0], [0.9, 0.8, 0.1]) == 1.0
    assert np.isnan(mm.average_precision([0, 0], [0.3, 0.2]))
    # tied scores count as one step (scikit-learn's convention): P = 1/2 at R = 1
    assert mm.average_precision([1, 0], [0.5, 0.5]) == pytest.approx(0.5)


def test_map_macro_skips_labels_without_positives_and_micro_pools():
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    p = np.array([[0.9, 0.2, 0.1], [0.3, 0.8, 0.2], [0.6, 0.4, 0.3]])
    result = mm.mean_average_precision(y, p)
    assert result['per_label'][0] == 1.0 and result['per_label'][1] == 1.0
    assert np.isnan(result['per_label'][2]) and result['macro'] == 1.0
    # pooled: scores .9+ .8+ .6+ .4+ .3- .3- .2- .2- .1-: all four positives first
    assert result['micro'] == 1.0


def test_scores_and_exact_match_at_thresholds():
    y = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    p = np.array([[0.9, 0.6], [0.4, 0.7], [0.2, 0.8], [0.1, 0.1]])
    at_half = mm.scores_at(y, p, 0.5, ['a', 'b'])
    # a: tp 1 fn 1 -> P 1, R .5, F1 2/3; b: tp 2 fp 1 -> P 2/3, R 1, F1 .8
    assert at_half['per_label']['a'] == {'precision': 1.0, 'recall': 0.5,
                                         'f1': pytest.approx(2 / 3), 'support': 2}
    assert at_half['per_label']['b']['f1'] == pytest.approx(0.8)
    assert at_half['macro_f1'] == pytest.approx((2 / 3 + 0.8) / 2)
    assert at_half['micro_f1'] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert at_half['exact_match'] == pytest.approx(2 / 4)  # rows 3 and 4
    tuned = mm.scores_at(y, p, [0.3, 0.65], ['a', 'b'])
    assert tuned['macro_f1'] == 1.0 and tuned['exact_match'] == 1.0


def test_threshold_tuning_max_f1_and_target_precision():
    y = [1, 1, 0, 1, 0, 0]
    p = [0.95, 0.8, 0.7, 0.6, 0.3, 0.1]
    # best F1 keeps the top 4 (P .75, R 1, F1 6/7): threshold midway 0.6 .. 0.3
    assert mm.tune_threshold(y, p) == pytest.approx(0.45)
    # precision 1 holds down to the second score: midway 0.8 .. 0.7
    assert mm.tune_threshold(y, p, target_precision=1.0) == pytest.approx(0.75)
    assert mm.tune_threshold([0, 0], [0.9, 0.1]) == 0.5
    t = mm.tune_thresholds(np.array([y, y]).T, np.array([p, p]).T)
    assert t == pytest.approx([0.45, 0.45])


def test_report_tunes_thresholds_lists_top_losses_by_summed_bce():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], np.float32)
    p = np.array([[0.9, 0.2], [0.3, 0.45], [0.6, 0.9], [0.1, 0.1]])
    losses = mm.binary_cross_entropy(y, p)
    assert losses[0] == pytest.approx(-np.log(0.9) - np.log(0.8))
    report = multilabel.report_of(y, p, losses, ['a', 'b'], filenames=list('wxyz'),
                                  top_losses=2)
    assert report['mAP'] == 1.0 and report['macro_f1'] == 1.0
    assert report['exact_match'] == 1.0 and report['at_0.5']['exact_match'] == 0.75
    assert report['thresholds'] == pytest.approx([0.45, 0.325])
    assert [e['filename'] for e in report['top_losses']] == ['x', 'y']
    assert report['top_losses'][1]['true'] == ['a', 'b']
    assert report['top_losses'][1]['predicted'] == ['a', 'b']


def test_thresholds_are_kept_per_step(tmp_path):
    eval_dir = tmp_path / 'eval'
    multilabel.save_thresholds(str(eval_dir), 100, [0.3, 0.6], ['a', 'b'])
    multilabel.save_thresholds(str(eval_dir), 200, [0.4, 0.5], ['a', 'b'])
    assert multilabel.thresholds_for(str(tmp_path), 100) == [0.3, 0.6]
    assert multilabel.thresholds_for(str(tmp_path), 200) == [0.4, 0.5]
    assert multilabel.thresholds_for(str(tmp_path), 300) == [0.4, 0.5]  # the latest
    assert multilabel.thresholds_for(str(tmp_path), 100, num_classes=3) is None
    assert multilabel.thresholds_for(str(tmp_path / 'none')) is None


def test_bce_with_pos_weight_and_label_smoothing_exact():
    labels = tf.constant([[1.0, 0.0]])
    logits = tf.constant([[0.0, 2.0]])
    s = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    plain = -np.log(s(0.0)) - np.log(1 - s(2.0))
    got = multilabel_loss.binary_cross_entropy(labels, logits)
    assert got.numpy() == pytest.approx([plain], rel=1e-5)
    weighted = multilabel_loss.binary_cross_entropy(labels, logits, pos_weight=[3.0, 1.0])
    assert weighted.numpy() == pytest.approx([3 * -np.log(s(0.0)) - np.log(1 - s(2.0))],
                                             rel=1e-5)
    smooth = multilabel_loss.binary_cross_entropy(labels, logits, label_smoothing=0.2)
    t = np.array([0.9, 0.1])  # 1 -> 0.9, 0 -> 0.1
    q = s(np.array([0.0, 2.0]))
    expected = -(t * np.log(q) + (1 - t) * np.log(1 - q)).sum()
    assert smooth.numpy() == pytest.approx([expected], rel=1e-5)


def test_pos_weight_checks_and_balanced():
    assert multilabel_loss.check_pos_weight(2, 3) == [2.0, 2.0, 2.0]
    assert multilabel_loss.check_pos_weight('balanced', 3) == 'balanced'
    with pytest.raises(ConfigError, match='3 positive numbers'):
        multilabel_loss.check_pos_weight([1, 2], 3)
    assert multilabel_loss.balanced_pos_weight([10, 25], 50) == [4.0, 1.0]
    with pytest.raises(ConfigError, match='none of label \\[1\\]'):
        multilabel_loss.balanced_pos_weight([3, 0], 10)


def test_mixup_mixes_multi_hot_targets():
    images = tf.stack([tf.zeros([4, 4, 3]), tf.ones([4, 4, 3])])
    labels = tf.constant([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    ds = tf.data.Dataset.from_tensors((images, labels))
    mixed = next(iter(augment.batch_stage(ds, [augment.Mixup(alpha=0.4)], 3, seed=3)))
    im, lab = mixed[0].numpy(), mixed[1].numpy()
    lam = 1 - im[0, 0, 0, 0]  # image 0 = lam * zeros + (1 - lam) * ones
    assert lab[0] == pytest.approx([lam, 1 - lam, lam], abs=1e-6)
    assert lab[1] == pytest.approx([1 - lam, lam, 1 - lam], abs=1e-6)


def test_multilabel_head_makes_a_sigmoid_model(default_registry):
    from jacktf.core.model import Model
    model = Model(backbone='mobilenet_v1_025', num_classes=3, head='multilabel_logits',
                  image_size=32, registry=default_registry, pos_weight=[1, 2, 3])
    assert model.multi_label and model.pos_weight == [1.0, 2.0, 3.0]
    out = model.postprocess(tf.constant([[0.0, 2.0, -2.0]]))
    np.testing.assert_allclose(out['probabilities'].numpy(), [[0.5, 0.880797, 0.119203]],
                               atol=1e-6)
    assert out['predicted'].numpy().tolist() == [[True, True, False]]
    loss = model.loss(tf.constant([[1.0, 0.0, 1.0]]), tf.constant([[0.0, 0.0, 0.0]]))
    assert loss.numpy() == pytest.approx([np.log(2) * (1 + 1 + 3)], rel=1e-5)
    assert model.accuracy(tf.constant([[1.0, 0.0]]), tf.constant([[1.0, -1.0]])) == 1.0
    single = Model(backbone='mobilenet_v1_025', num_classes=3, image_size=32,
                   registry=default_registry)
    assert not single.multi_label
    single.set_multi_label(True)
    np.testing.assert_allclose(single.postprocess(tf.constant([[0.0, 0.0, 0.0]]))[
        'probabilities'].numpy(), [[0.5] * 3])
    single.set_multi_label(False)
    np.testing.assert_allclose(single.postprocess(tf.constant([[0.0, 0.0, 0.0]]))[
        'probabilities'].numpy(), [[1 / 3] * 3], rtol=1e-6)
