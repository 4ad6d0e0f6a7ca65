"""Restoring official-format slim checkpoints: values, exclude rules, report, errors."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tf_slim.nets import resnet_v1

import jacktf
from jacktf.backbones import resnet
from jacktf.core.restore import plan_restore
from slim_ckpt import write_checkpoint, write_net_checkpoint


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ckpt') / 'resnet_v1_tiny.ckpt')
    values = write_net_checkpoint(path, resnet.resnet_v1_tiny, resnet_v1.resnet_arg_scope,
                                  num_classes=1000)
    return path, values


def _model(default_registry, head='logits', num_classes=2):
    return jacktf.build_model('resnet_v1_tiny', head=head, num_classes=num_classes,
                              registry=default_registry, image_size=32)


def _values(model):
    return {n: v.numpy().copy() for n, v in zip(model.variable_names(), model.variables)}


def test_restores_exact_values_and_auto_excludes_new_head(default_registry, tiny_ckpt,
                                                          tmp_path):
    path, ckpt = tiny_ckpt
    model = _model(default_registry)
    before = _values(model)
    report = jacktf.restore_from_checkpoint(
        model, path, exclude_scopes='resnet_v1_tiny/block4',
        report_path=str(tmp_path / 'report.json'))
    after = _values(model)
    block4 = sorted(n for n in after if n.startswith('resnet_v1_tiny/block4/'))
    backbone = sorted(n for n in after if n.startswith('resnet_v1_tiny/')
                      and n not in block4)
    assert sorted(report.restored) == backbone
    assert sorted(report.excluded) == block4
    assert sorted(report.auto_excluded) == ['Predict/logits/biases', 'Predict/logits/weights']
    assert report.missing == [] and report.shape_mismatched == []
    assert report.unused_in_checkpoint == len(block4) + 2  # + the 1000-class logits
    for name in backbone:
        np.testing.assert_array_equal(after[name], ckpt[name])
    for name in block4 + report.auto_excluded:
        np.testing.assert_array_equal(after[name], before[name])
    saved = json.loads((tmp_path / 'report.json').read_text())
    assert saved['ok'] and sorted(saved['excluded']) == block4


def test_native_head_with_other_class_count_is_auto_excluded(default_registry, tiny_ckpt):
    path, _ = tiny_ckpt
    model = _model(default_registry, head='native', num_classes=1001)
    report = jacktf.restore_from_checkpoint(model, path)
    assert sorted(report.auto_excluded) == ['resnet_v1_tiny/logits/biases',
                                            'resnet_v1_tiny/logits/weights']


def test_misspelt_exclude_scope_is_an_error(default_registry, tiny_ckpt):
    with pytest.raises(jacktf.RestoreError, match=r"resnet_v1_tiny/blok4"):
        jacktf.restore_from_checkpoint(_model(default_registry), tiny_ckpt[0],
                                       exclude_scopes=['resnet_v1_tiny/blok4'])


def test_missing_and_mismatched_variables_propose_the_fix(default_registry, tiny_ckpt,
                                                          tmp_path):
    _, ckpt = tiny_ckpt
    values = {n: v for n, v in ckpt.items() if not n.startswith('resnet_v1_tiny/block3/')}
    values['resnet_v1_tiny/conv1/weights'] = np.zeros([7, 7, 3, 32], np.float32)
    path = str(tmp_path / 'bad.ckpt')
    write_checkpoint(path, values)
    model = _model(default_registry)
    before = _values(model)
    with pytest.raises(jacktf.RestoreError) as e:
        jacktf.restore_from_checkpoint(model, path)
    msg = str(e.value)
    assert 'model variables are not in the checkpoint' in msg
    assert "['resnet_v1_tiny/block3/unit_1/bottleneck_v1']" in msg or \
        'resnet_v1_tiny/block3' in msg
    assert 'resnet_v1_tiny/conv1/weights model [7, 7, 3, 64] vs checkpoint [7, 7, 3, 32]' \
        in msg
    assert "['resnet_v1_tiny/conv1']" in msg
    for name, value in _values(model).items():  # nothing assigned on error
        np.testing.assert_array_equal(value, before[name])
    # The proposed rules fix it.
    report = jacktf.restore_from_checkpoint(
        model, path, exclude_scopes=['resnet_v1_tiny/block3', 'resnet_v1_tiny/conv1'])
    assert report.ok and 'resnet_v1_tiny/conv1/weights' in report.excluded


def test_scope_map_reads_a_checkpoint_with_another_root(default_registry, tiny_ckpt,
                                                        tmp_path):
    _, ckpt = tiny_ckpt
    renamed = {n.replace('resnet_v1_tiny/', 'old_root/', 1): v for n, v in ckpt.items()}
    path = str(tmp_path / 'renamed.ckpt')
    write_checkpoint(path, renamed)
    model = _model(default_registry)
    report = jacktf.restore_from_checkpoint(model, path,
                                            scope_map={'resnet_v1_tiny': 'old_root'})
    assert report.ok and len(report.restored) == len(
        [n for n in model.variable_names() if n.startswith('resnet_v1_tiny/')])
    np.testing.assert_array_equal(_values(model)['resnet_v1_tiny/conv1/weights'],
                                  ckpt['resnet_v1_tiny/conv1/weights'])


def test_plan_restore_is_pure_and_exact():
    report = plan_restore(
        {'net/a/w': [3], 'net/logits/w': [4, 2], 'Predict/w': [2]},
        {'net/a/w': [3], 'net/logits/w': [4, 1000], 'extra': [1]},
        exclude_scopes='extra', classifier_scopes=['net/logits'], backbone_scope='net')
    assert report.restored == ['net/a/w']
    assert report.auto_excluded == ['net/logits/w', 'Predict/w']
    assert report.excluded == [] and report.ok
    assert report.unused_in_checkpoint == 2
