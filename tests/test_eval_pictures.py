"""What eval shows a person: the planted mislabeled images at the top of the top-losses
list (CSV and gallery), the confusion matrix and gallery as TensorBoard images, the
SavedModel's report next to the checkpoint's, CAM pictures with caption and scale, and
test-time augmentation equal to plain eval on mirror-symmetric images.

The data: 'bright' and 'dark' noise images (a tiny ResNet learns them in a few dozen
steps), converted by `jacktf convert` (which stores image/filename). The eval folder
holds PLANTED bright images filed under 'dark'; every eval image is mirror-symmetric.
"""

import csv
import glob
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli

TIMEOUT = 400
pytestmark = pytest.mark.slow  # one training run (about a minute) for all tests
PLANTED = 3
SIZE = 32


def _noise(rng, bright, symmetric):
    low, high = (165, 256) if bright else (0, 91)
    image = rng.integers(low, high, (SIZE, SIZE, 3), dtype=np.uint8)
    if symmetric:
        image[:, SIZE // 2:] = image[:, :SIZE // 2][:, ::-1]
    return image


def _folder(root, per_class, rng, symmetric, planted=0):
    for name, bright in (('bright', True), ('dark', False)):
        os.makedirs(os.path.join(root, name))
        for i in range(per_class):
            Image.fromarray(_noise(rng, bright, symmetric)).save(
                os.path.join(root, name, f'{name}_{i:02d}.png'))
    for i in range(planted):  # bright photos filed as dark: mislabeled
        Image.fromarray(_noise(rng, True, symmetric)).save(
            os.path.join(root, 'dark', f'planted_{i}.png'))


def _convert(image_dir, out):
    r = run_cli(['jacktf.cli', 'convert', '--image_dir', image_dir, '--output_dir', out,
                 '--val_fraction', '0', '--num_shards', '1', '--workers', '1'],
                timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    return os.path.join(out, 'train-*')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """A tiny ResNet trained 60 steps on bright-vs-dark, evaluated at the end."""
    root = tmp_path_factory.mktemp('pictures')
    rng = np.random.default_rng(0)
    _folder(str(root / 'train_images'), 48, rng, symmetric=False)
    _folder(str(root / 'eval_images'), 12, rng, symmetric=True, planted=PLANTED)
    train = _convert(str(root / 'train_images'), str(root / 'train'))
    evals = _convert(str(root / 'eval_images'), str(root / 'eval'))
    model_dir = str(root / 'model')
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
                 f'--model_dir={model_dir}', '--gin_param=TRAIN_STEPS = 60',
                 f'--gin_param=IMAGE_SIZE = {SIZE}', '--gin_param=BATCH_SIZE = 16',
                 f"--gin_param=TRAIN_FILES = '{train}'",
                 f"--gin_param=EVAL_FILES = '{evals}'",
                 '--gin_param=periodic_eval.every_steps = 30',
                 '--gin_param=Trainer.log_every_steps = 30'], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    return {'model_dir': model_dir, 'root': root, 'eval_files': evals,
            'symmetric': _symmetric_records(str(root / 'symmetric.tfrecord'), rng)}


def _symmetric_records(path, rng):
    """Mirror-symmetric PNGs (lossless: `jacktf convert` writes JPEGs, whose blocks
    break the symmetry by a few levels) in a TFRecord file."""
    import tensorflow as tf
    from jacktf.data.example import make_example
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(12):
            buffer = io.BytesIO()
            Image.fromarray(_noise(rng, i % 2 == 0, symmetric=True)).save(buffer, 'PNG')
            writer.write(make_example(encoded=buffer.getvalue(), image_format='png',
                                      label=i % 2, filename=f'sym_{i}.png'))
    return path


def _csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_planted_mislabeled_images_rank_at_the_top(run):
    rows = _csv(os.path.join(run['model_dir'], 'eval', 'top_losses.csv'))
    top = [os.path.basename(r['filename']) for r in rows[:PLANTED]]
    assert sorted(top) == [f'planted_{i}.png' for i in range(PLANTED)], rows
    for r in rows[:PLANTED]:
        assert r['true_label'] == 'dark' and r['predicted_label'] == 'bright'
        assert float(r['probability']) > 0.5 and float(r['loss']) > np.log(2)
        assert r['filename'] == f"dark/{os.path.basename(r['filename'])}"  # as converted
        assert 'record' in r['record']
    losses = [float(r['loss']) for r in rows]
    assert losses == sorted(losses, reverse=True)


def _event_images(folder, tag):
    """{step: uint8 [H, W, 3]} of the image summaries ``tag`` in ``folder``'s events,
    read back with TensorBoard's event reader."""
    from tensorboard.backend.event_processing import event_accumulator
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, 'events.out.tfevents.*'))):
        acc = event_accumulator.EventAccumulator(
            path, size_guidance={event_accumulator.TENSORS: 0})
        acc.Reload()
        if tag not in acc.Tags()['tensors']:
            continue
        for event in acc.Tensors(tag):
            width, height, png = event.tensor_proto.string_val[:3]
            image = np.asarray(Image.open(io.BytesIO(png)).convert('RGB'))
            assert image.shape[:2] == (int(height), int(width))
            found[event.step] = image
    return found


def test_tensorboard_holds_the_pictures_of_every_eval(run):
    folder = os.path.join(run['model_dir'], 'eval')
    matrices = _event_images(folder, 'eval/confusion_matrix')
    galleries = _event_images(folder, 'eval/top_losses')
    assert sorted(matrices) == [30, 60] and sorted(galleries) == [30, 60]
    # The last eval's pictures are the files on disk.
    on_disk = np.asarray(Image.open(os.path.join(folder, 'confusion_matrix.png')))
    assert np.array_equal(matrices[60], on_disk[..., :3])
    on_disk = np.asarray(Image.open(os.path.join(folder, 'top_losses.png')))
    assert np.array_equal(galleries[60], on_disk[..., :3])


def test_eval_command_reports_next_to_checkpoint_and_saved_model(run):
    model_dir = run['model_dir']
    r = run_cli(['jacktf.cli', 'eval', '--model_dir', model_dir, '--top_losses', '5'],
                timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.load(open(os.path.join(model_dir, 'eval', 'metrics.json')))
    assert report['examples'] == 24 + PLANTED
    assert report['confusion_matrix'][1][0] >= PLANTED  # dark (1) predicted bright (0)
    assert report['misclassified'] == report['examples'] - sum(
        report['confusion_matrix'][i][i] for i in range(2))
    assert report['listed_in_top_losses'] == min(5, report['misclassified'])
    rows = _csv(os.path.join(model_dir, 'eval', 'top_losses.csv'))
    assert len(rows) <= 5
    assert {os.path.basename(r['filename']) for r in rows[:PLANTED]} == {
        f'planted_{i}.png' for i in range(PLANTED)}
    # The eval of the checkpoint of step 60 is in TensorBoard at step 60 (a new file).
    assert 60 in _event_images(os.path.join(model_dir, 'eval'), 'eval/top_losses')
    before = open(os.path.join(model_dir, 'eval', 'metrics.json')).read()
    # export/ holds the final step's SavedModel (the model directory itself would give
    # export_best/, the best step's, when an earlier eval was better).
    r = run_cli(['jacktf.cli', 'eval', '--model_dir', model_dir, '--saved_model',
                 os.path.join(model_dir, 'export')], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    served = os.path.join(model_dir, 'eval', 'saved_model_60')
    assert open(os.path.join(model_dir, 'eval', 'metrics.json')).read() == before
    served_report = json.load(open(os.path.join(served, 'metrics.json')))
    assert served_report['top_1_accuracy'] == pytest.approx(report['top_1_accuracy'])
    rows = _csv(os.path.join(served, 'top_losses.csv'))
    assert {os.path.basename(r['filename']) for r in rows[:PLANTED]} == {
        f'planted_{i}.png' for i in range(PLANTED)}
    assert all(' #' in r['record'] for r in rows)
    assert set(_event_images(served, 'eval/confusion_matrix')) == {60}
    for name in ('confusion_matrix.png', 'top_losses.png'):
        assert Image.open(os.path.join(served, name)).size[0] > 400


def _half_and_half(path):
    """A bright left half and a dark right half: its mirror image is another picture."""
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[:, :SIZE // 2] = 230
    image[:, SIZE // 2:] = 90
    image[:SIZE // 3, :] = 160
    Image.fromarray(image).save(path)
    return path


def test_tta_flip_equals_plain_eval_on_mirror_symmetric_images(run):
    from jacktf.commands import common
    from jacktf.evaluation.evaluate import evaluate
    experiment = common.experiment_for(run['model_dir'])
    experiment.eval_files = run['symmetric']
    experiment.restore_latest()

    def probabilities(tta):
        result = evaluate(experiment.model, experiment.dataset(
            experiment.eval_files, training=False, with_info=True, tta=tta),
            class_names=['bright', 'dark'], files=experiment.eval_files, tta=tta,
            top_losses=0, explain=False)
        return result.probabilities, result.averaged

    plain, flipped = probabilities(('flip',))
    assert plain.shape == flipped.shape == (12, 2)
    assert np.abs(plain - flipped).max() < 1e-6
    again, cropped = probabilities(('flip', 'crops'))
    assert np.abs(again - plain).max() < 1e-6  # the first view is the plain one
    assert np.abs(cropped - plain).max() > 1e-7  # the crops are other pictures
    # The command reports the TTA numbers beside the plain ones.
    r = run_cli(['jacktf.cli', 'eval', '--model_dir', run['model_dir'], '--saved_model',
                 os.path.join(run['model_dir'], 'export'), '--tta', '--gin_param',
                 f"EVAL_FILES = '{run['symmetric']}'"], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    from jacktf.evaluation import data_reports  # other data than the run's: its own folder
    folder = data_reports.report_dir(run['model_dir'], run['symmetric'])
    assert folder != os.path.join(run['model_dir'], 'eval')
    report = json.load(open(os.path.join(folder, 'saved_model_60', 'metrics.json')))
    assert report['tta']['views'] == 'flip (2 views)'
    assert report['tta']['top_1_accuracy'] == report['top_1_accuracy']
    assert report['tta']['macro_f1'] == report['macro_f1']
    plain_top1 = f"{report['top_1_accuracy']:.4f}"
    assert f'TTA flip (2 views): top-1 {plain_top1} (plain {plain_top1})' in r.stdout


def test_predict_tta_and_cam_picture(run, tmp_path):
    from jacktf.evaluation import cam
    symmetric = os.path.join(run['root'], 'eval_images', 'dark', 'planted_0.png')  # PNG
    asymmetric = _half_and_half(str(tmp_path / 'half.png'))
    cams = tmp_path / 'cams'
    r = run_cli(['jacktf.cli', 'predict', '--saved_model', run['model_dir'], '--json',
                 '--tta', 'flip', '--cam_dir', str(cams), symmetric, asymmetric],
                timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(r.stdout)
    assert [row['tta'] for row in rows] == ['flip (2 views)'] * 2
    first = rows[0]['predictions'][0]
    assert first['class_name'] == 'bright'  # the planted photo is bright
    assert first['probability'] == pytest.approx(first['probability_plain'], abs=1e-6)
    half = rows[1]['predictions']
    assert max(abs(p['probability'] - p['probability_plain']) for p in half) > 1e-7
    assert sum(p['probability'] for p in half) == pytest.approx(1.0, abs=1e-5)
    picture = np.asarray(Image.open(rows[0]['cam']).convert('RGB'))
    assert picture.shape[:2] == cam.picture_layout(SIZE, SIZE)[:1:-1]
