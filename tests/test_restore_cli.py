"""Restore errors exit with 2 from both `jacktf.run` and `jacktf inspect-checkpoint`;
warm start, resume and the conflicting-fingerprint case."""

import json
import os

import numpy as np
import pytest
from tf_slim.nets import resnet_v1

from jacktf.backbones import resnet
from conftest import run_cli
from slim_ckpt import write_checkpoint, write_net_checkpoint


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpts')
    good = str(root / 'good.ckpt')
    values = write_net_checkpoint(good, resnet.resnet_v1_tiny, resnet_v1.resnet_arg_scope,
                                  num_classes=1000)
    missing = str(root / 'missing.ckpt')
    write_checkpoint(missing, {n: v for n, v in values.items()
                               if not n.startswith('resnet_v1_tiny/block3/')})
    mismatch = str(root / 'mismatch.ckpt')
    write_checkpoint(mismatch, {**values, 'resnet_v1_tiny/conv1/weights':
                                np.zeros([7, 7, 3, 32], np.float32)})
    return {'good': good, 'missing': missing, 'mismatch': mismatch}


def _recipe(tmp_path, checkpoint, extra=''):
    path = tmp_path / 'recipe.gin'
    path.write_text(f"include 'gin/tiny_from_scratch.gin'\nCHECKPOINT_PATH = '{checkpoint}'\n"
                    f"MODEL_DIR = '{tmp_path / 'model'}'\nTRAIN_STEPS = 5\n"
                    f"Trainer.eval_every_steps = None\n{extra}")
    return str(path)


def _both(recipe, checkpoint):
    inspect = run_cli(['jacktf.cli', 'inspect-checkpoint', '--checkpoint', checkpoint,
                       '--gin_file', recipe])
    train = run_cli(['jacktf.run', f'--gin_file={recipe}', '--mode=train'])
    return inspect, train


def test_inspect_reports_a_good_checkpoint(ckpts, tmp_path):
    recipe = _recipe(tmp_path, ckpts['good'], "FREEZE_SCOPES = ['resnet_v1_tiny/block1']\n")
    r = run_cli(['jacktf.cli', 'inspect-checkpoint', '--checkpoint', ckpts['good'],
                 '--gin_file', recipe, '--json'])
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout[:r.stdout.rindex('}') + 1])
    assert sorted(report['auto_excluded']) == ['Predict/logits/biases',
                                               'Predict/logits/weights']
    assert len(report['frozen']) == 9 and report['missing'] == []  # 3 convs x 3
    assert len(report['restored']) == 80  # 16 convs x (weights + 4 batch-norm)
    assert not os.path.exists(tmp_path / 'model')  # a dry run writes nothing


@pytest.mark.parametrize('case,extra,expect', [
    ('good', "CHECKPOINT_EXCLUDE_SCOPES = ['resnet_v1_tiny/blok4']\n",
     "match no variable of the model or the checkpoint (a typo?): ['resnet_v1_tiny/blok4']"),
    ('missing', '', 'model variables are not in the checkpoint'),
    ('mismatch', '', 'resnet_v1_tiny/conv1/weights model [7, 7, 3, 64] vs checkpoint '
                     '[7, 7, 3, 32]'),
])
def test_restore_errors_exit_2_from_run_and_inspect(ckpts, tmp_path, case, extra, expect):
    recipe = _recipe(tmp_path, ckpts[case], extra)
    for result in _both(recipe, ckpts[case]):
        assert result.returncode == 2, result.stderr[-2000:]
        assert expect in result.stderr
        assert 'CHECKPOINT_EXCLUDE_SCOPES' in result.stderr or 'typo' in result.stderr
        assert 'Traceback' not in result.stderr


def test_warm_start_then_resume_then_conflict(ckpts, tmp_path):
    recipe = _recipe(tmp_path, ckpts['good'])
    first = run_cli(['jacktf.run', f'--gin_file={recipe}', '--mode=train'])
    assert first.returncode == 0, first.stderr[-2000:]
    assert '80 restored, 0 excluded, 2 auto-excluded, 0 missing' in first.stdout
    report = json.loads((tmp_path / 'model' / 'restore_report.json').read_text())
    assert report['ok'] and len(report['restored']) == 80
    second = run_cli(['jacktf.run', f'--gin_file={recipe}', '--mode=train',
                      '--gin_param=TRAIN_STEPS = 8'])
    assert second.returncode == 0, second.stderr[-2000:]
    assert 'Resuming from' in second.stdout and 'at step 5' in second.stdout
    assert 'restored,' not in second.stdout  # the init checkpoint is not applied again
    third = run_cli(['jacktf.run', f'--gin_file={recipe}', '--mode=train',
                     '--gin_param=TRAIN_STEPS = 10', '--gin_param=IMAGE_SIZE = 48'])
    assert third.returncode == 2
    assert 'holds checkpoints of another configuration' in third.stderr
    assert "image_size: 64 in the directory, 48 now" in third.stderr
