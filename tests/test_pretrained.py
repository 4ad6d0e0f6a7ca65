"""The weights shipped in the package: resolution, integrity, ImageNet names, the demo."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import jacktf
from jacktf.pretrained import builtin
from conftest import FIXTURES, run_cli


def test_builtin_uri_resolves_to_the_shipped_verified_checkpoint():
    prefix = builtin.resolve('builtin://mobilenet_v1_025')
    assert os.path.exists(prefix + '.index')
    names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    assert len(names) == 137
    assert names['MobilenetV1/Logits/Conv2d_1c_1x1/biases'] == [1001]
    assert builtin.resolve('/some/other.ckpt') == '/some/other.ckpt'


def test_unknown_builtin_name_lists_the_shipped_ones():
    with pytest.raises(jacktf.RestoreError, match='mobilenet_v1_025'):
        builtin.resolve('builtin://resnet_v1_50')


def test_a_damaged_shipped_file_is_reported(tmp_path):
    weights = builtin.BUILTIN['mobilenet_v1_025']
    for name in weights.sha256:
        data = open(os.path.join(os.path.dirname(weights.prefix), name), 'rb').read()
        (tmp_path / name).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    broken = builtin.BuiltinWeights(**{**weights.__dict__,
                                       'prefix': str(tmp_path / 'mobilenet_v1_0.25_224.ckpt')})
    with pytest.raises(jacktf.RestoreError, match='damaged'):
        builtin.verify(broken)


def test_official_class_names():
    names = builtin.official_class_names(1001)
    assert names[0] == 'background' and names[286].startswith('Egyptian cat')
    assert builtin.official_class_names(1000)[285].startswith('Egyptian cat')
    assert builtin.official_class_names(2) is None


def test_shipped_weights_see_a_cat(default_registry):
    model = jacktf.build_model('mobilenet_v1_025', head='native', registry=default_registry)
    report = jacktf.restore_from_checkpoint(model, 'builtin://mobilenet_v1_025')
    assert len(report.restored) == 137
    image = Image.open(os.path.join(FIXTURES, 'chelsea.png')).convert('RGB')
    x = np.asarray(image.resize((224, 224), Image.BILINEAR), np.float32)[None] / 127.5 - 1
    probs = tf.nn.softmax(model.predict(tf.constant(x))['logits']).numpy()[0]
    assert int(probs.argmax()) in (282, 283, 286)  # tabby, tiger cat, Egyptian cat
    assert probs[[282, 283, 286]].sum() > 0.8


@pytest.mark.slow
def test_demo_fine_tunes_the_shipped_weights(tmp_path):
    r = run_cli(['jacktf.run', '--gin_file=gin/demo.gin', f'--model_dir={tmp_path}/demo'],
                timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [l for l in r.stdout.splitlines() if l.startswith('[jacktf')]
    assert 'mobilenet_v1_0.25_224.ckpt' in lines[0] and '135 restored' in lines[0]
    accuracy = float(re.search(r'Done at step 300: eval accuracy ([\d.]+)', r.stdout)[1])
    assert accuracy >= 0.95


@pytest.mark.slow
def test_predict_pretrained_prints_imagenet_names(tmp_path):
    import json
    env = {'JACKTF_CACHE_DIR': str(tmp_path)}
    args = ['jacktf.cli', 'predict', '--pretrained', 'mobilenet_v1_025', '--top_k', '3',
            '--json', os.path.join(FIXTURES, 'chelsea.png')]
    first = run_cli(args, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    top = json.loads(first.stdout)[0]['predictions']
    assert top[0]['class_name'] == 'Egyptian cat' and top[0]['class'] == 286
    assert {p['class_name'] for p in top} == {'Egyptian cat', 'tiger cat', 'tabby, tabby cat'}
    export = tmp_path / 'pretrained' / 'exports' / 'mobilenet_v1_025' / '1'
    assert (export / 'saved_model.pb').exists()
    second = run_cli(args, env=env, timeout=300)  # from the cached export
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert 'Exporting' not in second.stdout + second.stderr
