"""predict, eval and export as people call them: the SavedModel named by its export
folder or model directory, bad images among good ones, same-named files with --cam_dir,
and the numbers equal to the serving signature's on the file's own bytes."""

import io
import json
import logging
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.serve import export
from jacktf.evaluation.cam import picture_layout
from jacktf.core.errors import DataError
from jacktf.data import demo
from conftest import run_cli

TIMEOUT = 300


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory):
    """A tiny demo run (20 steps at 32x32) exported as version 20, plus a copy of it as
    version 9 (older by number, newer by name: the choice must be numeric)."""
    path = str(tmp_path_factory.mktemp('predict') / 'model')
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={path}',
                 '--gin_param=TRAIN_STEPS = 20', '--gin_param=IMAGE_SIZE = 32',
                 '--gin_param=periodic_eval.every_steps = None'], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert os.path.isfile(os.path.join(path, 'export', '20', 'saved_model.pb'))
    shutil.copytree(os.path.join(path, 'export', '20'), os.path.join(path, 'export', '9'))
    return path


def _noisy(seed, size=40, label=0):
    """A demo image with noise, so a JPEG re-encoding visibly changes its pixels."""
    rng = np.random.default_rng(seed)
    image = demo.render(rng, size, label).astype(np.int16)
    image += rng.integers(-60, 60, image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def _save(path, array, fmt):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)
    return path


def _main(args, capsys):
    """`jacktf ARGS` in this process: (exit code, stdout, stderr)."""
    from jacktf import cli
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    finally:
        logging.getLogger('jacktf').handlers.clear()  # it wrote to capsys's stream
    out = capsys.readouterr()
    return code, out.out, out.err


def _predict(args, capsys=None):
    """`jacktf predict ARGS`: in this process when given capsys (predict reads no gin, so
    it can), else in a subprocess (the real exit status, and no traceback)."""
    if capsys is None:
        return run_cli(['jacktf.cli', 'predict'] + [str(a) for a in args], timeout=TIMEOUT)
    code, out, err = _main(['predict'] + list(args), capsys)
    return subprocess.CompletedProcess(args, code, out, err)


def _rows(result):
    return json.loads(result.stdout)  # diagnostics go to stderr: stdout is pure JSON


def test_export_folder_and_model_dir_resolve_to_the_newest_version(model_dir, tmp_path,
                                                                   capsys):
    image = _save(str(tmp_path / 'a.png'), _noisy(1), 'PNG')
    newest = os.path.join(model_dir, 'export', '20')
    results = {}
    for given in [os.path.join(model_dir, 'export'), model_dir, newest]:
        r = _predict(['--saved_model', given, '--json', image], capsys)
        assert r.returncode == 0, r.stderr[-2000:]
        results[given] = _rows(r)[0]['predictions']
        if given == newest:
            assert 'Using SavedModel' not in r.stderr  # named exactly: nothing to say
        else:
            line = [ln for ln in r.stderr.splitlines() if 'Using SavedModel' in ln]
            assert len(line) == 1, r.stderr[-2000:]
            if given == model_dir:  # a run's model is its best: export_best/ (same step)
                best = os.path.join(model_dir, 'export_best', '20')
                assert 'version 20' in line[0] and best in line[0], line[0]
            else:
                assert 'version 20' in line[0] and newest in line[0] and 'older: 9' in line[0]
    assert len({json.dumps(v) for v in results.values()}) == 1


def test_resolver_accepts_what_people_give_and_names_what_is_wrong(model_dir, tmp_path):
    newest = os.path.join(model_dir, 'export', '20')
    assert export.find_saved_model(newest + '/') == (newest, None)
    assert export.find_saved_model(os.path.join(newest, 'saved_model.pb'))[0] == newest
    # A model directory: its best (export_best/, written because best-k kept one).
    assert export.find_saved_model(model_dir)[0] == os.path.join(model_dir, 'export_best',
                                                                 '20')
    # The model's checkpoints folder: names what it holds and says to export.
    with pytest.raises(DataError) as e:
        export.find_saved_model(os.path.join(model_dir, 'checkpoints'))
    assert 'holds no SavedModel' in str(e.value) and 'ckpt-20.index' in str(e.value)
    assert 'jacktf export --model_dir' in str(e.value)
    # A model directory never exported.
    bare = tmp_path / 'bare'
    (bare / 'checkpoints').mkdir(parents=True)
    (bare / 'operative_config.gin').write_text('')
    with pytest.raises(DataError) as e:
        export.find_saved_model(str(bare))
    assert 'never exported' in str(e.value) and 'checkpoints/' in str(e.value)
    # Version folders whose saved_model.pb is gone.
    (tmp_path / 'broken' / '7').mkdir(parents=True)
    with pytest.raises(DataError) as e:
        export.find_saved_model(str(tmp_path / 'broken'))
    assert "version folder(s) 7" in str(e.value) and 'saved_model.pb' in str(e.value)
    with pytest.raises(DataError) as e:
        export.find_saved_model(str(tmp_path / 'nowhere'))
    assert 'no such file or folder' in str(e.value)
    # On the command line: exit 2, the message, no traceback.
    image = _save(str(tmp_path / 'a.png'), _noisy(1), 'PNG')
    empty = tmp_path / 'empty'
    empty.mkdir()
    r = _predict(['--saved_model', empty, image])
    assert r.returncode == 2, r.stderr[-2000:]
    assert f"'{empty}' holds no SavedModel" in r.stderr and 'it is empty' in r.stderr
    assert 'Traceback' not in r.stderr


def test_predict_numbers_equal_the_signature_on_the_files_own_bytes(model_dir, tmp_path,
                                                                   capsys):
    array = _noisy(3)
    files = {fmt: _save(str(tmp_path / f'img.{fmt.lower()}'), array, fmt)
             for fmt in ['PNG', 'BMP', 'GIF']}
    files['GRAY'] = _save(str(tmp_path / 'gray.png'), array[..., 0], 'PNG')
    r = _predict(['--saved_model', model_dir, '--json', '--top_k', '2']
                 + list(files.values()), capsys)
    assert r.returncode == 0, r.stderr[-2000:]
    cli = {row['file']: {p['class']: p['probability'] for p in row['predictions']}
           for row in _rows(r)}
    module = tf.saved_model.load(os.path.join(model_dir, 'export', '20'))
    serve = module.signatures['serving_default']
    pixels = module.signatures['predict_images']

    def served(data):
        return serve(images=tf.constant([data]))['probabilities'].numpy()[0]

    for fmt, path in files.items():
        data = open(path, 'rb').read()
        want = served(data)
        got = np.array([cli[path][c] for c in range(len(want))])
        assert np.max(np.abs(got - want)) <= 1e-6, (fmt, got, want)
        # The signature decodes PNG, BMP and GIF itself: same as feeding its pixels.
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))
        direct = pixels(images=tf.constant(decoded[None]))['probabilities'].numpy()[0]
        assert np.max(np.abs(direct - want)) <= 1e-6, fmt
    # What the old code sent (a JPEG re-encoding) gives other numbers: the test can fail.
    jpeg = io.BytesIO()
    Image.open(files['PNG']).convert('RGB').save(jpeg, format='JPEG', quality=95)
    assert np.max(np.abs(served(jpeg.getvalue()) - served(open(files['PNG'], 'rb').read()))
                  ) > 1e-5


def _bad_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'empty.jpg').write_bytes(b'')
    good = io.BytesIO()
    Image.fromarray(_noisy(9)).save(good, format='PNG')
    (folder / 'cut.png').write_bytes(good.getvalue()[:200])  # truncated
    return [str(folder / 'empty.jpg'), str(folder / 'cut.png')]


def test_bad_images_among_good_ones_are_skipped_and_listed(model_dir, tmp_path, capsys):
    good = [_save(str(tmp_path / 'in' / 'a.png'), _noisy(4), 'PNG'),
            _save(str(tmp_path / 'in' / 'b.jpg'), _noisy(5, label=1), 'JPEG')]
    bad = _bad_files(tmp_path / 'in')
    # macOS metadata beside a.png: a hidden file, not an input.
    (tmp_path / 'in' / '._a.png').write_bytes(b'\x00\x05\x16\x07')
    r = _predict(['--saved_model', model_dir, '--json', tmp_path / 'in'])
    assert r.returncode == 1, r.stderr[-2000:]
    assert sorted(row['file'] for row in _rows(r)) == sorted(good)
    assert f'skipped {bad[0]}: empty file (0 bytes)' in r.stderr
    assert f'skipped {bad[1]}: corrupt image' in r.stderr and 'truncated' in r.stderr
    assert '2 of 4 images were skipped' in r.stderr
    assert 'Traceback' not in r.stderr
    # The table says the same.
    r = _predict(['--saved_model', model_dir, good[0], bad[0]], capsys)
    assert r.returncode == 1 and 'a.png' in r.stdout and 'empty.jpg' not in r.stdout
    assert '1 of 2 images were skipped' in r.stderr and 'skipped' not in r.stdout


def test_all_bad_images_exit_2_naming_each(model_dir, tmp_path):
    bad = _bad_files(tmp_path / 'bad')
    r = _predict(['--saved_model', model_dir] + bad)
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'None of the 2 input files can be predicted on' in r.stderr
    assert f"'{bad[0]}': empty file" in r.stderr and f"'{bad[1]}': corrupt" in r.stderr
    assert 'Traceback' not in r.stderr


def test_cam_dir_never_overwrites(model_dir, tmp_path, capsys):
    first = _save(str(tmp_path / 'd1' / 'x.png'), _noisy(6), 'PNG')
    second = _save(str(tmp_path / 'd2' / 'x.png'), _noisy(7, size=48, label=1), 'PNG')
    cams = tmp_path / 'cams'
    r = _predict(['--saved_model', model_dir, '--json', '--cam_dir', cams, first, second],
                 capsys)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = _rows(r)
    assert [row['cam'] for row in rows] == [str(cams / 'x.cam.png'),
                                            str(cams / 'x-2.cam.png')]
    assert Image.open(rows[0]['cam']).size == picture_layout(40, 40)[2:]
    assert Image.open(rows[1]['cam']).size == picture_layout(48, 48)[2:]
    before = {p: open(p, 'rb').read() for p in (rows[0]['cam'], rows[1]['cam'])}
    # A second call picks new names; the overlays of the first stay as they were.
    r = _predict(['--saved_model', model_dir, '--cam_dir', cams, first], capsys)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'CAM overlay: {cams / "x-3.cam.png"}' in r.stdout
    assert sorted(os.listdir(cams)) == ['x-2.cam.png', 'x-3.cam.png', 'x.cam.png']
    assert all(open(p, 'rb').read() == data for p, data in before.items())


@pytest.mark.slow
def test_eval_saved_model_resolves_and_reports_next_to_the_checkpoint(model_dir):
    r = run_cli(['jacktf.cli', 'eval', '--model_dir', model_dir], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    checkpoint_report = os.path.join(model_dir, 'eval', 'metrics.json')
    from_checkpoint = json.load(open(checkpoint_report))
    r = run_cli(['jacktf.cli', 'eval', '--model_dir', model_dir, '--saved_model',
                 os.path.join(model_dir, 'export')], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'Using SavedModel version 20' in r.stdout
    served_report = os.path.join(model_dir, 'eval', 'saved_model_20', 'metrics.json')
    assert served_report in r.stdout
    served = json.load(open(served_report))
    assert served['source'] == os.path.join(model_dir, 'export', '20')
    assert json.load(open(checkpoint_report)) == from_checkpoint  # not overwritten
    assert served['confusion_matrix'] == from_checkpoint['confusion_matrix']
    assert served['examples'] == 400


@pytest.mark.slow
def test_export_without_a_checkpoint_and_other_wrong_dirs(model_dir, tmp_path, capsys):
    fresh = tmp_path / 'fresh'
    fresh.mkdir()
    for name in ('operative_config.gin', 'labels.txt'):
        shutil.copy(os.path.join(model_dir, name), fresh / name)
    # Each exits 2 with the message and no traceback. (In separate processes: gin
    # registers its configurables once per process.)
    for args, words in [
            (['--model_dir', fresh], ['No checkpoint in', 'does not exist', 'train first']),
            (['--model_dir', model_dir, '--checkpoint', tmp_path / 'ckpt-5'],
             ['--checkpoint', 'ckpt-5', 'does not exist']),
            (['--model_dir', model_dir, '--checkpoint', fresh],
             ['holds no checkpoint'])]:
        r = run_cli(['jacktf.cli', 'export'] + [str(a) for a in args], timeout=TIMEOUT)
        assert r.returncode == 2, (args, r.stderr[-2000:])
        assert all(w in r.stderr for w in words), (words, r.stderr[-2000:])
        assert 'Traceback' not in r.stderr
    assert not os.path.exists(fresh / 'export')
    # Folders that are no training run fail before any configuration is read.
    for args, words in [
            (['--model_dir', os.path.join(model_dir, 'export')],
             ['holds a SavedModel export, not a training run', '--saved_model']),
            (['--model_dir', tmp_path / 'nowhere'], ['no such folder'])]:
        code, _, err = _main(['export'] + args, capsys)
        assert code == 2 and err.startswith('jacktf: error: '), err
        assert all(w in err for w in words), err
