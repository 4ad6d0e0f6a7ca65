"""Training runs on input that can never give a batch: exit 2, a message naming the file,
the cause and the fix, within a timeout, and nothing left behind in MODEL_DIR."""

import os

import numpy as np
import pytest

from conftest import run_cli
from data_factory import (example_bytes, good_image_folder, jpeg_bytes, random_image,
                          write_records)

TIMEOUT = 180  # seconds: every one of these runs ends long before; a hang fails


def _run(tmp_path, *params, model_dir=None, steps=2):
    model_dir = model_dir or str(tmp_path / 'model')
    args = ['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}',
            f'--gin_param=TRAIN_STEPS = {steps}', '--gin_param=BATCH_SIZE = 4',
            '--gin_param=EVAL_FILES = None', '--gin_param=Experiment.export_at_end = False']
    return run_cli(args + [f'--gin_param={p}' for p in params], timeout=TIMEOUT)


def _error(result):
    assert result.returncode == 2, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    lines = [l for l in result.stderr.splitlines() if l.startswith('jacktf: error: ')]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0][len('jacktf: error: '):]


def _good(n, label=lambda i: i % 2, seed=0):
    rng = np.random.default_rng(seed)
    return [dict(encoded=jpeg_bytes(random_image(rng)), image_format='jpeg',
                 label=label(i)) for i in range(n)]


@pytest.mark.slow
def test_records_with_other_keys_stop_at_once_naming_file_and_keys(tmp_path):
    path = str(tmp_path / 'train-00000-of-00001.tfrecord')
    rng = np.random.default_rng(0)
    write_records(path, [example_bytes({'image': jpeg_bytes(random_image(rng)),
                                        'label': i % 2}) for i in range(8)])
    message = _error(_run(tmp_path, f"TRAIN_FILES = '{path}'"))
    assert path in message and "no feature 'image/encoded'" in message
    assert 'image (bytes: a JPEG image), label (int64)' in message
    assert not os.path.exists(tmp_path / 'model')
    # The fix the message gives works.
    fixes = [f.split(';')[0].strip().strip('"') for f in message.split('--gin_param=')[1:]]
    assert fixes == ['Experiment.decoder = @tfexample_classification',
                     "tfexample_classification.image_key = 'image'",
                     "tfexample_classification.label_key = 'label'"]
    r = _run(tmp_path, f"TRAIN_FILES = '{path}'", *fixes)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'step 2/2' in r.stdout


@pytest.mark.slow
def test_a_pass_without_a_usable_record_is_an_error_with_reasons(tmp_path):
    path = str(tmp_path / 'train.tfrecord')
    rng = np.random.default_rng(1)
    good = jpeg_bytes(random_image(rng))
    write_records(path, [dict(encoded=good[:300], image_format='jpeg', label=0),
                         dict(encoded=good[:200], image_format='jpeg', label=1),
                         dict(encoded=b'<html>not found</html>', image_format='jpeg',
                              label=0)])
    message = _error(_run(tmp_path, f"TRAIN_FILES = '{path}'"))
    assert message.startswith(f"No usable record in a whole pass over TRAIN_FILES = "
                              f"'{path}' (1 file): all 3 records were skipped (2 truncated, "
                              '1 not an image;')
    assert not os.path.exists(tmp_path / 'model')


@pytest.mark.slow
def test_a_lone_empty_file_is_an_error_and_one_among_others_a_warning(tmp_path):
    empty = tmp_path / 'train-00000-of-00002.tfrecord'
    empty.write_bytes(b'')
    message = _error(_run(tmp_path, f"TRAIN_FILES = '{empty}'"))
    assert str(empty) in message and 'every file is empty (0 bytes)' in message
    assert not os.path.exists(tmp_path / 'model')
    write_records(str(tmp_path / 'train-00001-of-00002.tfrecord'), _good(8))
    r = _run(tmp_path, f"TRAIN_FILES = '{tmp_path / 'train-*.tfrecord'}'")
    assert r.returncode == 0, r.stderr[-3000:]
    assert f'TRAIN_FILES: {empty} is empty (0 bytes): it holds no records' in r.stdout
    assert 'step 2/2' in r.stdout


@pytest.mark.parametrize('setting', ['TRAIN_FILES', 'EVAL_FILES'])
def test_an_image_folder_as_files_names_both_fixes(tmp_path, setting):
    root = good_image_folder(str(tmp_path / 'pets'))
    message = _error(_run(tmp_path, f"{setting} = '{root}'"))
    assert message.startswith(f"{setting} = '{root}' is a folder")
    assert 'It is an image folder' in message
    assert f'jacktf convert --image_dir {root} --output_dir' in message
    assert "Experiment.decoder = 'image_folder'" in message
    assert not os.path.exists(tmp_path / 'model')


@pytest.mark.slow
def test_label_out_of_range_is_one_sentence_and_leaves_nothing(tmp_path):
    path = str(tmp_path / 'train-00000.tfrecord')
    write_records(path, _good(4, label=lambda i: [0, 1, 0, 7][i]))
    message = _error(_run(tmp_path, f"TRAIN_FILES = '{path}'",
                          'Experiment.shuffle_buffer = 0'))
    assert message == (f'Label 7 out of range [0, NUM_CLASSES=2) in {path} record 3. Fix '
                       'the data or set NUM_CLASSES.')
    assert not os.path.exists(tmp_path / 'model')  # ckpt-0 was written, then taken back


@pytest.mark.slow
def test_a_failed_start_keeps_what_was_there_before(tmp_path):
    model_dir = tmp_path / 'existing'
    model_dir.mkdir()
    (model_dir / 'notes.txt').write_text('mine')
    path = str(tmp_path / 'train.tfrecord')
    write_records(path, _good(4, label=lambda i: 5))
    message = _error(_run(tmp_path, f"TRAIN_FILES = '{path}'", model_dir=str(model_dir)))
    assert message.startswith('Label 5 out of range')
    assert os.listdir(model_dir) == ['notes.txt']
    assert (model_dir / 'notes.txt').read_text() == 'mine'


def test_eval_without_a_checkpoint_leaves_no_model_dir(tmp_path):
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', '--mode=eval',
                 f'--model_dir={tmp_path / "m"}'], timeout=TIMEOUT)
    assert 'No checkpoint in' in _error(r)
    assert not os.path.exists(tmp_path / 'm')


@pytest.mark.slow
def test_a_cut_off_shard_is_named(tmp_path):
    path = str(tmp_path / 'train-00000.tfrecord')
    write_records(path, _good(12))
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:-300])
    message = _error(_run(tmp_path, f"TRAIN_FILES = '{path}'"))
    assert message.startswith(f'TRAIN_FILES: {path} is damaged: it is cut off: record 11')
    assert not os.path.exists(tmp_path / 'model')


def test_train_files_none_names_the_setting(tmp_path):
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
                 f'--model_dir={tmp_path}/m', '--gin_param=TRAIN_FILES = None'], timeout=120)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert 'TRAIN_FILES is None: no input files are given' in r.stderr
    assert not (tmp_path / 'm').exists()
