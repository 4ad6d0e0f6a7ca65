"""The phone files as an app uses them: the demo model exported as float and int8 TFLite,
each file as written loaded by MediaPipe Tasks' ImageClassifier (the same task on
Android, iOS and the web), which must read the standard metadata, return labels.txt's
names and agree with the SavedModel on held-out images."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.data import demo
from conftest import run_cli

pytestmark = pytest.mark.slow

TIMEOUT = 600
STEPS = 150


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """gin/demo.gin (MobileNet v1 0.25, 128x128, inception preprocessing), 150 steps,
    exported as float and int8 TFLite."""
    pytest.importorskip('mediapipe', reason='mediapipe is not installed: pip install -e '
                        '".[tflite]" to check the phone files in MediaPipe Tasks')
    pytest.importorskip('ai_edge_litert')
    base = tmp_path_factory.mktemp('mediapipe')
    model_dir = str(base / 'model')
    r = run_cli(['jacktf.run', '--gin_file=gin/demo.gin', f'--model_dir={model_dir}',
                 f'--gin_param=TRAIN_STEPS = {STEPS}',
                 '--gin_param=periodic_eval.every_steps = None'], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    out = str(base / 'export')
    r = run_cli(['jacktf.cli', 'export', '--model_dir', model_dir, '--export_dir', out,
                 '--tflite', 'float,int8', '--verify_count', '100'], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def _held_out(folder, count=40):
    """New demo images (another seed than the data set), of other sizes and shapes than
    the model input, as JPEG files."""
    rng = np.random.default_rng(123)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        size = 64 + 8 * (i % 5)
        image = Image.fromarray(demo.render(rng, size, i % 2))
        if i % 3 == 0:  # not square: MediaPipe squeezes the whole image
            image = image.resize((size + 16, size))
        path = os.path.join(folder, f'{i}.jpg')
        image.save(path, quality=92)
        paths.append(path)
    return paths


def test_float_and_int8_tflite_run_in_mediapipe_with_names(exported, tmp_path):
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import image_classifier as ic
    from mediapipe.tasks.python.vision.core import image as mp_image
    from jacktf.serve import tflite_metadata
    folder = os.path.join(exported, 'tflite', str(STEPS))
    names = open(os.path.join(folder, 'labels.txt')).read().split()
    assert names == ['stripes', 'dots']
    paths = _held_out(str(tmp_path / 'photos'))
    serve = tf.saved_model.load(os.path.join(exported, str(STEPS))).signatures[
        'serving_default']
    reference = serve(images=tf.constant([open(p, 'rb').read() for p in paths]))[
        'probabilities'].numpy().argmax(1)
    for variant in ('float', 'int8'):
        path = os.path.join(folder, f'{variant}.tflite')
        flat = open(path, 'rb').read()
        meta = tflite_metadata.read(flat)
        assert meta['output_files'] == {'labels.txt': 2}  # TENSOR_AXIS_LABELS
        assert meta['normalization'] == ({'mean': [0.0], 'std': [1.0]}
                                         if variant == 'float' else None)
        assert tflite_metadata.packed_files(flat) == {'labels.txt': b'stripes\ndots\n'}
        options = ic.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=path),
                                            max_results=1)
        got, top = [], []
        with ic.ImageClassifier.create_from_options(options) as classifier:
            for p in paths:
                best = classifier.classify(mp_image.Image.create_from_file(p)) \
                    .classifications[0].categories[0]
                got.append(best.index)
                top.append(best.category_name)
        assert set(top) <= set(names) and set(top) == set(names), (variant, top)
        assert [names.index(n) for n in top] == got  # the name is the index's label
        agreement = np.mean(np.array(got) == reference)
        assert agreement >= 0.95, (variant, agreement)  # as MediaPipe preprocesses
        card = json.load(open(os.path.join(folder, f'{variant}.json')))
        assert card['verification']['top1_agreement'] >= 0.98  # the card's client steps
        check = card['mediapipe']
        assert check['defaults']['names_from_labels'] and check['defaults']['images'] == 100
        assert check['with_region']['top1_agreement'] >= 0.95
