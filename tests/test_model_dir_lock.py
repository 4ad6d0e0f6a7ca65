"""One writer per MODEL_DIR: train.lock refuses a second training run (exit 2, naming
the holder), is taken over from a dead process with one warning, yields to
--force_unlock, and is never taken by read-only commands or non-chief workers."""

import json
import logging
import os
import socket
import subprocess
import time

import pytest

from conftest import run_cli
from jacktf.app import experiment as experiment_lib
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.optim.optimizers import sgd
from jacktf.train import lifecycle, lock as lock_lib
from jacktf.train.lock import LOCK_NAME, LockedError, RunLock
from jacktf.train.trainer import Trainer


@pytest.fixture
def live_pid():
    """A live process on this host that is not a jacktf run."""
    proc = subprocess.Popen(['sleep', '120'])
    time.sleep(0.2)
    yield proc.pid
    proc.kill()
    proc.wait()


def _dead_pid():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


def _write_lock(model_dir, pid, host=None, start_time=None, command='python train.py'):
    os.makedirs(model_dir, exist_ok=True)
    record = {'host': host or socket.gethostname(), 'pid': pid,
              'start_time': time.time() if start_time is None else start_time,
              'command': command, 'token': 'someone-else'}
    with open(os.path.join(model_dir, LOCK_NAME), 'w') as f:
        json.dump(record, f)
    return record


def _holder(model_dir):
    with open(os.path.join(model_dir, LOCK_NAME)) as f:
        return json.load(f)


def test_lock_records_the_holder_and_release_removes_it(tmp_path):
    model_dir = str(tmp_path / 'm')  # created by acquire
    lock = RunLock(model_dir).acquire()
    holder = _holder(model_dir)
    assert holder['pid'] == os.getpid() and holder['host'] == socket.gethostname()
    assert abs(holder['start_time'] - time.time()) < 60 and 'python' in holder['command']
    assert lock_lib.is_held(model_dir) is True
    lock.release()
    assert not os.path.exists(os.path.join(model_dir, LOCK_NAME))
    assert lock_lib.is_held(model_dir) is False


def test_a_live_holder_refuses_a_second_writer_naming_it(tmp_path, live_pid):
    model_dir = str(tmp_path)
    _write_lock(model_dir, live_pid, command='python -m jacktf.run --gin_file=a.gin')
    with pytest.raises(LockedError) as e:
        RunLock(model_dir).acquire()
    msg = str(e.value)
    assert f'PID {live_pid} on host {socket.gethostname()}' in msg
    assert 'python -m jacktf.run --gin_file=a.gin' in msg and '--force_unlock' in msg
    assert _holder(model_dir)['pid'] == live_pid  # untouched


def test_a_dead_holder_is_taken_over_with_one_warning(tmp_path, caplog):
    model_dir = str(tmp_path)
    dead = _dead_pid()
    _write_lock(model_dir, dead)
    with caplog.at_level(logging.WARNING, logger='jacktf'):
        lock = RunLock(model_dir).acquire()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert f'Took over the lock of {model_dir} from PID {dead}' in warnings[0]
    assert f'its process (PID {dead}) is gone' in warnings[0]
    assert _holder(model_dir)['pid'] == os.getpid()
    lock.release()


def test_a_reused_pid_counts_as_gone(tmp_path, live_pid):
    # The lock was written a day before the process with this PID started.
    _write_lock(str(tmp_path), live_pid, start_time=time.time() - 86400)
    lock = RunLock(str(tmp_path)).acquire()
    assert _holder(str(tmp_path))['pid'] == os.getpid()
    lock.release()


def test_another_host_needs_force_unlock(tmp_path, caplog):
    _write_lock(str(tmp_path), 12345, host='other-machine')
    with pytest.raises(LockedError, match=r'PID 12345 on host other-machine.*If that run is '
                       'gone, give --force_unlock'):
        RunLock(str(tmp_path)).acquire()
    lock = RunLock(str(tmp_path), force=True).acquire()
    assert '--force_unlock was given' in caplog.text
    assert _holder(str(tmp_path))['pid'] == os.getpid()
    lock.release()


def test_release_keeps_a_lock_that_was_taken_over(tmp_path):
    first = RunLock(str(tmp_path)).acquire()
    # A live holder keeps its kernel lock: not even --force_unlock takes it.
    with pytest.raises(LockedError, match='holds the kernel lock'):
        RunLock(str(tmp_path), force=True).acquire()
    # Another run wrote its record (it took over on a file system without flock):
    # the first run's release must not remove it.
    record = _write_lock(str(tmp_path), 4242, host='other-machine')
    first.release()
    assert _holder(str(tmp_path))['token'] == record['token']


def test_only_training_on_the_chief_takes_the_lock(tmp_path, default_registry, monkeypatch):
    seen = []
    monkeypatch.setattr(lifecycle, 'guarded',
                        lambda state, check, body, lock=None: seen.append(lock))
    exp = _experiment(tmp_path, default_registry)
    exp.run('train')
    exp.run('train_and_eval')
    exp.run('eval')
    monkeypatch.setattr(experiment_lib.strategy_lib, 'is_chief', lambda: False)
    exp.run('train')
    assert [type(x).__name__ for x in seen] == ['RunLock', 'RunLock', 'NoneType',
                                                 'NoneType']


def _experiment(model_dir, registry, steps=4):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=registry)
    trainer = Trainer(train_steps=steps, optimizer=sgd, learning_rate=0.01,
                      log_every_steps=2, checkpoint_every_steps=2)
    return Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                      train_files='demo://train', eval_files='demo://validation',
                      batch_size=8, eval_batch_size=100, export_at_end=False)


@pytest.mark.slow
def test_training_is_refused_while_eval_works_then_force_unlock(tmp_path, default_registry,
                                                                live_pid, caplog):
    model_dir = tmp_path / 'm'
    assert _experiment(model_dir, default_registry).run('train')['step'] == 4
    assert not (model_dir / LOCK_NAME).exists()  # released at the end
    _write_lock(str(model_dir), live_pid)
    before = sorted(os.listdir(model_dir / 'checkpoints'))
    with pytest.raises(LockedError, match=f'PID {live_pid}'):
        _experiment(model_dir, default_registry, steps=6).run('train')
    assert sorted(os.listdir(model_dir / 'checkpoints')) == before
    assert _holder(str(model_dir))['pid'] == live_pid
    report = _experiment(model_dir, default_registry).run('eval')  # read-only: no lock
    assert report['source'].endswith('ckpt-4') and report['examples'] > 0
    summary = _experiment(model_dir, default_registry, steps=6).run('train',
                                                                    force_unlock=True)
    assert summary['step'] == 6 and '--force_unlock was given' in caplog.text
    assert not (model_dir / LOCK_NAME).exists()


def test_second_writer_exits_2_within_seconds(tmp_path, live_pid):
    model_dir = str(tmp_path / 'm')
    _write_lock(model_dir, live_pid, command='python -m jacktf.run --gin_file=first.gin')
    start = time.time()
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
                 f'--model_dir={model_dir}', '--gin_param=TRAIN_STEPS = 2'], timeout=180)
    took = time.time() - start
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'jacktf: error:' in r.stderr and 'is in use by another training run' in r.stderr
    assert f'PID {live_pid}' in r.stderr and 'first.gin' in r.stderr
    assert 'Traceback' not in r.stderr
    assert sorted(os.listdir(model_dir)) == [LOCK_NAME]  # nothing written
    assert took < 60, took  # TensorFlow's import, no training
