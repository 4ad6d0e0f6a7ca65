"""What a TF Serving client sees of an export: the REST request bodies it sends, decoded
as the server decodes them, and the signatures `saved_model_cli show --all` lists."""

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.data import demo
from jacktf.serve import rest
from conftest import run_cli

# Every test here needs an exported model (a long set-up): the slow set, `pytest -m slow`.
pytestmark = pytest.mark.slow

STEPS = 20


@pytest.fixture(scope='module')
def saved_model(tmp_path_factory):
    """gin/tiny_from_scratch.gin, 20 steps at 32x32, exported by training as version 20."""
    path = str(tmp_path_factory.mktemp('serving') / 'model')
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={path}',
                 f'--gin_param=TRAIN_STEPS = {STEPS}', '--gin_param=IMAGE_SIZE = 32',
                 '--gin_param=periodic_eval.every_steps = None'], timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return os.path.join(path, 'export', str(STEPS))


def _jpeg(seed, label, size):
    image = demo.render(np.random.default_rng(seed), size, label)
    out = io.BytesIO()
    Image.fromarray(image).save(out, format='JPEG')
    return out.getvalue(), image


def test_rest_b64_instances_run_serving_default(saved_model):
    signatures = tf.saved_model.load(saved_model).signatures
    files = [_jpeg(1, 0, 40)[0], _jpeg(2, 1, 57)[0]]
    # The body a client writes (json.dumps of base64 text), as bytes on the wire.
    body = json.dumps({'instances': [{'b64': base64.b64encode(f).decode('ascii')}
                                     for f in files]}).encode()
    name, inputs, row = rest.decode_request(body, signatures)
    assert name == 'serving_default' and row
    assert inputs['images'].dtype == tf.string and inputs['images'].shape == [2]
    assert inputs['images'].numpy().tolist() == files  # b64 objects -> the file bytes
    response = rest.predict(signatures, body)
    direct = signatures['serving_default'](images=tf.constant(files))
    predictions = response['predictions']
    assert len(predictions) == 2 and set(predictions[0]) == set(direct)
    np.testing.assert_allclose([p['probabilities'] for p in predictions],
                               direct['probabilities'].numpy(), atol=1e-7)
    names = [n.decode() for n in direct['class_names'].numpy()]
    assert [p['class_names'] for p in predictions] == names  # text, not base64
    assert set(names) <= {'stripes', 'dots'}
    json.dumps(response)  # a JSON answer, as the server sends it


def test_rest_signature_name_and_columnar_inputs(saved_model):
    signatures = tf.saved_model.load(saved_model).signatures
    images = np.stack([_jpeg(3, 0, 32)[1], _jpeg(4, 1, 32)[1]])
    body = json.dumps({'signature_name': 'predict_images',
                       'instances': images.tolist()})
    name, inputs, _ = rest.decode_request(body, signatures)
    assert name == 'predict_images' and inputs['images'].dtype == tf.uint8
    assert inputs['images'].shape == [2, 32, 32, 3]
    direct = signatures['predict_images'](images=tf.constant(images))
    response = rest.predict(signatures, body)
    np.testing.assert_allclose([p['probabilities'] for p in response['predictions']],
                               direct['probabilities'].numpy(), atol=1e-7)
    # The columnar form, by input name: one object of batched outputs back.
    columnar = rest.predict(signatures, {'signature_name': 'predict_images',
                                         'inputs': {'images': images.tolist()}})
    np.testing.assert_allclose(columnar['outputs']['probabilities'],
                               direct['probabilities'].numpy(), atol=1e-7)


def test_rest_requests_the_server_would_reject(saved_model):
    signatures = tf.saved_model.load(saved_model).signatures
    cases = [
        ({'signature_name': 'predict', 'instances': [{'b64': ''}]},
         'Serving signature name: "predict" not found'),
        ({'instances': [{'b64': 'QQ=='}], 'inputs': [{'b64': 'QQ=='}]}, 'exactly one of'),
        ({'instances': [{'b64': 'not base64!'}]}, 'Unable to base64 decode'),
        ({'signature_name': 'predict_images', 'instances': [[[1, 2]]]},
         "Input 'images' has shape [1, 1, 2]"),
        ('{"instances": ', 'not JSON'),
    ]
    for body, message in cases:
        with pytest.raises(rest.RequestError, match=re.escape(message)):
            rest.decode_request(body, signatures)


def _saved_model_cli():
    here = os.path.join(os.path.dirname(sys.executable), 'saved_model_cli')
    found = here if os.path.exists(here) else shutil.which('saved_model_cli')
    if not found:
        pytest.skip('saved_model_cli (installed with tensorflow) is not on PATH')
    return found


def _signatures(text):
    """{signature: {'inputs': {name: (dtype, shape)}, 'outputs': {...}}} of the listing."""
    out, current, side = {}, None, None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"signature_def\['(\w+)'\]:", line)
        if m:
            current = out.setdefault(m.group(1), {'inputs': {}, 'outputs': {}})
            continue
        m = re.match(r"\s+(inputs|outputs)\['(\w+)'\] tensor_info:", line)
        if m and current is not None:
            dtype = lines[i + 1].split('dtype:')[1].strip()
            shape = lines[i + 2].split('shape:')[1].strip()
            current[m.group(1)][m.group(2)] = (dtype, shape)
    return out


def test_saved_model_cli_lists_the_signatures(saved_model):
    r = subprocess.run([_saved_model_cli(), 'show', '--dir', saved_model, '--all'],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    listed = _signatures(r.stdout)
    assert {'serving_default', 'predict_images', 'explain_images'} <= set(listed)
    assert listed['serving_default']['inputs'] == {'images': ('DT_STRING', '(-1)')}
    assert listed['predict_images']['inputs'] == {'images': ('DT_UINT8', '(-1, -1, -1, 3)')}
    outputs = listed['serving_default']['outputs']
    assert outputs['probabilities'] == ('DT_FLOAT', '(-1, 2)')
    assert outputs['class_names'] == ('DT_STRING', '(-1)')
    assert outputs['classes'] == ('DT_INT32', '(-1)')
    # The run has EVAL_FILES, so its export is calibrated for the "unknown" answer.
    assert set(outputs) == {'probabilities', 'classes', 'class_names', 'top_k_classes',
                            'top_k_probabilities', 'top_k_class_names', 'ood_score',
                            'is_unknown'}
    assert outputs['is_unknown'] == ('DT_BOOL', '(-1)')
    assert outputs['ood_score'] == ('DT_FLOAT', '(-1)')
    assert listed['explain_images']['outputs']['cam'][0] == 'DT_FLOAT'
