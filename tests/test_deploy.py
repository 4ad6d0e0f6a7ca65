"""TFLite (LiteRT) and ONNX (onnxruntime) exports of a tiny trained model, checked in
their own runtimes; predict on all three formats; versions, refusals and atomicity."""

import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import jacktf
from jacktf.core.errors import ConfigError
from jacktf.data import demo
from conftest import ROOT, run_cli

# Every test here needs an exported model (a long set-up): the slow set, `pytest -m slow`.
pytestmark = pytest.mark.slow

TIMEOUT = 300
STEPS = 200


def _needs(module, extra):
    return pytest.importorskip(module, reason=f'{module} is not installed: pip install '
                               f'-e ".[{extra}]" to test this format')


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory):
    """gin/tiny_from_scratch.gin, 200 steps at 32x32 (about 10 s), exported as 200."""
    path = str(tmp_path_factory.mktemp('deploy') / 'model')
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={path}',
                 f'--gin_param=TRAIN_STEPS = {STEPS}', '--gin_param=IMAGE_SIZE = 32',
                 '--gin_param=periodic_eval.every_steps = None'], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert os.path.isfile(os.path.join(path, 'export', str(STEPS), 'saved_model.pb'))
    return path


def _export(model_dir, *args):
    return run_cli(['jacktf.cli', 'export', '--model_dir', model_dir] + [str(a) for a in args],
                   timeout=TIMEOUT)


def _images(folder, count=6):
    """Demo images of both classes at other sizes than the model input, JPEG and PNG."""
    rng = np.random.default_rng(7)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        label, fmt = i % 2, ('JPEG', 'PNG')[i % 2]
        path = os.path.join(folder, f'im{i}.{"jpg" if fmt == "JPEG" else "png"}')
        image = demo.render(rng, 48 + 8 * i, label)
        Image.fromarray(image).resize((48 + 8 * i + 5 * i, 48 + 8 * i)).save(path,
                                                                              format=fmt)
        paths.append(path)
    return paths


def _serve(saved_model, paths):
    serve = tf.saved_model.load(saved_model).signatures['serving_default']
    data = [open(p, 'rb').read() for p in paths]
    return serve(images=tf.constant(data))['probabilities'].numpy()


def _card_client(card, path):
    """The card's words, done by hand: decode, resize to SxS, send pixels (rounded to
    uint8 for a quantized input)."""
    prep = card['preprocessing']
    assert prep['name'] == 'simple' and prep['input'] == 'pixels'
    assert prep['client_steps'].startswith('resize the whole image to 32x32')
    assert prep['inside_model'].startswith('x / 127.5 - 1')
    size = prep['image_size']
    image = tf.io.decode_image(open(path, 'rb').read(), channels=3,
                               expand_animations=False)
    x = tf.image.resize(tf.cast(image, tf.float32), [size, size]).numpy()
    q = card['input'].get('quantization')
    if q:
        assert q == {'scale': 1.0, 'zero_point': 0}  # the uint8 input is the pixel
        return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)
    return x.astype(np.float32)


def test_tflite_variants_verified_in_litert(model_dir, tmp_path):
    _needs('ai_edge_litert', 'tflite')
    from ai_edge_litert.interpreter import Interpreter
    from jacktf.serve import runners, tflite
    registry = jacktf.load_registry(autoload=False)
    out = str(tmp_path / 'exports')
    shutil.copytree(os.path.join(model_dir, 'export', str(STEPS)),
                    os.path.join(out, str(STEPS)))
    r = _export(model_dir, '--export_dir', out, '--tflite', 'float,float16', '--tflite',
                'dynamic', '--tflite', 'int8', '--representative_count', 50,
                '--verify_count', 100)
    assert r.returncode == 0, r.stderr[-3000:]
    # The SavedModel training wrote is kept: it holds the same weights.
    assert 'Keeping the existing SavedModel' in r.stdout
    folder = os.path.join(out, 'tflite', str(STEPS))
    assert sorted(os.listdir(folder)) == sorted(
        [f'{v}.{e}' for v in tflite.VARIANTS for e in ('tflite', 'json')] +
        ['labels.txt', 'client_test.json'])
    assert open(os.path.join(folder, 'labels.txt')).read().split() == ['stripes', 'dots']
    cards = {v: json.load(open(os.path.join(folder, f'{v}.json'))) for v in tflite.VARIANTS}
    sizes = {v: os.path.getsize(os.path.join(folder, f'{v}.tflite')) for v in tflite.VARIANTS}
    for variant, card in cards.items():
        check = card['verification']
        assert card['bytes'] == sizes[variant] and card['num_classes'] == 2
        assert check['passed'] and check['images'] == 100 and 'ai-edge-litert' in \
            check['runtime']
        assert card['preprocessing']['input'] == 'pixels'  # normalization inside
        # The export log names each file with its size and its agreement.
        assert f'TFLite {variant}: {os.path.join(folder, variant + ".tflite")}, ' \
               f'{sizes[variant]} bytes' in r.stdout
    assert cards['float']['verification']['max_abs_diff'] <= 5e-4
    assert cards['int8']['verification']['top1_agreement'] >= 0.98
    assert cards['float']['input']['shape'] == [-1, 32, 32, 3]  # dynamic batch
    assert cards['float']['input']['dtype'] == 'float32'
    int8 = cards['int8']
    assert int8['input']['shape'] == [1, 32, 32, 3] and int8['input']['dtype'] == 'uint8'
    assert int8['output']['dtype'] == 'uint8' and int8['representative']['images'] == 50
    assert int8['output']['quantization']['scale'] == pytest.approx(1 / 256)
    assert sizes['int8'] < sizes['float'] / 3 and sizes['float16'] < sizes['float'] * 0.6
    # Labels and card inside the flatbuffer too.
    flat = open(os.path.join(folder, 'int8.tflite'), 'rb').read()
    meta = tflite.read_metadata(flat)
    assert meta[tflite.LABELS_KEY].decode().split() == ['stripes', 'dots']
    assert json.loads(meta[tflite.CARD_KEY])['input'] == int8['input']
    # The run was calibrated at the end of training: the card and the standard metadata
    # carry the probability threshold of its "unknown" answer (jacktf.evaluation.unknown).
    from jacktf.serve import tflite_metadata
    assert int8['unknown']['score'] == 'max_softmax' and 0.5 < int8['unknown']['threshold'] < 1
    assert (f"unknown when the largest probability < {int8['unknown']['threshold']:.9g}"
            in tflite_metadata.read(flat)['description'])
    # A client that follows the card's words by hand gets the SavedModel's answers.
    paths = _images(str(tmp_path))
    expected = _serve(os.path.join(out, str(STEPS)), paths)
    for variant in ('float', 'int8'):
        interp = Interpreter(model_path=os.path.join(folder, f'{variant}.tflite'))
        interp.allocate_tensors()
        inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
        got = []
        for path in paths:
            interp.set_tensor(inp['index'], _card_client(cards[variant], path)[None])
            interp.invoke()
            y = interp.get_tensor(outp['index'])[0].astype(np.float32)
            q = cards[variant]['output'].get('quantization')
            got.append((y - q['zero_point']) * q['scale'] if q else y)
        got = np.stack(got)
        if variant == 'float':
            np.testing.assert_allclose(got, expected, atol=1e-5)
        else:
            assert np.abs(got - expected).max() < 0.1
        # ... and the same numbers as jacktf's own client (predict, the verification).
        runner = runners.open_model(os.path.join(folder, f'{variant}.tflite'), registry)
        np.testing.assert_array_equal(runner.probabilities(
            [open(p, 'rb').read() for p in paths]), got)
        # The card's unknown threshold applied to the largest probability (predict).
        out = runner.predict([open(p, 'rb').read() for p in paths])
        np.testing.assert_array_equal(out['is_unknown'], out['probabilities'].max(1) <
                                      np.float32(cards[variant]['unknown']['threshold']))


def test_onnx_verified_in_onnxruntime(model_dir, tmp_path):
    _needs('tf2onnx', 'onnx')
    _needs('onnxruntime', 'onnx')
    import onnxruntime
    out = str(tmp_path / 'exports')
    r = _export(model_dir, '--export_dir', out, '--onnx', '--verify_count', 50)
    assert r.returncode == 0, r.stderr[-3000:]
    folder = os.path.join(out, 'onnx', str(STEPS))
    card = json.load(open(os.path.join(folder, 'model.json')))
    assert card['verification']['max_abs_diff'] <= 1e-4 and card['verification']['passed']
    assert 'onnxruntime' in card['verification']['runtime']
    assert card['input']['shape'] == [-1, 32, 32, 3]
    assert f'ONNX: {os.path.join(folder, "model.onnx")}, {card["bytes"]} bytes' in r.stdout
    sess = onnxruntime.InferenceSession(os.path.join(folder, 'model.onnx'),
                                        providers=['CPUExecutionProvider'])
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta['jacktf_labels'].split() == ['stripes', 'dots']
    paths = _images(str(tmp_path))
    x = np.stack([_card_client(card, p) for p in paths])
    got = sess.run(['probabilities'], {'images': x})[0]
    np.testing.assert_allclose(got, _serve(os.path.join(out, str(STEPS)), paths), atol=1e-4)


@pytest.mark.slow
def test_predict_prints_the_same_table_for_all_three_formats(model_dir, tmp_path):
    _needs('ai_edge_litert', 'tflite')
    _needs('tf2onnx', 'onnx')
    _needs('onnxruntime', 'onnx')
    out = str(tmp_path / 'exports')
    r = _export(model_dir, '--export_dir', out, '--tflite', 'float,int8', '--onnx',
                '--verify_count', 50)
    assert r.returncode == 0, r.stderr[-3000:]
    saved = os.path.join(out, str(STEPS))
    float_tflite = os.path.join(out, 'tflite', str(STEPS), 'float.tflite')
    int8_tflite = os.path.join(out, 'tflite', str(STEPS), 'int8.tflite')
    onnx = os.path.join(out, 'onnx', str(STEPS), 'model.onnx')
    paths = _images(str(tmp_path / 'images'))
    models = [saved, float_tflite, int8_tflite, onnx]
    r = run_cli(['jacktf.cli', 'predict', '--json', '--top_k', '2', '--saved_model', saved]
                + sum((['--model', m] for m in models[1:]), []) + paths, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout)
    assert [row['model'] for row in rows] == [m for m in models for _ in paths]
    assert [row['format'] for row in rows[::len(paths)]] == ['saved_model', 'tflite',
                                                             'tflite', 'onnx']
    table = {}
    for row in rows:
        assert {p['class_name'] for p in row['predictions']} == {'stripes', 'dots'}
        table.setdefault(row['model'], []).append(
            [p['probability'] for p in sorted(row['predictions'], key=lambda p: p['class'])])
    reference = np.array(table[saved])
    np.testing.assert_allclose(reference, _serve(saved, paths), atol=1e-6)
    np.testing.assert_allclose(np.array(table[float_tflite]), reference, atol=1e-5)
    np.testing.assert_allclose(np.array(table[onnx]), reference, atol=1e-4)
    assert (np.array(table[int8_tflite]).argmax(1) == reference.argmax(1)).all()
    # Several models: one table, the files as rows, the models as columns, then the
    # agreement; no LiteRT INFO line on the terminal.
    r = run_cli(['jacktf.cli', 'predict', '--no_unknown', '--model', saved, '--model',
                 int8_tflite, '--model', onnx] + paths, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0].split() == ['FILE', 'SavedModel', 'tflite', 'int8', 'onnx', 'float32']
    for line, path, p in zip(lines[1:], paths, reference):
        assert line.split()[:3] == [path, ['stripes', 'dots'][p.argmax()], f'{p.max():.4f}']
    assert lines[1 + len(paths)] == (f'top-1 agreement with SavedModel: tflite int8 '
                                     f'{len(paths)}/{len(paths)} (100%), onnx float32 '
                                     f'{len(paths)}/{len(paths)} (100%)')
    assert f'  tflite int8: {int8_tflite}' in lines
    assert 'XNNPACK' not in r.stderr and 'XNNPACK' not in r.stdout
    # Class names come from the labels beside the file; without them, from inside it.
    moved = tmp_path / 'moved'
    moved.mkdir()
    for name in ('int8.tflite', 'int8.json'):
        shutil.copy(os.path.join(out, 'tflite', str(STEPS), name), moved / name)
    (moved / 'labels.txt').write_text('lines\nspots\n')
    r = run_cli(['jacktf.cli', 'predict', '--json', '--model', str(moved / 'int8.tflite'),
                 paths[0]], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert {p['class_name'] for p in json.loads(r.stdout)[0]['predictions']} == \
        {'lines', 'spots'}
    os.remove(moved / 'labels.txt')
    os.remove(moved / 'int8.json')  # the card inside is used
    r = run_cli(['jacktf.cli', 'predict', '--json', '--model', str(moved / 'int8.tflite'),
                 paths[0]], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)[0]['predictions'] == rows[2 * len(paths)]['predictions']
    r = run_cli(['jacktf.cli', 'predict', '--model', str(moved / 'int8.tflite'), '--cam_dir',
                 str(tmp_path / 'cams'), paths[0]], timeout=TIMEOUT)
    assert r.returncode == 2 and '--cam_dir needs a SavedModel' in r.stderr
    (moved / 'labels.txt').write_text('one\ntwo\nthree\n')
    r = run_cli(['jacktf.cli', 'predict', '--model', str(moved / 'int8.tflite'), paths[0]],
                timeout=TIMEOUT)
    assert r.returncode == 2 and 'lists 3 classes' in r.stderr and 'has 2 outputs' in \
        r.stderr


def test_export_keeps_what_passes_and_names_the_rest_with_numbers(model_dir, tmp_path):
    _needs('ai_edge_litert', 'tflite')
    out = str(tmp_path / 'exports')
    # Float TFLite differs from TensorFlow by ~1e-7 (other kernels): a zero tolerance
    # cannot be met; float16 passes and is written, with the SavedModel (exit 1).
    r = _export(model_dir, '--export_dir', out, '--tflite', 'float,float16',
                '--float_tolerance', 0, '--verify_count', 40)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    assert 'Traceback' not in r.stderr
    assert 'TFLite float: NOT written: max |diff|' in r.stderr
    assert 'to write it anyway: --float_tolerance ' in r.stderr
    folder = os.path.join(out, 'tflite', str(STEPS))
    assert sorted(os.listdir(folder)) == ['client_test.json', 'float16.json', 'float16.tflite',
                                          'labels.txt']
    assert os.path.isfile(os.path.join(out, str(STEPS), 'saved_model.pb'))
    # The flag it names writes it.
    flag = r.stderr.split('to write it anyway: ')[1].split()[:2]
    r = _export(model_dir, '--export_dir', str(tmp_path / 'again'), '--tflite', 'float',
                '--verify_count', 40, *flag)
    assert r.returncode == 0, r.stderr[-2000:]


def test_export_where_every_model_falls_short_writes_nothing_and_exits_2(model_dir,
                                                                         tmp_path):
    _needs('ai_edge_litert', 'tflite')
    out = str(tmp_path / 'exports')
    r = _export(model_dir, '--export_dir', out, '--tflite', 'float',
                '--float_tolerance', 0, '--verify_count', 40)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert 'Traceback' not in r.stderr
    message = r.stderr
    assert '1 of the 1 exported models fell short' in message
    assert 'TFLite float: top-1 agreement' in message and 'FAILS: max |diff|' in message
    assert '> 0' in message and 'nothing was written' in message
    assert '--float_tolerance ' in message
    assert os.listdir(out) == []  # no SavedModel, no TFLite, no hidden staging folder


def test_missing_runtime_is_a_clear_error(model_dir, tmp_path):
    blocker = tmp_path / 'blocked'
    (blocker / 'ai_edge_litert').mkdir(parents=True)
    (blocker / 'ai_edge_litert' / '__init__.py').write_text(
        "raise ImportError('blocked by the test')\n")
    r = run_cli(['jacktf.cli', 'export', '--model_dir', model_dir, '--export_dir',
                 str(tmp_path / 'out'), '--tflite', 'int8'],
                env={'PYTHONPATH': f'{blocker}{os.pathsep}{ROOT}'}, timeout=TIMEOUT)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert "not installed: pip install 'jacktf[tflite]'" in r.stderr
    r = run_cli(['jacktf.cli', 'predict', str(tmp_path)], timeout=TIMEOUT)
    assert r.returncode == 2 and 'Give the model to predict with: --model' in r.stderr
    r = _export(model_dir, '--tflite', 'int4')
    assert r.returncode == 2 and "'int4' is not a TFLite variant" in r.stderr
    assert 'float, float16, dynamic, int8' in r.stderr


@pytest.mark.slow
def test_versions_are_steps_and_exports_are_not_overwritten_by_accident(model_dir, tmp_path):
    existing = os.path.join(model_dir, 'export', str(STEPS))
    stamp = os.path.getmtime(os.path.join(existing, 'saved_model.pb'))
    r = _export(model_dir)
    assert r.returncode == 2
    assert f'{existing} already exists: step {STEPS} was exported before' in r.stderr
    assert '--overwrite' in r.stderr
    assert os.path.getmtime(os.path.join(existing, 'saved_model.pb')) == stamp
    r = _export(model_dir, '--overwrite')
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'Replaced the existing export {existing}' in r.stdout
    assert f'SavedModel: {existing} ' in r.stdout
    # An older checkpoint is exported under its own step.
    r = _export(model_dir, '--checkpoint', os.path.join(model_dir, 'checkpoints', 'ckpt-100'))
    assert r.returncode == 0, r.stderr[-2000:]
    assert os.path.isfile(os.path.join(model_dir, 'export', '100', 'saved_model.pb'))
    # A checkpoint without a step (written by other code) needs --version. Written in
    # a subprocess: parsing gin here would lock gin's registry for later test modules.
    foreign = str(tmp_path / 'foreign' / 'weights')
    script = ('import sys, tensorflow as tf\n'
              'from jacktf.app import runtime\n'
              'm = sys.argv[1]\n'
              'e = runtime.experiment_from_gin([m + "/operative_config.gin"], (), m)\n'
              'e.restore_latest()\n'
              'tf.train.Checkpoint(network=e.model.network).write(sys.argv[2])\n')
    r = subprocess.run([sys.executable, '-c', script, model_dir, foreign], cwd=ROOT,
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    out = str(tmp_path / 'exports')
    r = _export(model_dir, '--checkpoint', foreign, '--export_dir', out)
    assert r.returncode == 2
    assert 'holds no global step' in r.stderr and '--version N' in r.stderr
    assert not os.path.exists(out) or not os.listdir(out)
    r = _export(model_dir, '--checkpoint', foreign, '--export_dir', out, '--version', 7)
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(os.listdir(out)) == ['7']
    r = _export(model_dir, '--checkpoint', foreign, '--export_dir', out, '--version', 'x7')
    assert r.returncode == 2 and '--version must be a whole number' in r.stderr


def test_adding_formats_refuses_a_saved_model_of_other_weights(model_dir):
    _needs('ai_edge_litert', 'tflite')
    # export/200 holds step 200; step 100's weights under --version 200 do not match it.
    r = _export(model_dir, '--checkpoint', os.path.join(model_dir, 'checkpoints', 'ckpt-100'),
                '--version', STEPS, '--tflite', 'float')
    assert r.returncode == 2
    assert 'already exists but holds other weights' in r.stderr and '--overwrite' in \
        r.stderr
    assert not os.path.exists(os.path.join(model_dir, 'export', 'tflite', str(STEPS)))


def test_resumed_training_replaces_its_export_with_a_log_line(model_dir):
    r = run_cli(['jacktf.run', f'--gin_file={model_dir}/operative_config.gin',
                 f'--model_dir={model_dir}', '--gin_param=periodic_eval.every_steps = None'],
                timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    existing = os.path.join(model_dir, 'export', str(STEPS))
    assert f'Replaced the existing export {existing}' in r.stdout
    assert not glob.glob(os.path.join(model_dir, 'export', '.*'))  # no staging left


def test_variant_names():
    from jacktf.serve import tflite
    assert tflite.parse_variants(['int8,float', 'float', ' dynamic ']) == \
        ['int8', 'float', 'dynamic']
    with pytest.raises(ConfigError, match="'fp16' is not a TFLite variant"):
        tflite.parse_variants(['float,fp16'])


@pytest.mark.parametrize('name', ['simple', 'inception', 'vgg'])
def test_client_geometry_then_inside_normalization_equals_the_preprocessor(name, registry):
    """What the client sends (pixels, the card's geometry) normalized as inside the model
    equals the registered eval preprocessing the SavedModel runs, on odd-shaped images."""
    entry = registry.get('preprocessor', name)
    card = entry.card
    rng = np.random.default_rng(1)
    for shape in [(37, 53, 3), (64, 48, 3), (20, 20, 3)]:
        image = tf.constant(rng.integers(0, 256, shape, dtype=np.uint8))
        pixels = card.geometry.apply(image, 24)
        assert float(tf.reduce_min(pixels)) >= 0 and float(tf.reduce_max(pixels)) <= 255
        np.testing.assert_allclose(
            card.normalization.apply(pixels).numpy(),
            entry.factory(image, image_size=24, is_training=False).numpy(), atol=2e-5)



def test_train_with_export_writes_the_int8_model_at_the_end(tmp_path):
    _needs('ai_edge_litert', 'tflite')
    path = str(tmp_path / 'model')
    r = run_cli(['jacktf.cli', 'train', '--gin_file', 'gin/tiny_from_scratch.gin',
                 '--model_dir', path, '--gin_param', 'TRAIN_STEPS = 60',
                 '--gin_param', 'IMAGE_SIZE = 32',
                 '--gin_param', 'periodic_eval.every_steps = None',
                 '--export', 'tflite:int8'], timeout=TIMEOUT)
    assert r.returncode in (0, 1), r.stderr[-3000:]  # 1: int8 fell short, named
    card = json.load(open(os.path.join(path, 'export', 'tflite', '60', 'int8.json'))) \
        if r.returncode == 0 else None
    if card:
        assert card['representative']['images'] == 300
        assert 'stratified by class' in card['representative']['source']
    else:
        assert 'TFLite int8: NOT written' in r.stderr
    r = run_cli(['jacktf.cli', 'train', '--gin_file', 'gin/tiny_from_scratch.gin',
                 '--model_dir', path, '--export', 'tflite:int4'], timeout=TIMEOUT)
    assert r.returncode == 2 and "'int4' is not a TFLite variant" in r.stderr


def test_export_target_names():
    from jacktf.commands.export import parse_targets
    assert parse_targets(['tflite:float,int8', 'onnx', 'tflite']) == (['float', 'int8'],
                                                                     True)
    assert parse_targets(None) == ([], False)
    with pytest.raises(ConfigError, match='not an export format'):
        parse_targets(['coreml'])


def test_verify_client_passes_on_every_format_and_fails_on_another_runs_file(model_dir,
                                                                              tmp_path):
    _needs('ai_edge_litert', 'tflite')
    _needs('onnxruntime', 'onnx')
    out = str(tmp_path / 'exports')
    r = _export(model_dir, '--export_dir', out, '--tflite', 'float,int8', '--onnx',
                '--verify_count', 40)
    assert r.returncode == 0, r.stderr[-3000:]
    folder = os.path.join(out, 'tflite', str(STEPS))
    test = json.load(open(os.path.join(folder, 'client_test.json')))
    assert test['client_steps']['client_steps'].startswith('resize the whole image')
    assert len(test['images']) == 6
    assert sorted(test['models']) == ['float.tflite', 'int8.tflite', 'saved_model']
    assert test['models']['int8.tflite']['input']['dtype'] == 'uint8'
    for model in (os.path.join(folder, 'float.tflite'), os.path.join(folder, 'int8.tflite'),
                  os.path.join(out, 'onnx', str(STEPS), 'model.onnx'),
                  os.path.join(out, str(STEPS))):
        r = run_cli(['jacktf.cli', 'verify-client', model], timeout=TIMEOUT)
        assert r.returncode == 0, (model, r.stdout[-2000:], r.stderr[-2000:])
        assert 'all 6 images' in r.stdout
    # Another run (other weights) with this export's client test: exit 1, named.
    other = str(tmp_path / 'other')
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={other}',
                 '--gin_param=TRAIN_STEPS = 20', '--gin_param=IMAGE_SIZE = 32',
                 '--gin_param=periodic_eval.every_steps = None'], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _export(other, '--tflite', 'float', '--verify_count', 20)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli(['jacktf.cli', 'verify-client', os.path.join(other, 'export', 'tflite', '20',
                                                             'float.tflite'),
                 '--client_test', os.path.join(folder, 'client_test.json')], timeout=TIMEOUT)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    assert 'FAIL held_out_' in r.stdout and 'expected' in r.stdout
    assert 'does NOT give the expected answers' in r.stdout
