"""Multi-label runs: the settings that do not apply say so; one end-to-end run (slow):
convert a CSV, fine-tune, thresholds per step, SavedModel outputs and `jacktf predict`."""

import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.core.errors import ConfigError
from jacktf.data import decoders
from jacktf.train import data_plan
from conftest import run_cli


def _run(decoder, class_weight=None, sampling=None):
    experiment = types.SimpleNamespace(decode_fn=decoder, decoder_name='some_decoder',
                                       sampling=sampling)
    model = types.SimpleNamespace(head_name='multilabel_logits', multi_label=True)
    trainer = types.SimpleNamespace(class_weight=class_weight)
    data_plan.multilabel_checks(experiment, model, trainer)


def test_settings_that_do_not_apply_to_multilabel_say_what_to_use():
    multi = decoders.tfexample_multilabel()
    _run(multi)  # fine
    with pytest.raises(ConfigError, match="Experiment.decoder = 'tfexample_multilabel'"):
        _run(decoders.tfexample_classification())
    with pytest.raises(ConfigError, match="class_weight = 'balanced' does not apply.*"
                                          "Model.pos_weight = 'balanced'"):
        _run(multi, class_weight='balanced')
    with pytest.raises(ConfigError, match="sampling = 'balanced' does not apply"):
        _run(multi, sampling='balanced')


def test_best_k_ranks_multilabel_runs_by_map(tmp_path):
    from jacktf.train.callbacks.checkpoints import BestK
    for multi, expected in ((True, 'mAP'), (False, 'accuracy')):
        ctl = types.SimpleNamespace(write_dir=str(tmp_path), checkpoint=None,
                                    model=types.SimpleNamespace(multi_label=multi))
        BestK(keep=1).on_train_begin(ctl)
        assert ctl.best.metric == expected
    BestK(keep=1, metric='macro_f1').on_train_begin(ctl)
    assert ctl.best.metric == 'macro_f1'


def _dataset(root, count=36, seed=0):
    """Images of 2x2 cells; a cell is red, green or blue when its label is present."""
    rng = np.random.default_rng(seed)
    colours = np.array([[230, 30, 30], [30, 230, 30], [30, 30, 230]], np.uint8)
    os.makedirs(root, exist_ok=True)
    rows = []
    for i in range(count):
        labels = sorted(rng.permutation(3)[:1 + i % 3].tolist())
        image = np.full([48, 48, 3], 128, np.uint8)
        for cell, label in zip(rng.permutation(4), labels):
            r, c = divmod(int(cell), 2)
            image[r * 24:(r + 1) * 24, c * 24:(c + 1) * 24] = colours[label]
        Image.fromarray(image).save(os.path.join(root, f'{i}.png'))
        rows.append((f'{i}.png', [['red', 'green', 'blue'][j] for j in labels]))
    with open(os.path.join(root, 'labels.csv'), 'w') as f:
        f.write('path,labels\n' + ''.join(f'{n},{"|".join(l)}\n' for n, l in rows))
    return os.path.join(root, 'labels.csv')


@pytest.mark.slow
def test_multilabel_csv_to_predict_end_to_end(tmp_path, capsys):
    from jacktf import cli
    from jacktf.evaluation import multilabel
    csv_path = _dataset(str(tmp_path / 'images'))
    tfr, model_dir = str(tmp_path / 'tfr'), str(tmp_path / 'run')
    assert cli.main(['convert', '--labels_csv', csv_path, '--output_dir', tfr,
                     '--val_fraction', '0.33', '--workers', '1']) == 0
    # the default head and decoder: the data's dataset.json makes the run multi-label
    r = run_cli(['jacktf.run', '--gin_file=gin/demo.gin', f'--model_dir={model_dir}',
                 f"--gin_param=TRAIN_FILES = '{tfr}/train-*.tfrecord'",
                 f"--gin_param=EVAL_FILES = '{tfr}/validation-*.tfrecord'",
                 '--gin_param=NUM_CLASSES = 3', '--gin_param=IMAGE_SIZE = 64',
                 '--gin_param=BATCH_SIZE = 8', '--gin_param=TRAIN_STEPS = 6',
                 '--gin_param=periodic_eval.every_epochs = None',
                 '--gin_param=periodic_eval.every_steps = 3',
                 '--gin_param=Experiment.preview_images = 0',
                 '--gin_param=best_k.keep = 0'])  # one export (best-k: a test above)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert 'Multi-label data (tfexample_multilabel)' in r.stdout
    with open(os.path.join(model_dir, 'eval', 'metrics.json')) as f:
        report = json.load(f)
    assert report['multi_label'] and report['class_names'] == ['blue', 'green', 'red']
    assert 0 <= report['mAP'] <= 1 and len(report['thresholds']) == 3
    assert os.path.isfile(os.path.join(model_dir, 'eval', 'pr_curves.png'))
    assert multilabel.thresholds_for(model_dir, 3) is not None
    export = os.path.join(model_dir, 'export', '6')
    loaded = tf.saved_model.load(export)
    thresholds = multilabel.thresholds_for(model_dir, 6)
    np.testing.assert_allclose(loaded.label_thresholds.numpy(), thresholds, rtol=1e-6)
    images = [os.path.join(tmp_path, 'images', f'{i}.png') for i in range(4)]
    out = loaded.signatures['serving_default'](
        images=tf.constant([open(p, 'rb').read() for p in images]))
    probs = out['probabilities'].numpy()
    expected = probs >= np.asarray(thresholds)
    assert out['predicted'].numpy().tolist() == expected.astype(int).tolist()
    names = ['blue', 'green', 'red']
    sets = ['|'.join(n for n, on in zip(names, row) if on) for row in expected]
    assert [s.decode() for s in out['label_set'].numpy()] == sets
    capsys.readouterr()
    assert cli.main(['predict', '--model', export, '--json', *images]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert ['|'.join(p['class_name'] for p in sorted(row['labels'],
                                                      key=lambda p: p['class']))
            for row in rows] == sets
    assert cli.main(['predict', '--model', export, images[0]]) == 0
    assert "LABELS (probability >= the label's tuned threshold)" in capsys.readouterr().out
    # The Python API answers with the same label sets, from the checkpoint.
    from jacktf import Learner
    answer = Learner.load(model_dir).predict(images)
    assert ['|'.join(labels) for labels in answer.labels] == sets
    np.testing.assert_allclose(answer.probabilities, probs, atol=1e-5)
    assert cli.main(['eval', '--model_dir', model_dir]) == 0
    assert f"mAP {report['mAP']:.4f}" in capsys.readouterr().out  # the same checkpoint


def test_multilabel_data_turns_a_linear_head_multilabel(tmp_path, default_registry):
    from jacktf.app import multilabel_wiring
    from jacktf.core.model import Model
    (tmp_path / 'train-00000-of-00001.tfrecord').write_bytes(b'')
    pattern = str(tmp_path / 'train-*.tfrecord')
    (tmp_path / 'dataset.json').write_text(json.dumps({'multi_label': False}))
    model = Model(backbone='mobilenet_v1_025', num_classes=3, image_size=32,
                  registry=default_registry)
    single = decoders.tfexample_classification()
    name, decode = multilabel_wiring.match_decoder(model, 'tfexample_classification',
                                                   single, pattern)
    assert (name, decode, model.multi_label) == ('tfexample_classification', single, False)
    (tmp_path / 'dataset.json').write_text(json.dumps({'multi_label': True}))
    name, decode = multilabel_wiring.match_decoder(model, 'tfexample_classification',
                                                   single, pattern)
    assert name == 'tfexample_multilabel' and decode.multi_label and model.multi_label
    assert not multilabel_wiring.data_is_multilabel('demo://train')
