"""A checkpoint, summary or export write that fails (ENOSPC, EROFS, EACCES) stops the run
with exit 2 and a message naming the path and the error; the last good checkpoint still
restores."""

import errno
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import HERE, ROOT
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.optim.optimizers import sgd
from jacktf.serve import staging
from jacktf.train import recovery
from jacktf.train.lock import LOCK_NAME
from jacktf.train.recovery import DiskWriteError
from jacktf.train.trainer import Trainer


def _step_of(prefix):
    return int(tf.train.load_checkpoint(prefix).get_tensor(
        'step/.ATTRIBUTES/VARIABLE_VALUE'))


@pytest.mark.parametrize('error, expected', [
    (OSError(errno.ENOSPC, 'No space left on device', '/m/checkpoints/ckpt-6'),
     ('/m/checkpoints/ckpt-6', errno.ENOSPC)),
    (OSError(errno.EROFS, 'Read-only file system', '/m/export/6'),
     ('/m/export/6', errno.EROFS)),
    (tf.errors.ResourceExhaustedError(None, None, '{{function_node __wrapped__SaveV2}} '
                                      '/m/checkpoints/ckpt-6_temp/part-00000; No space '
                                      'left on device [Op:SaveV2]'),
     ('/m/checkpoints/ckpt-6_temp/part-00000', errno.ENOSPC)),
    (tf.errors.PermissionDeniedError(None, None, '/m/train/events.out.tfevents.1; '
                                     'Permission denied'),
     ('/m/train/events.out.tfevents.1', errno.EACCES)),
    (tf.errors.ResourceExhaustedError(None, None, 'OOM when allocating tensor'), None),
    (OSError(errno.ENOENT, 'No such file or directory', '/m/x'), None),
])
def test_write_failures_are_recognized(error, expected):
    assert recovery.write_failure(error) == expected


def test_a_read_that_is_denied_is_not_a_write_failure(tmp_path):
    with pytest.raises(OSError):
        with recovery.disk_errors(str(tmp_path / 'm')):
            raise OSError(errno.EACCES, 'Permission denied', '/data/train-00000.tfrecord')


@pytest.mark.slow
def test_injected_enospc_at_a_checkpoint_save_exits_2(tmp_path):
    model_dir = tmp_path / 'm'
    # Saves ckpt-0 (the restore point), ckpt-2 and ckpt-4; the save of ckpt-6 fails.
    r = subprocess.run(
        [sys.executable, os.path.join(HERE, 'disk_full_run.py'), 'checkpoint', '3', '--',
         '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}',
         '--gin_param=TRAIN_STEPS = 10', '--gin_param=BATCH_SIZE = 8',
         '--gin_param=IMAGE_SIZE = 32', '--gin_param=Trainer.checkpoint_every_steps = 2',
         '--gin_param=periodic_eval.every_steps = None'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-3000:]
    ckpt_dir = model_dir / 'checkpoints'
    assert (f'jacktf: error: Could not write {ckpt_dir}/ckpt-6: No space left on device '
            '(ENOSPC). Training stopped.') in r.stderr
    assert f'The last good checkpoint {ckpt_dir}/ckpt-4 restores' in r.stderr
    assert 'run the same command to resume' in r.stderr and 'Traceback' not in r.stderr
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    assert latest == f'{ckpt_dir}/ckpt-4' and recovery.unreadable(latest) is None
    assert _step_of(latest) == 4
    assert not (model_dir / LOCK_NAME).exists()  # released on the way out


def _experiment(model_dir, registry, steps=4, export_at_end=False):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=registry)
    trainer = Trainer(train_steps=steps, optimizer=sgd, learning_rate=0.01,
                      log_every_steps=2, checkpoint_every_steps=2)
    return Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                      train_files='demo://train', batch_size=8,
                      export_at_end=export_at_end)


@pytest.mark.slow
def test_a_failed_export_names_the_path_and_leaves_no_export(tmp_path, default_registry,
                                                             monkeypatch):
    def read_only(source, target):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), target)

    monkeypatch.setattr(staging, 'publish', read_only)
    model_dir = tmp_path / 'm'
    with pytest.raises(DiskWriteError) as e:
        _experiment(model_dir, default_registry, export_at_end=True).run('train')
    msg = str(e.value)
    assert f'Could not write {model_dir}/export/4: Read-only file system (EROFS)' in msg
    assert f'The last good checkpoint {model_dir}/checkpoints/ckpt-4 restores' in msg
    assert os.listdir(model_dir / 'export') == []  # no half export, no staging folder
    assert _step_of(tf.train.latest_checkpoint(str(model_dir / 'checkpoints'))) == 4


def _mount_tmpfs(path, size):
    os.makedirs(path)
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)],
                       capture_output=True, text=True)
    return r.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason='mounting a small tmpfs needs root')
def test_a_really_full_file_system(tmp_path, default_registry):
    fs = tmp_path / 'fs'
    if not _mount_tmpfs(fs, '10m'):
        pytest.skip('tmpfs cannot be mounted here')
    try:
        model_dir = fs / 'm'
        # Each checkpoint is 4.2 MB: ckpt-0 and ckpt-2 fit in 10 MB, ckpt-4 does not.
        with pytest.raises(DiskWriteError) as e:
            _experiment(model_dir, default_registry, steps=6).run('train')
        msg = str(e.value)
        assert f'Could not write {model_dir}/checkpoints/ckpt-4' in msg
        assert 'No space left on device (ENOSPC)' in msg
        assert f'The last good checkpoint {model_dir}/checkpoints/ckpt-2 restores' in msg
        latest = tf.train.latest_checkpoint(str(model_dir / 'checkpoints'))
        assert latest.endswith('ckpt-2') and recovery.unreadable(latest) is None
        assert _step_of(latest) == 2
        # The unfinished save's parts were removed: the space is free again.
        assert not [p for p in os.listdir(model_dir / 'checkpoints') if 'ckpt-4' in p]
    finally:
        # Lazy: the failed run's summary writers still hold files open in this process.
        subprocess.run(['umount', '-l', str(fs)], check=False)
        with open('/proc/mounts') as f:
            assert str(fs) not in f.read()
