"""Values that make no sense are errors; top-k only where it means something; a resume
that changes BATCH_SIZE or TRAIN_STEPS says so."""

import json
import os

import numpy as np
import pytest

from conftest import run_cli
from jacktf.core import fingerprint
from jacktf.core.errors import ConfigError
from jacktf.evaluation.report import classification_report
from jacktf.core.model import Model


def test_image_size_zero_exits_2_instead_of_training_at_the_default(tmp_path):
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={tmp_path}/m',
                 '--gin_param=IMAGE_SIZE = 0', '--gin_param=TRAIN_STEPS = 3'], timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'Traceback' not in r.stderr
    assert 'jacktf: error: IMAGE_SIZE must be at least 16 pixels, got 0.' in r.stderr
    assert 'None for the resnet_v1_tiny default (224)' in r.stderr


@pytest.mark.parametrize('size, words', [
    (-64, ['at least 16 pixels, got -64']), (8, ['at least 16 pixels, got 8']),
    (64.5, ['whole number of pixels', '64.5']), ('64', ['whole number', "'64'"]),
    (True, ['whole number', 'True'])])
def test_bad_image_sizes_are_named(default_registry, size, words):
    with pytest.raises(ConfigError) as info:
        Model(backbone='resnet_v1_tiny', num_classes=2, image_size=size)
    for word in words:
        assert word in str(info.value)


def test_image_size_none_is_the_card_default_and_whole_floats_are_accepted(
        default_registry):
    assert Model(backbone='resnet_v1_tiny', num_classes=2).image_size == 224
    assert Model(backbone='resnet_v1_tiny', num_classes=2, image_size=96.0).image_size == 96


def test_top_k_is_reported_only_below_the_class_count():
    rng = np.random.RandomState(0)
    for classes, expected in ((2, None), (3, 'top_2_accuracy'), (6, 'top_5_accuracy'),
                              (10, 'top_5_accuracy')):
        labels = rng.randint(0, classes, 50)
        probabilities = rng.dirichlet(np.ones(classes), 50)
        report = classification_report(labels, probabilities,
                                       [f'c{i}' for i in range(classes)])
        top = [k for k in report if k.startswith('top_') and k != 'top_1_accuracy']
        assert top == ([expected] if expected else []), (classes, top)
        if expected:
            k = int(expected.split('_')[1])
            order = np.argsort(-probabilities, axis=1)[:, :k]
            hits = np.mean([label in row for label, row in zip(labels, order)])
            assert report[expected] == pytest.approx(hits)
            assert report[expected] < 1.0
        json.dumps(report)


@pytest.mark.slow
def test_resume_names_changed_batch_size_and_train_steps(tmp_path):
    model_dir = str(tmp_path / 'm')
    base = ['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}',
            '--gin_param=EVAL_FILES = None', '--gin_param=Experiment.export_at_end = False']
    r = run_cli(base + ['--gin_param=TRAIN_STEPS = 2'], timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Changed since' not in r.stdout
    stored = json.load(open(os.path.join(model_dir, 'fingerprint.json')))
    assert stored['run'] == {'batch_size': 32, 'train_steps': 2}
    r = run_cli(base + ['--gin_param=TRAIN_STEPS = 3', '--gin_param=BATCH_SIZE = 16'],
                timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Resuming from' in r.stdout and 'Done at step 3' in r.stdout
    lines = [l for l in r.stdout.splitlines() if 'Changed since the last run' in l]
    assert len(lines) == 1, r.stdout
    assert 'BATCH_SIZE 32 -> 16, TRAIN_STEPS 2 -> 3.' in lines[0]
    stored = json.load(open(os.path.join(model_dir, 'fingerprint.json')))
    assert stored['run'] == {'batch_size': 16, 'train_steps': 3}


def test_fingerprint_run_settings_compare_with_the_last_run(default_registry, tmp_path):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32).build()
    d = str(tmp_path)
    run = {'batch_size': 32, 'train_steps': 100}
    assert fingerprint.check_or_write(d, model, False, run) == []
    assert fingerprint.check_or_write(d, model, True, run) == []
    assert fingerprint.check_or_write(d, model, True, dict(run, train_steps=200)) == \
        ['TRAIN_STEPS 100 -> 200']
    assert fingerprint.check_or_write(d, model, True, dict(run, train_steps=200)) == []
    path = os.path.join(d, 'fingerprint.json')
    old = json.load(open(path))
    old.pop('run')  # a directory written before run settings were stored
    json.dump(old, open(path, 'w'))
    assert fingerprint.check_or_write(d, model, True, {'batch_size': 8,
                                                       'train_steps': 1}) == []
    assert json.load(open(path))['run'] == {'batch_size': 8, 'train_steps': 1}
