"""Checkpoint paths as users give them: a file of the checkpoint, a folder, a state file
written on another machine, a path that does not exist."""

import logging
import os
import shutil

import numpy as np
import pytest
from tf_slim.nets import resnet_v1

import jacktf
from jacktf.backbones import resnet
from jacktf.core.checkpoint_paths import checkpoints_in, resolve_checkpoint
from jacktf.core.restore import checkpoint_variables
from slim_ckpt import write_checkpoint, write_net_checkpoint


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """A folder holding one official-format checkpoint (and no state file)."""
    folder = tmp_path_factory.mktemp('slim_tarball')
    path = str(folder / 'resnet_v1_tiny.ckpt')
    values = write_net_checkpoint(path, resnet.resnet_v1_tiny, resnet_v1.resnet_arg_scope,
                                  num_classes=1000)
    os.remove(folder / 'checkpoint')  # as unpacked from a slim tarball
    return path, values


@pytest.fixture
def notes():
    """The jacktf log lines of the test."""
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger('jacktf')
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def _copy(src_prefix, folder, name):
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(src_prefix)
    for f in os.listdir(os.path.dirname(src_prefix)):
        if f.startswith(base + '.'):
            shutil.copy(os.path.join(os.path.dirname(src_prefix), f),
                        os.path.join(folder, name + f[len(base):]))
    return os.path.join(folder, name)


@pytest.mark.parametrize('suffix', ['.index', '.data-00000-of-00001', '.meta'])
def test_a_file_of_the_checkpoint_means_its_prefix(tiny, tmp_path, notes, suffix):
    path, _ = tiny
    prefix = _copy(path, tmp_path, 'model.ckpt')
    (tmp_path / 'model.ckpt.meta').write_bytes(b'graph')  # official tarballs ship one
    assert resolve_checkpoint(prefix + suffix) == prefix
    assert len(notes) == 1 and f'is one file of the checkpoint {prefix}' in notes[0]


def test_restoring_from_the_index_file_restores_every_variable(default_registry, tiny,
                                                                notes):
    """Before: the .index file read as a checkpoint of 0 variables."""
    path, values = tiny
    model = jacktf.build_model('resnet_v1_tiny', num_classes=2, registry=default_registry,
                               image_size=32)
    report = jacktf.restore_from_checkpoint(model, path + '.index')
    assert report.checkpoint == path and len(report.restored) == 80 and report.ok
    got = dict(zip(model.variable_names(), model.variables))
    np.testing.assert_array_equal(got['resnet_v1_tiny/conv1/weights'].numpy(),
                                  values['resnet_v1_tiny/conv1/weights'])


def test_a_folder_with_one_checkpoint_and_no_state_file_uses_it(tiny, notes):
    path, _ = tiny
    assert resolve_checkpoint(os.path.dirname(path) + '/') == path
    assert 'without a checkpoint state file; using its only checkpoint' in notes[0]


def test_a_folder_with_several_checkpoints_lists_them(tiny, tmp_path):
    for name in ('model.ckpt-100', 'model.ckpt-20', 'other.ckpt'):
        _copy(tiny[0], tmp_path, name)
    assert [os.path.basename(p) for p in checkpoints_in(str(tmp_path))] == [
        'model.ckpt-20', 'model.ckpt-100', 'other.ckpt']
    with pytest.raises(jacktf.RestoreError) as e:
        resolve_checkpoint(str(tmp_path), setting='--checkpoint')
    msg = str(e.value)
    assert f"--checkpoint '{tmp_path}' is a folder holding 3 checkpoints" in msg
    assert 'model.ckpt-20, model.ckpt-100, other.ckpt' in msg
    assert f'e.g. --checkpoint {tmp_path}/other.ckpt' in msg


def _state_file(folder, target):
    (folder / 'checkpoint').write_text(f'model_checkpoint_path: "{target}"\n'
                                       f'all_model_checkpoint_paths: "{target}"\n')


def test_a_state_file_from_another_machine_uses_the_local_file_of_that_name(
        tiny, tmp_path, notes):
    local = _copy(tiny[0], tmp_path, 'model.ckpt-100')
    _state_file(tmp_path, '/home/other/run/model.ckpt-100')
    assert resolve_checkpoint(str(tmp_path)) == local
    assert notes == [f'{tmp_path}/checkpoint points to /home/other/run/model.ckpt-100, '
                     'which is not on this machine (written elsewhere); using '
                     f'{local} of the same name in that folder.']


def test_a_state_file_from_another_machine_without_the_file_lists_the_folder(tiny,
                                                                             tmp_path):
    _copy(tiny[0], tmp_path, 'model.ckpt-50')
    _state_file(tmp_path, '/home/other/run/model.ckpt-100')
    with pytest.raises(jacktf.RestoreError) as e:
        resolve_checkpoint(str(tmp_path))
    msg = str(e.value)
    assert 'points to /home/other/run/model.ckpt-100, which does not exist here' in msg
    assert 'written on another machine' in msg
    assert f'the folder {tmp_path} holds the checkpoint(s) model.ckpt-50' in msg
    assert f"CHECKPOINT_PATH = '{tmp_path}/model.ckpt-50'" in msg


def test_a_path_that_does_not_exist_names_what_is_nearby(tiny):
    folder = os.path.dirname(tiny[0])
    with pytest.raises(jacktf.RestoreError) as e:
        resolve_checkpoint(os.path.join(folder, 'resnet_v1_tiny.ckp'))
    msg = str(e.value)
    assert f"CHECKPOINT_PATH '{folder}/resnet_v1_tiny.ckp' does not exist" in msg
    assert 'holds the checkpoint(s) resnet_v1_tiny.ckpt' in msg
    assert f"Did you mean '{folder}/resnet_v1_tiny.ckpt'?" in msg
    with pytest.raises(jacktf.RestoreError) as e:
        resolve_checkpoint(os.path.join(folder, 'no', 'such', 'model.ckpt'))
    assert f'nor does {folder}/no/such; the nearest existing folder is {folder}' in \
        str(e.value)


def test_folders_and_files_that_hold_no_checkpoint(tiny, tmp_path):
    run = tmp_path / 'run'
    _copy(tiny[0], str(run / 'checkpoints'), 'ckpt-5')
    (run / 'labels.txt').write_text('a\nb\n')
    with pytest.raises(jacktf.RestoreError) as e:  # a MODEL_DIR instead of its checkpoints
        resolve_checkpoint(str(run))
    assert 'holds no checkpoint' in str(e.value)
    assert f'checkpoints one level down: {run}/checkpoints/ckpt-5' in str(e.value)
    (tmp_path / 'graph.ckpt.meta').write_bytes(b'graph only')
    with pytest.raises(jacktf.RestoreError, match=r'is a meta file, but its checkpoint '
                       r'.*graph.ckpt has no graph.ckpt.index next to it'):
        resolve_checkpoint(str(tmp_path / 'graph.ckpt.meta'))
    (tmp_path / 'notes.ckpt').write_text('not a checkpoint')
    with pytest.raises(jacktf.RestoreError, match='is not a TensorFlow checkpoint'):
        checkpoint_variables(resolve_checkpoint(str(tmp_path / 'notes.ckpt')))


def test_a_name_based_checkpoint_of_any_layout_is_found_in_a_folder(tmp_path):
    write_checkpoint(str(tmp_path / 'x.ckpt'), {'a/w': np.zeros([2], np.float32)})
    assert resolve_checkpoint(str(tmp_path)) == str(tmp_path / 'x.ckpt')  # state file
