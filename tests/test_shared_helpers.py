"""The shared helpers: atomic writes (also on non-local file systems), the step in a
checkpoint name, "did the metric improve", the input-error mapping."""

import os

import pytest
import tensorflow as tf

from jacktf.core.checkpoint_paths import step_in_name
from jacktf.core.errors import DataError
from jacktf.core.files import write_atomic
from jacktf.data.input_errors import input_errors
from jacktf.train.checkpointing import improved


def test_write_atomic_replaces_whole_files_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / 'sub' / 'best.json')
    assert write_atomic(path, 'old') == path
    write_atomic(path, b'\x89PNG new')
    with open(path, 'rb') as f:
        assert f.read() == b'\x89PNG new'
    assert os.listdir(tmp_path / 'sub') == ['best.json']


def test_write_atomic_goes_through_tf_io_gfile():
    """ram:// is a TensorFlow file system (as gs:// is): the write must not use os."""
    path = 'ram://jacktf-atomic/metrics.csv'
    write_atomic(path, 'step,loss\n1,0.5\n')
    with tf.io.gfile.GFile(path) as f:
        assert f.read() == 'step,loss\n1,0.5\n'
    assert tf.io.gfile.listdir('ram://jacktf-atomic') == ['metrics.csv']


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / 'labels.txt')
    write_atomic(path, 'cat\ndog\n')
    with pytest.raises(TypeError):
        write_atomic(path, 42)
    assert open(path).read() == 'cat\ndog\n' and os.listdir(tmp_path) == ['labels.txt']


def test_step_in_name():
    assert step_in_name('/runs/a/checkpoints/ckpt-600') == 600
    assert step_in_name('gs://b/run-3/best/ckpt-12') == 12
    assert step_in_name('/runs/a/model.ckpt') is None
    assert step_in_name(None) is None


def test_improved_is_one_rule_for_both_directions():
    assert improved(0.8, None)
    assert improved(0.81, 0.8) and not improved(0.8, 0.8)
    assert not improved(0.805, 0.8, 'max', min_delta=0.01)
    assert improved(0.2, 0.3, 'min') and not improved(0.3, 0.3, 'min')


def test_input_errors_maps_damaged_files_and_empty_inputs(tmp_path):
    bad = tmp_path / 'train-00000.tfrecord'
    bad.write_bytes(b'not a record at all' * 10)
    with pytest.raises(DataError, match='EVAL_FILES'):
        with input_errors(str(bad), 'EVAL_FILES'):
            for _ in tf.data.TFRecordDataset(str(bad)):
                pass
    with pytest.raises(StopIteration):  # an end is not an error unless asked
        with input_errors(str(bad), 'TRAIN_FILES'):
            next(iter([]))
    with pytest.raises(DataError, match='TRAIN_FILES'):
        with input_errors(str(bad), 'TRAIN_FILES', ends=True):
            next(iter([]))
