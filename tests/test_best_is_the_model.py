"""A run's model is its best checkpoint: eval, export and predict on a model directory use
MODEL_DIR/best (and export_best/) when best-k kept one, else the latest."""

import json
import logging
import os
import types

import tensorflow as tf

from jacktf.app.experiment import Experiment
from jacktf.serve.saved_models import find_saved_model
from jacktf.train.checkpointing import best_entry


def _checkpoint(prefix):
    return tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(prefix))


def _run(tmp_path, best_steps):
    for step in (2, 4, 6):
        _checkpoint(tmp_path / 'checkpoints' / f'ckpt-{step}')
    state = 'model_checkpoint_path: "ckpt-6"\nall_model_checkpoint_paths: "ckpt-6"\n'
    (tmp_path / 'checkpoints' / 'checkpoint').write_text(state)
    entries = []
    for step, accuracy in best_steps:
        _checkpoint(tmp_path / 'best' / f'ckpt-{step}')
        entries.append({'step': step, 'accuracy': accuracy, 'checkpoint': f'best/ckpt-{step}'})
    if entries:
        (tmp_path / 'best' / 'best.json').write_text(json.dumps(entries))
    return types.SimpleNamespace(model_dir=str(tmp_path))


def test_the_best_checkpoint_is_used_and_said(tmp_path, caplog):
    run = _run(tmp_path, [(4, 0.9), (2, 0.7)])
    with caplog.at_level(logging.INFO, logger='jacktf'):
        path = Experiment._find_checkpoint(run)
    assert path == str(tmp_path / 'best' / 'ckpt-4')
    assert 'Using the best checkpoint' in caplog.text and 'accuracy 0.9 at step 4' in caplog.text
    assert Experiment.export_base(run, path) == str(tmp_path / 'export_best')
    assert best_entry(str(tmp_path))['step'] == 4


def test_a_best_that_is_the_latest_step_is_read_from_checkpoints(tmp_path, caplog):
    run = _run(tmp_path, [(6, 0.9), (4, 0.8)])
    with caplog.at_level(logging.INFO, logger='jacktf'):
        path = Experiment._find_checkpoint(run)
    assert path.endswith(os.path.join('checkpoints', 'ckpt-6'))
    assert Experiment.export_base(run, path) == str(tmp_path / 'export')
    assert 'Using the best checkpoint' not in caplog.text


def test_without_best_k_the_latest_is_used(tmp_path):
    run = _run(tmp_path, [])
    path = Experiment._find_checkpoint(run)
    assert path.endswith(os.path.join('checkpoints', 'ckpt-6'))
    assert Experiment.export_base(run, path) == str(tmp_path / 'export')
    # A checkpoint given by the user wins over the best.
    _run(tmp_path, [(4, 0.9)])
    given = Experiment._find_checkpoint(run, str(tmp_path / 'checkpoints' / 'ckpt-2'))
    assert given.endswith('ckpt-2')


def test_a_best_checkpoint_whose_files_are_gone_is_skipped(tmp_path):
    run = _run(tmp_path, [(4, 0.9)])
    for name in os.listdir(tmp_path / 'best'):
        if name.startswith('ckpt-4'):
            os.remove(tmp_path / 'best' / name)
    assert Experiment._find_checkpoint(run).endswith('ckpt-6')


def test_a_model_directory_resolves_to_its_best_saved_model(tmp_path):
    for folder, version in (('export', 6), ('export_best', 4)):
        os.makedirs(tmp_path / folder / str(version))
        (tmp_path / folder / str(version) / 'saved_model.pb').write_bytes(b'x')
    path, note = find_saved_model(str(tmp_path))
    assert path == str(tmp_path / 'export_best' / '4') and 'export_best' in note
    os.rename(tmp_path / 'export_best', tmp_path / 'elsewhere')
    path, _ = find_saved_model(str(tmp_path))
    assert path == str(tmp_path / 'export' / '6')


def test_a_tie_goes_to_the_later_step(tmp_path):
    """On a small validation set evaluations tie; the later (longer trained) checkpoint
    is the best, for accuracy and for loss, and a worse one never enters."""
    from jacktf.train.checkpointing import BestCheckpoints
    ckpt = tf.train.Checkpoint(v=tf.Variable(0.0))
    for mode, values in (('max', [1.0, 1.0, 0.9]), ('min', [0.2, 0.2, 0.3])):
        best = BestCheckpoints(str(tmp_path / mode), 1, ckpt, metric='m', mode=mode)
        for step, value in zip((10, 20, 30), values):
            ckpt.v.assign(float(step))
            best.consider(step, value)
        assert [e['step'] for e in best.entries] == [20]
        reader = tf.train.load_checkpoint(best.entries[0]['checkpoint'])
        assert reader.get_tensor('v/.ATTRIBUTES/VARIABLE_VALUE') == 20.0
        assert sorted(os.listdir(tmp_path / mode / 'best')) == [
            'best.json', 'ckpt-20.data-00000-of-00001', 'ckpt-20.index']
