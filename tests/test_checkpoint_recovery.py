"""A damaged newest checkpoint does not end the run: the newest readable one is resumed
from, the damaged files are moved to checkpoints/damaged (never deleted)."""

import logging
import os

import pytest
import tensorflow as tf

from jacktf.core.errors import RestoreError
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.core.rundir import CreatedFiles
from jacktf.optim.optimizers import sgd
from jacktf.train import recovery
from jacktf.train.trainer import Trainer


def _checkpoints(ckpt_dir, steps=(1, 2, 3)):
    step = tf.Variable(0, dtype=tf.int64)
    weights = tf.Variable(tf.zeros([64, 64]))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step, w=weights),
                                         str(ckpt_dir), max_to_keep=5)
    for s in steps:
        step.assign(s)
        weights.assign(tf.fill([64, 64], float(s)))
        manager.save(checkpoint_number=s)
    return ckpt_dir


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(size // 2)
    return size // 2


def _restored_step(prefix):
    return int(tf.train.load_checkpoint(prefix).get_tensor(
        'step/.ATTRIBUTES/VARIABLE_VALUE'))


def test_truncated_data_file_falls_back_and_is_set_aside(tmp_path, caplog):
    ckpt_dir = _checkpoints(tmp_path / 'checkpoints')
    size = _truncate(ckpt_dir / 'ckpt-3.data-00000-of-00001')
    assert recovery.unreadable(str(ckpt_dir / 'ckpt-3')) is not None
    with caplog.at_level(logging.WARNING, logger='jacktf'):
        latest, moved = recovery.recover(str(ckpt_dir))
    assert latest == str(ckpt_dir / 'ckpt-2') and _restored_step(latest) == 2
    damaged = ckpt_dir / 'damaged'
    assert sorted(os.listdir(damaged)) == ['ckpt-3.data-00000-of-00001', 'ckpt-3.index']
    assert os.path.getsize(damaged / 'ckpt-3.data-00000-of-00001') == size  # kept as was
    assert not list(ckpt_dir.glob('ckpt-3.*'))
    assert sorted(map(os.path.basename, moved)) == sorted(os.listdir(damaged))
    assert tf.train.latest_checkpoint(str(ckpt_dir)) == latest  # the state file follows
    msg = caplog.text
    assert f'Checkpoint {ckpt_dir}/ckpt-3 cannot be read' in msg
    assert f'resuming from {ckpt_dir}/ckpt-2' in msg and f'moved to {damaged}' in msg
    # The next recovery finds nothing wrong.
    assert recovery.recover(str(ckpt_dir)) == (latest, [])


def test_missing_index_falls_back(tmp_path, caplog):
    ckpt_dir = _checkpoints(tmp_path / 'checkpoints')
    os.remove(ckpt_dir / 'ckpt-3.index')
    latest, _ = recovery.recover(str(ckpt_dir))
    assert latest.endswith('ckpt-2')
    assert 'its index file is missing' in caplog.text
    assert os.listdir(ckpt_dir / 'damaged') == ['ckpt-3.data-00000-of-00001']


def test_state_file_naming_a_file_that_is_gone(tmp_path, caplog):
    ckpt_dir = _checkpoints(tmp_path / 'checkpoints')
    for f in ckpt_dir.glob('ckpt-3.*'):
        os.remove(f)
    assert tf.train.latest_checkpoint(str(ckpt_dir)) is None  # what resume used to see
    latest, moved = recovery.recover(str(ckpt_dir))
    assert latest.endswith('ckpt-2') and moved == []
    assert f'Checkpoint {ckpt_dir}/ckpt-3 cannot be read (its files are gone)' in caplog.text
    assert tf.train.latest_checkpoint(str(ckpt_dir)).endswith('ckpt-2')


def test_readers_do_not_move_files(tmp_path):
    ckpt_dir = _checkpoints(tmp_path / 'checkpoints')
    _truncate(ckpt_dir / 'ckpt-3.data-00000-of-00001')
    latest, moved = recovery.recover(str(ckpt_dir), repair=False)
    assert latest.endswith('ckpt-2') and moved == []
    assert (ckpt_dir / 'ckpt-3.index').exists() and not (ckpt_dir / 'damaged').exists()


def test_a_failed_start_keeps_the_damaged_files(tmp_path):
    (tmp_path / 'checkpoints').mkdir()
    created = CreatedFiles(str(tmp_path))
    damaged = tmp_path / 'checkpoints' / 'damaged'
    damaged.mkdir()
    (damaged / 'ckpt-3.index').write_text('x')
    (tmp_path / 'events').write_text('new')
    created.keep([str(damaged / 'ckpt-3.index')])
    assert created.remove() == [str(tmp_path / 'events')]
    assert (damaged / 'ckpt-3.index').exists()


def _experiment(model_dir, registry, steps):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=registry)
    trainer = Trainer(train_steps=steps, optimizer=sgd, learning_rate=0.01,
                      log_every_steps=2, checkpoint_every_steps=2)
    return Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                      train_files='demo://train', batch_size=8, export_at_end=False)


def test_training_resumes_from_the_newest_readable_checkpoint(tmp_path, default_registry,
                                                              caplog):
    caplog.set_level(logging.INFO, logger='jacktf')
    model_dir = tmp_path / 'm'
    assert _experiment(model_dir, default_registry, 4).run('train')['step'] == 4
    ckpt_dir = model_dir / 'checkpoints'
    size = _truncate(ckpt_dir / 'ckpt-4.data-00000-of-00001')
    caplog.clear()
    summary = _experiment(model_dir, default_registry, 6).run('train')
    assert summary['step'] == 6 and summary['checkpoint'].endswith('ckpt-6')
    text = caplog.text
    assert f'Checkpoint {ckpt_dir}/ckpt-4 cannot be read' in text
    assert f'Resuming from {ckpt_dir}/ckpt-2 at step 2' in text
    kept = ckpt_dir / 'damaged' / 'ckpt-4.data-00000-of-00001'
    assert kept.exists() and os.path.getsize(kept) == size
    # The checkpoint written again at step 4 and the final one read whole.
    for step in (4, 6):
        assert recovery.unreadable(str(ckpt_dir / f'ckpt-{step}')) is None
    assert tf.train.latest_checkpoint(str(ckpt_dir)).endswith('ckpt-6')


@pytest.mark.parametrize('name', ['checkpoints/ckpt-5_temp', 'export/.7-abc',
                                  'export_best/.3-old-x'])
def test_leftovers_of_a_killed_run_are_cleared(tmp_path, name):
    (tmp_path / name / 'variables').mkdir(parents=True)
    (tmp_path / 'export' / '7' / 'variables').mkdir(parents=True)
    (tmp_path / 'checkpoints').mkdir(exist_ok=True)
    (tmp_path / 'checkpoints' / 'ckpt-4.index').write_text('x')
    removed = recovery.clear_leftovers(str(tmp_path))
    assert removed == [str(tmp_path / name)] and not (tmp_path / name).exists()
    assert (tmp_path / 'export' / '7' / 'variables').is_dir()  # a finished export stays
    assert (tmp_path / 'checkpoints' / 'ckpt-4.index').exists()


def test_eval_and_export_read_the_newest_whole_checkpoint_and_move_nothing(
        tmp_path, default_registry, caplog):
    ckpt_dir = _checkpoints(tmp_path / 'checkpoints')
    _truncate(ckpt_dir / 'ckpt-3.data-00000-of-00001')
    path = _experiment(tmp_path, default_registry, 4)._find_checkpoint()
    assert path == str(ckpt_dir / 'ckpt-2')
    assert f'Checkpoint {ckpt_dir}/ckpt-3 cannot be read' in caplog.text
    assert (ckpt_dir / 'ckpt-3.index').exists()  # a reader leaves it for the writer


def test_the_input_iterator_state_reads(tmp_path):
    """Deterministic runs checkpoint the input iterator (a variant tensor)."""
    iterator = iter(tf.data.Dataset.range(10).shuffle(5, seed=1))
    next(iterator)
    prefix = tf.train.Checkpoint(data=iterator).write(str(tmp_path / 'ckpt-1'))
    assert recovery.unreadable(prefix) is None
    _truncate(prefix + '.data-00000-of-00001')
    assert recovery.unreadable(prefix) is not None


def test_when_no_checkpoint_reads_nothing_is_moved(tmp_path):
    ckpt_dir = _checkpoints(tmp_path / 'checkpoints', steps=(1, 2))
    for step in (1, 2):
        _truncate(ckpt_dir / f'ckpt-{step}.data-00000-of-00001')
    with pytest.raises(RestoreError, match=r'No checkpoint in .* can be read: the newest, '
                       r'.*ckpt-2, fails .*Nothing was moved'):
        recovery.recover(str(ckpt_dir))
    assert sorted(os.listdir(ckpt_dir)) == ['checkpoint', 'ckpt-1.data-00000-of-00001',
                                            'ckpt-1.index', 'ckpt-2.data-00000-of-00001',
                                            'ckpt-2.index']


def test_a_state_file_whose_files_are_all_gone_is_no_checkpoint(tmp_path):
    ckpt_dir = _checkpoints(tmp_path / 'checkpoints', steps=(1,))
    for f in ckpt_dir.glob('ckpt-1.*'):
        os.remove(f)
    assert recovery.recover(str(ckpt_dir)) == (None, [])
    assert os.listdir(ckpt_dir) == []
