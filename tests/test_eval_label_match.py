"""No silent wrong answers: evaluation data is matched to the model's classes by name
(other names are refused, naming them; another order or a missing class is mapped and
the absent classes named), a report on other data goes beside the run's own, and a
finished run's process exits promptly."""

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli
from jacktf.core.errors import ConfigError
from jacktf.data import decoders, label_match, pipeline
from jacktf.evaluation import data_reports

MODEL = ['stripes', 'dots', 'waves']


def _folder(root, classes, per_class=2):
    rng = np.random.default_rng(0)
    for name in classes:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, [20, 20, 3], dtype=np.uint8)).save(
                os.path.join(root, name, f'{i}.png'))
    return str(root)


@pytest.mark.parametrize('data', [['cat', 'dog', 'bird'], ['Stripes', 'dots', 'waves'],
                                  ['stripes', 'dots', 'waves', 'extra'], ['0', '1', '2']])
def test_other_class_names_are_refused_naming_them(data):
    with pytest.raises(ConfigError) as e:
        label_match.label_map(MODEL, data, source='/data/val', labels_path='m/labels.txt')
    unknown = [n for n in data if n not in MODEL]
    message = str(e.value)
    assert all(repr(n) in message.split('the model does not know:')[1] for n in unknown)
    assert 'm/labels.txt' in message and '/data/val' in message


def test_same_classes_need_no_map():
    assert label_match.label_map(MODEL, list(MODEL)) is None
    assert label_match.label_map(None, ['a']) is None  # the model has no names
    assert label_match.label_map(MODEL, None) is None  # the data has none


def test_a_folder_missing_a_class_is_mapped_by_name(tmp_path, caplog):
    # The folder numbers its classes 0 = dots, 1 = waves; the model's are 1 and 2.
    folder = _folder(tmp_path / 'val', ['waves', 'dots'])
    names = pipeline.labels_for(folder)
    assert names == ['dots', 'waves']
    with caplog.at_level('INFO', logger='jacktf'):
        mapping = label_match.label_map(MODEL, names, source=folder)
    assert mapping == [1, 2]
    assert "'stripes' absent from the data" in caplog.text
    decode = label_match.remapped(decoders.image_folder(), mapping)
    labels = sorted(int(r['label']) for r in pipeline.raw_records(folder, decode))
    assert labels == [1, 1, 2, 2]


def test_another_order_is_mapped(tmp_path):
    mapping = label_match.label_map(MODEL, ['waves', 'stripes', 'dots'])
    assert mapping == [2, 0, 1]


def test_absent_classes_are_the_empty_rows():
    confusion = [[2, 0, 0], [0, 0, 0], [1, 0, 3]]
    assert label_match.absent_classes(MODEL, confusion) == ['dots']


def test_reports_on_other_data_go_beside_the_runs(tmp_path):
    model_dir = tmp_path / 'run'
    model_dir.mkdir()
    (model_dir / 'operative_config.gin').write_text(
        "EVAL_FILES = 'demo://validation'\nExperiment.eval_files = %EVAL_FILES\n")
    assert data_reports.report_dir(str(model_dir), 'demo://validation') == \
        str(model_dir / 'eval')
    other = data_reports.report_dir(str(model_dir), '/data/photos/val-*.tfrecord')
    assert os.path.dirname(other) == str(model_dir / 'eval')
    assert re.fullmatch(r'data-data_photos-[0-9a-f]{8}', os.path.basename(other))
    assert data_reports.report_dir(str(model_dir), '/data/other/val-*.tfrecord') != other


def _train(model_dir, *params, timeout=900):
    return run_cli(['jacktf.run', '--gin_file=tiny_from_scratch.gin',
                    f'--model_dir={model_dir}', '--gin_param=TRAIN_STEPS=4',
                    '--gin_param=BATCH_SIZE=8', '--gin_param=periodic_eval.every_steps=2',
                    *[f'--gin_param={p}' for p in params]], timeout=timeout)


@pytest.mark.slow
def test_eval_on_other_data_refuses_or_maps_and_keeps_the_runs_report(tmp_path):
    model_dir = tmp_path / 'run'
    r = _train(model_dir)
    assert r.returncode == 0, r.stderr[-3000:]
    own = {n: (model_dir / 'eval' / n).read_bytes()
           for n in ('confusion_matrix.png', 'top_losses.csv')}
    wrong = _folder(tmp_path / 'wrong', ['cats', 'dogs'])
    r = run_cli(['jacktf.cli', 'eval', f'--model_dir={model_dir}',
                 f"--gin_param=EVAL_FILES='{wrong}'",
                 "--gin_param=Experiment.decoder='image_folder'"])
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert "names classes the model does not know: 'cats', 'dogs'" in r.stderr
    missing = _folder(tmp_path / 'missing', ['stripes'])
    r = run_cli(['jacktf.cli', 'eval', f'--model_dir={model_dir}',
                 f"--gin_param=EVAL_FILES='{missing}'",
                 "--gin_param=Experiment.decoder='image_folder'"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "no example of 1 of the 2 classes: 'dots'" in r.stdout + r.stderr
    path = re.search(r'-> (\S+metrics\.json)', r.stdout).group(1)
    assert os.path.dirname(os.path.dirname(path)) == str(model_dir / 'eval')
    report = json.load(open(path))
    assert report['absent_classes'] == ['dots'] and report['examples'] == 2
    assert report['confusion_matrix'][1] == [0, 0]  # stripes stay stripes (label 0)
    assert sum(report['confusion_matrix'][0]) == 2
    for name, data in own.items():  # the run's own report is untouched
        assert (model_dir / 'eval' / name).read_bytes() == data


TF_EXIT = '''
import tensorflow as tf
ds = tf.data.Dataset.range(100).shuffle(50).map(lambda x: x, num_parallel_calls=2)
it = iter(ds.repeat().prefetch(2))
for _ in range(5):
    next(it)
print('Done', flush=True)
'''


def _seconds_after_done(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT, env={**os.environ, 'PYTHONPATH': ROOT})
    done = None
    for line in proc.stdout:
        if done is None and re.search(r'\bDone\b', line):
            done = time.monotonic()
    proc.wait(timeout=600)
    assert done is not None and proc.returncode == 0
    return time.monotonic() - done


@pytest.mark.slow
def test_a_finished_run_exits_promptly(tmp_path):
    """A hang check: the time from the "Done" line to the end of the process, beside a
    bare TensorFlow process's own exit on this machine at this moment."""
    baseline = _seconds_after_done([sys.executable, '-c', TF_EXIT])
    after = _seconds_after_done([sys.executable, '-m', 'jacktf.run',
                                 '--gin_file=tiny_from_scratch.gin',
                                 f'--model_dir={tmp_path / "run"}',
                                 '--gin_param=TRAIN_STEPS=4', '--gin_param=BATCH_SIZE=8',
                                 '--gin_param=periodic_eval.every_steps=2'])
    assert after < baseline + 5.0, (after, baseline)
