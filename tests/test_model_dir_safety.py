"""The model directory is never a path to something else: cleanup never follows links
nor deletes outside MODEL_DIR, best-k of a copied run leaves the original alone, the
writer lock is a kernel lock, bad lock files and MODEL_DIRs exit 2, files follow the
umask, and the feature cache of a remote MODEL_DIR is private."""

import json
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from conftest import ROOT, run_cli
from jacktf.core import fs_safety
from jacktf.core.files import write_atomic
from jacktf.core.errors import ConfigError
from jacktf.core.rundir import CreatedFiles
from jacktf.train import feature_cache, feature_store, recovery
from jacktf.train.checkpointing import BestCheckpoints
from jacktf.train.lock import LOCK_NAME, LockedError, RunLock


def _precious(tmp_path):
    """A folder outside MODEL_DIR holding a file that must survive."""
    other = tmp_path / 'precious'
    (other / 'sub').mkdir(parents=True)
    (other / 'sub' / 'data.txt').write_text('keep me')
    (other / 'notes.txt').write_text('keep me too')
    return other


def _intact(other):
    assert (other / 'sub' / 'data.txt').read_text() == 'keep me'
    assert (other / 'notes.txt').read_text() == 'keep me too'


@pytest.mark.parametrize('leftover', ['checkpoints/ckpt-7_temp', 'best/ckpt-3_temp',
                                      'export/.12-abc'])
def test_a_leftover_named_link_is_unlinked_not_followed(tmp_path, leftover):
    other = _precious(tmp_path)
    model_dir = tmp_path / 'm'
    link = model_dir / leftover
    link.parent.mkdir(parents=True)
    os.symlink(other, link)
    removed = recovery.clear_leftovers(str(model_dir))
    _intact(other)
    assert removed == [str(link)] and not os.path.lexists(link)


def test_links_inside_a_leftover_folder_are_not_followed(tmp_path):
    other = _precious(tmp_path)
    temp = tmp_path / 'm' / 'checkpoints' / 'ckpt-9_temp'
    temp.mkdir(parents=True)
    (temp / 'part-0').write_text('half')
    os.symlink(other, temp / 'inner')
    os.symlink(other / 'notes.txt', temp / 'file-link')
    recovery.clear_leftovers(str(tmp_path / 'm'))
    _intact(other)
    assert not temp.exists()


def test_a_linked_checkpoints_folder_is_not_cleaned(tmp_path):
    other = _precious(tmp_path)
    (other / 'ckpt-1_temp').mkdir()
    (other / 'ckpt-1_temp' / 'x').write_text('x')
    (tmp_path / 'm').mkdir()
    os.symlink(other, tmp_path / 'm' / 'checkpoints')
    assert recovery.clear_leftovers(str(tmp_path / 'm')) == []
    assert (other / 'ckpt-1_temp' / 'x').exists()


def test_taking_back_a_failed_start_unlinks_new_links(tmp_path):
    other = _precious(tmp_path)
    model_dir = tmp_path / 'm'
    model_dir.mkdir()
    created = CreatedFiles(str(model_dir))
    os.symlink(other, model_dir / 'eval')
    assert created.remove() == [str(model_dir / 'eval')]
    _intact(other)


def test_remove_tree_refuses_paths_outside_the_root(tmp_path):
    other = _precious(tmp_path)
    (tmp_path / 'm').mkdir()
    assert not fs_safety.remove_tree(str(tmp_path / 'm' / '..' / 'precious'),
                                     str(tmp_path / 'm'))
    _intact(other)


def _best(model_dir, k, value):
    step = tf.Variable(value)
    best = BestCheckpoints(str(model_dir), k, tf.train.Checkpoint(v=step))
    return best


def test_best_k_of_a_copied_run_deletes_only_its_own_checkpoints(tmp_path):
    original = tmp_path / 'run'
    best = _best(original, 2, 1.0)
    best.consider(100, 0.5)
    best.consider(200, 0.6)
    index = json.loads((original / 'best' / 'best.json').read_text())
    assert [e['checkpoint'] for e in index] == ['best/ckpt-200', 'best/ckpt-100']
    # An older jacktf wrote absolute paths: the copy must read them as its own.
    for e in index:
        e['checkpoint'] = str(original / e['checkpoint'])
    (original / 'best' / 'best.json').write_text(json.dumps(index))
    copy = tmp_path / 'copy'
    shutil.copytree(original, copy)
    before = sorted(os.listdir(original / 'best'))
    best = _best(copy, 2, 2.0)
    assert [e['checkpoint'] for e in best.entries] == [
        str(copy / 'best' / 'ckpt-200'), str(copy / 'best' / 'ckpt-100')]
    best.consider(300, 0.9)  # drops step 100: the copy's file, not the original's
    assert sorted(os.listdir(original / 'best')) == before
    assert not any(n.startswith('ckpt-100.') for n in os.listdir(copy / 'best'))
    assert [e['checkpoint'] for e in json.loads(
        (copy / 'best' / 'best.json').read_text())] == ['best/ckpt-300', 'best/ckpt-200']


def test_remote_feature_cache_is_a_private_folder_of_the_user(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    root = feature_cache.cache_root('gs://bucket/runs/a')
    assert root.startswith(str(tmp_path / 'cache' / 'jacktf' / 'feature_cache') + os.sep)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert feature_cache.cache_root('gs://bucket/runs/b') != root
    os.chmod(root, 0o777)  # a loosened folder is made private again
    assert stat.S_IMODE(os.stat(feature_cache.cache_root('gs://bucket/runs/a')).st_mode) \
        == 0o700
    assert feature_cache.cache_root(str(tmp_path / 'm')) == str(tmp_path / 'm' /
                                                                 'feature_cache')


def test_a_linked_private_cache_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    (tmp_path / 'cache' / 'jacktf').mkdir(parents=True)
    os.symlink(tmp_path, tmp_path / 'cache' / 'jacktf' / 'feature_cache')
    with pytest.raises(Exception, match='must be a folder of this user'):
        fs_safety.private_dir('feature_cache')


HOLDER = '''
import sys, time
from jacktf.train.lock import RunLock
RunLock(sys.argv[1]).acquire()
print('locked', flush=True)
time.sleep(120)
'''


def test_the_kernel_lock_holds_when_the_holder_pid_looks_gone(tmp_path):
    """Another PID namespace: the holder's PID is not visible here, so the record looks
    stale; the kernel lock still refuses a takeover, even with --force_unlock."""
    model_dir = str(tmp_path / 'm')
    proc = subprocess.Popen([sys.executable, '-c', HOLDER, model_dir],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, 'PYTHONPATH': ROOT})
    try:
        assert proc.stdout.readline().strip() == 'locked'
        path = os.path.join(model_dir, LOCK_NAME)
        with open(path) as f:
            record = json.load(f)
        dead = subprocess.Popen(['true'])
        dead.wait()
        record['pid'] = dead.pid  # what the holder's PID looks like from elsewhere
        with open(path, 'r+') as f:  # in place: the holder's kernel lock stays
            f.truncate(0)
            json.dump(record, f)
        for force in (False, True):
            with pytest.raises(LockedError, match='holds the kernel lock'):
                RunLock(model_dir, force=force).acquire()
    finally:
        proc.kill()
        proc.wait()
    # The kernel dropped the lock with the process: now it is taken over.
    lock = RunLock(model_dir).acquire()
    lock.release()


@pytest.mark.parametrize('garbage', [b'[1, 2]', b'{"pid": "x", "host": 3}', b'\xff\xfe\x00',
                                     b'null', b'{"host": "h", "pid": 1, '
                                     b'"start_time": "yesterday"}'])
def test_garbage_in_the_lock_file_is_refused_with_a_message(tmp_path, garbage):
    (tmp_path / LOCK_NAME).write_bytes(garbage)
    with pytest.raises(LockedError, match='is not a jacktf lock record.*--force_unlock'):
        RunLock(str(tmp_path)).acquire()
    lock = RunLock(str(tmp_path), force=True).acquire()
    lock.release()


def test_a_linked_lock_file_is_refused(tmp_path):
    _precious(tmp_path)
    (tmp_path / 'm').mkdir()
    os.symlink(tmp_path / 'precious' / 'notes.txt', tmp_path / 'm' / LOCK_NAME)
    with pytest.raises(Exception, match='is a symbolic link'):
        RunLock(str(tmp_path / 'm')).acquire()
    assert (tmp_path / 'precious' / 'notes.txt').read_text() == 'keep me too'


def _train(model_dir, *extra):
    return run_cli(['jacktf.run', '--gin_file=tiny_from_scratch.gin',
                    f'--model_dir={model_dir}', '--gin_param=TRAIN_STEPS=1', *extra])


def test_a_dangling_or_file_model_dir_is_refused_before_anything_is_written(tmp_path):
    os.symlink(tmp_path / 'gone', tmp_path / 'dangling')
    with pytest.raises(ConfigError, match=r'dangling is a symbolic link to .*gone.* which '
                       'does not exist'):
        RunLock(str(tmp_path / 'dangling')).acquire()
    assert not os.path.exists(tmp_path / 'gone')
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ConfigError, match='is a file, not a folder'):
        RunLock(str(tmp_path / 'file')).acquire()
    assert (tmp_path / 'file').read_text() == 'x'


@pytest.mark.slow
@pytest.mark.parametrize('case', ['garbage_lock', 'dangling', 'file'])
def test_bad_model_dirs_exit_2_with_a_message(tmp_path, case):
    model_dir = tmp_path / 'm'
    if case == 'garbage_lock':
        model_dir.mkdir()
        (model_dir / LOCK_NAME).write_text('[1, 2, 3]')
        expected = 'is not a jacktf lock record'
    elif case == 'dangling':
        os.symlink(tmp_path / 'gone', model_dir)
        expected = 'which does not exist'
    else:
        model_dir.write_text('x')
        expected = 'is a file, not a folder'
    r = _train(model_dir)
    assert r.returncode == 2, r.stderr[-2000:]
    assert expected in r.stderr and 'Traceback' not in r.stderr + r.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into read-only folders')
def test_a_read_only_model_dir_exits_2(tmp_path):
    model_dir = tmp_path / 'm'
    model_dir.mkdir()
    os.chmod(model_dir, 0o555)
    try:
        r = _train(model_dir)
    finally:
        os.chmod(model_dir, 0o755)
    assert r.returncode == 2 and 'not writable' in r.stderr, r.stderr[-2000:]


def test_read_only_check_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(os, 'access', lambda path, mode: False)
    with pytest.raises(Exception, match=f'{tmp_path} is not writable'):
        fs_safety.check_model_dir(str(tmp_path))


@pytest.mark.parametrize('umask', [0o022, 0o002, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = tmp_path / 'operative_config.gin'
        write_atomic(str(path), 'x = 1\n')
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
        lock = RunLock(str(tmp_path / 'm')).acquire()
        assert stat.S_IMODE(os.stat(lock.path).st_mode) == 0o666 & ~umask
        lock.release()
    finally:
        os.umask(old)


def test_a_stop_during_the_feature_pass_leaves_no_staging_folder(tmp_path, monkeypatch):
    cache = tmp_path / 'm' / 'feature_cache'
    cache.mkdir(parents=True)

    def interrupted(ds, features_of, tmp, meta):
        with open(os.path.join(tmp, 'features.f32'), 'wb') as f:
            f.write(b'half')
        raise KeyboardInterrupt  # what a stop signal raises in the feature pass

    monkeypatch.setattr(feature_store, 'write_features', interrupted)
    monkeypatch.setattr(feature_store.pipeline, 'read_dataset', lambda *a, **k: [])
    with pytest.raises(KeyboardInterrupt):
        feature_store.compute(_FakeExperiment(), _FakeModel(), False, False,
                               str(cache / 'key'), tf.Variable(0, dtype=tf.int64))
    assert os.listdir(cache) == []


class _FakeExperiment:
    train_files, decode_fn, batch_size = 'demo://train', None, 4
    skip_corrupt, max_pixels, counters = True, 10 ** 8, None


class _FakeModel:
    image_size, num_classes = 16, 2


def test_sigterm_forced_stop_removes_staging_folders(tmp_path):
    from jacktf.train.lifecycle import RunState
    model_dir = tmp_path / 'm'
    for path in ('checkpoints/ckpt-5_temp', 'export/.5-x1', 'export_best/.4-y2',
                 f'feature_cache/abc.tmp-{os.getpid()}'):
        (model_dir / path).mkdir(parents=True)
        (model_dir / path / 'part').write_text('half')
    (model_dir / 'export' / '3').mkdir()
    state = RunState(str(model_dir))
    state.remove_staging()
    left = sorted(os.path.relpath(os.path.join(r, d), model_dir)
                  for r, ds, _ in os.walk(model_dir) for d in ds)
    assert left == ['checkpoints', 'export', 'export/3', 'export_best', 'feature_cache']
