"""jacktf.Learner, the Python API: a run opened from its model directory predicts,
evaluates and draws through the CLI's own code paths; options are gin bindings; user
mistakes are jacktf exceptions (never SystemExit). The end-to-end door (from_folder ->
fine_tune -> evaluate -> predict -> export -> load) is one slow test."""

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from jacktf.core.errors import ConfigError, DataError
from jacktf.data import demo
from conftest import ROOT

CLASSES = ('dots', 'stripes')  # demo.render: label 0 stripes, 1 dots


def _folder(root, per_class, size=40, seed=0):
    """A labelled folder of demo images (PNG): root/dots, root/stripes."""
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            image = demo.render(rng, size, 1 if name == 'dots' else 0)
            Image.fromarray(image).save(os.path.join(root, name, f'{name}_{i}.png'))
    return str(root)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """A tiny run made once, in this process: the tiny from-scratch recipe, 2 steps at
    32x32, no eval, no export."""
    from jacktf.app import runtime
    model_dir = str(tmp_path_factory.mktemp('learner') / 'run')
    runtime.train([os.path.join(ROOT, 'gin', 'tiny_from_scratch.gin')], [
        'TRAIN_STEPS = 2', 'IMAGE_SIZE = 32', 'BATCH_SIZE = 8',
        'periodic_eval.every_steps = None', 'Experiment.export_at_end = False',
        'Experiment.preview_images = 0'], model_dir, mode='train')
    return model_dir


@pytest.fixture(scope='module')
def learn(run):
    from jacktf import Learner
    return Learner.load(run, **{'Experiment.shuffle_buffer': 16})  # a quick first batch


def test_predict_paths_arrays_and_batches_give_the_serving_numbers(learn, tmp_path):
    import tensorflow as tf
    rng = np.random.default_rng(3)
    arrays = [demo.render(rng, 40, 0), demo.render(rng, 56, 1)]
    paths = []
    for i, array in enumerate(arrays):
        paths.append(str(tmp_path / f'{i}.png'))
        Image.fromarray(array).save(paths[-1])
    from_files = learn.predict(paths)
    from_arrays = learn.predict(arrays)
    # A PNG file and its pixels are the same input: the same numbers, exactly.
    np.testing.assert_array_equal(from_files.probabilities, from_arrays.probabilities)
    assert from_files.probabilities.shape == (2, 2)
    assert from_files.probabilities.dtype == np.float32
    np.testing.assert_allclose(from_files.probabilities.sum(1), 1.0, atol=1e-6)
    assert from_files.labels == [learn.class_names[i] for i in
                                 from_files.probabilities.argmax(1)]
    assert learn.class_names == ['stripes', 'dots']  # the run's labels.txt order
    # The model's own eval path on the decoded pixels gives the same probabilities.
    model = learn.experiment.model
    for array, row in zip(arrays, from_files.probabilities):
        logits = model.predict(model.preprocess(tf.constant(array), training=False)[None],
                               training=False)['logits']
        np.testing.assert_allclose(tf.nn.softmax(logits)[0].numpy(), row, atol=1e-5)
    # One path, one array, a grayscale array and a batch [N, H, W, 3] are accepted.
    # (Other batch sizes: the same numbers within float noise.)
    single = learn.predict(paths[0])
    np.testing.assert_allclose(single.probabilities, from_files.probabilities[:1], atol=1e-6)
    batch = learn.predict(np.stack([arrays[0], arrays[0]]))
    np.testing.assert_allclose(batch.probabilities[1], from_arrays.probabilities[0],
                               atol=1e-6)
    gray = arrays[0][..., 0]
    np.testing.assert_array_equal(learn.predict(gray).probabilities,
                                  learn.predict(np.stack([gray] * 3, -1)).probabilities)


def test_evaluate_a_folder_agrees_with_predict_and_the_plots_reuse_it(learn, tmp_path,
                                                                     caplog):
    from matplotlib.figure import Figure
    data = _folder(tmp_path / 'test', per_class=3)
    report = learn.evaluate(data, top_losses=4)
    files = [os.path.join(data, name, f'{name}_{i}.png') for name in CLASSES
             for i in range(3)]
    predicted = learn.predict(files).labels
    truth = [name for name in CLASSES for _ in range(3)]
    hits = sum(p == t for p, t in zip(predicted, truth))
    assert report['examples'] == 6
    assert report['accuracy'] == report['top_1_accuracy'] == pytest.approx(hits / 6)
    assert report['top_k'] == {}  # two classes: top-2 says nothing
    matrix = np.array(report['confusion_matrix'])
    assert matrix.sum() == 6 and np.trace(matrix) == hits
    assert set(report['per_class']) == {'stripes', 'dots'}
    assert report['per_class']['dots']['support'] == 3
    assert os.path.isfile(report['report_path'])
    with caplog.at_level(logging.INFO, logger='jacktf'):
        caplog.clear()
        confusion = learn.plot_confusion_matrix(data)
        gallery = learn.plot_top_losses(2, data)
    assert not [r for r in caplog.records if 'eval of' in r.getMessage()]  # reused
    assert isinstance(confusion, Figure) and isinstance(gallery, Figure)
    assert len(confusion.axes) == 4  # counts and recall, each with its colour bar
    texts = [t.get_text() for t in confusion.axes[0].texts]
    assert sorted(map(int, texts)) == sorted(matrix.ravel().tolist())
    assert f'{hits / 6:.4f}' in confusion._suptitle.get_text()


def test_show_batch_is_a_figure_of_the_training_batch(learn):
    from matplotlib.figure import Figure
    figure = learn.show_batch(count=4)
    assert isinstance(figure, Figure)
    shown = [ax for ax in figure.axes if ax.images]
    assert len(shown) == 4
    assert {ax.get_title() for ax in shown} <= {'stripes', 'dots'}
    assert shown[0].images[0].get_array().shape == (32, 32, 3)


def test_options_are_gin_bindings(run):
    from jacktf import Learner
    from jacktf.app.learner_io import bindings
    assert bindings(['A = 1'], {'periodic_eval.every_steps': 50, 'Model.head': '@logits',
                                'EVAL_FILES': 'data/val', 'scope/X.y': None}) == [
        'A = 1', 'periodic_eval.every_steps = 50', 'Model.head = @logits',
        "EVAL_FILES = 'data/val'", 'scope/X.y = None']
    learn = Learner.load(run, **{'Experiment.eval_batch_size': 3})
    assert learn.experiment.eval_batch_size == 3


def test_mistakes_are_jacktf_errors_with_the_cli_messages(learn, run, tmp_path):
    from jacktf import Learner
    with pytest.raises(ConfigError, match='no such folder'):
        Learner.load(str(tmp_path / 'missing'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ConfigError, match='operative_config.gin not found'):
        Learner.load(str(tmp_path / 'empty'))
    with pytest.raises(ConfigError, match='not a gin name'):
        Learner.load(run, **{'bad name': 1})
    missing = str(tmp_path / 'nope.jpg')
    with pytest.raises(DataError, match='nope.jpg'):
        learn.predict([missing])
    (tmp_path / 'junk.jpg').write_bytes(b'not an image')
    with pytest.raises(DataError, match='junk.jpg'):
        learn.predict(str(tmp_path / 'junk.jpg'))
    with pytest.raises(DataError, match='dtype float64.*uint8'):
        learn.predict(np.zeros((8, 8, 3)))
    with pytest.raises(DataError, match=r'#1 has shape \(8, 8, 4\)'):
        learn.predict([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 4), np.uint8)])
    with pytest.raises(DataError, match='is a folder'):
        learn.predict(str(tmp_path))
    with pytest.raises(ConfigError, match='opened with Learner.load'):
        learn.fine_tune(epochs=1)
    with pytest.raises(ConfigError, match='not an export format'):
        learn.export(['tflite:float', 'coreml'])


def test_import_jacktf_stays_light():
    code = ('import sys, jacktf\n'
            'assert "jacktf.app" not in sys.modules and "tensorflow" not in sys.modules\n'
            'print(jacktf.Learner.__module__)\n')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == 'jacktf.app.learner'


@pytest.mark.slow
def test_from_folder_to_export_and_back(tmp_path, capsys):
    """The five lines, at tiny settings: from_folder -> fine_tune (2 steps) -> evaluate
    -> predict (a path and an array) -> export TFLite float -> Learner.load gives the
    same predictions, and `jacktf predict` on the run gives the same numbers."""
    from jacktf import Learner, cli
    photos = _folder(tmp_path / 'photos', per_class=8, size=48)
    test = _folder(tmp_path / 'test_photos', per_class=2, size=48, seed=1)
    model_dir = str(tmp_path / 'runs' / 'photos')
    learn = Learner.from_folder(photos, model_dir=model_dir, image_size=32, batch_size=4,
                                **{'periodic_eval.every_epochs': None,
                                   'Experiment.preview_images': 0,
                                   'Experiment.export_at_end': False})
    assert json.load(open(os.path.join(model_dir, 'split.json')))['data']
    summary = learn.fine_tune(steps=2)
    assert summary['classes'] == ['dots', 'stripes']
    assert os.path.isfile(os.path.join(model_dir, 'checkpoints', 'ckpt-2.index'))
    report = learn.evaluate(test)
    assert report['examples'] == 4
    image = os.path.join(test, 'dots', 'dots_0.png')
    array = np.asarray(Image.open(os.path.join(test, 'stripes', 'stripes_1.png')))
    first = learn.predict([image, array])
    assert first.probabilities.shape == (2, 2)
    exported = learn.export(['tflite:float'], verify_count=4)
    tflite = exported['tflite'][0]['path']
    assert tflite.endswith('float.tflite') and os.path.isfile(tflite)
    assert not exported.get('failed')
    again = Learner.load(model_dir)
    np.testing.assert_allclose(again.predict([image, array]).probabilities,
                               first.probabilities, atol=1e-6)
    # The CLI opens the Python run: `jacktf predict` on its SavedModel export.
    capsys.readouterr()
    try:
        assert cli.main(['predict', '--model', model_dir, image, '--json']) == 0
    finally:
        logging.getLogger('jacktf').handlers.clear()  # it wrote to capsys's stream
    rows = json.loads(capsys.readouterr().out)
    top = rows[0]['predictions'][0]
    assert top['class_name'] == first.labels[0]
    assert top['probability'] == pytest.approx(float(first.probabilities[0].max()),
                                               abs=1e-5)


def test_figures_show_inline_in_ipython_and_notebooks_get_the_bar(monkeypatch):
    import types
    code = ('from IPython.core.interactiveshell import InteractiveShell\n'
            'from jacktf.app.learner_io import shown\n'
            'from matplotlib.figure import Figure\n'
            'shell = InteractiveShell.instance()\n'
            'figure = Figure(figsize=(1, 1))\n'
            'figure.subplots().plot([0, 1])\n'
            'assert "image/png" not in shell.display_formatter.format(figure)[0]\n'
            'shown(figure)\n'
            'data, _ = shell.display_formatter.format(figure)\n'
            'print(data["image/png"][:4])\n')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith("b'\\x89PNG'")
    from jacktf.train.callbacks import progress
    ctl = types.SimpleNamespace(chief=True)
    assert not progress.in_notebook()  # pytest is no notebook: lines only, no bar
    assert not progress.Progress().wants_bar(ctl)
    monkeypatch.setattr(progress, 'in_notebook', lambda: True)
    assert progress.Progress().wants_bar(ctl)
    assert not progress.Progress(bar=False).wants_bar(ctl)
