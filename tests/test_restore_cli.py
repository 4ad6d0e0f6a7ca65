"""Restore errors exit with 2 from both `jacktf.run` and `jacktf inspect-checkpoint`;
warm start, resume and the conflicting-fingerprint case; checkpoint paths as users give
them and checkpoints of other nets, through both commands."""

import json
import os
import shutil

import numpy as np
import pytest
from tf_slim.nets import resnet_v1

from jacktf.backbones import resnet
from conftest import ROOT, run_cli
from slim_ckpt import write_checkpoint, write_net_checkpoint

REAL = os.environ.get('JACKTF_REAL_FIXTURES') or os.path.join(
    os.path.dirname(ROOT), 'shared', 'fixtures', 'real')
REAL_CKPT = os.path.join(REAL, 'mobilenet_v1_0.25_224.ckpt')


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
    wrapped = str(root / 'wrapped.ckpt')
    write_checkpoint(wrapped, {'tower_0/' + n: v for n, v in values.items()})
    several = root / 'several'
    foreign = root / 'foreign'
    for folder, names in ((several, ('a.ckpt', 'b.ckpt')), (foreign, ('model.ckpt-50',))):
        folder.mkdir()
        for name in names:
            for f in os.listdir(root):
                if f.startswith('good.ckpt.'):
                    shutil.copy(root / f, folder / (name + f[len('good.ckpt'):]))
    (foreign / 'checkpoint').write_text(
        'model_checkpoint_path: "/home/other/run/model.ckpt-100"\n')
    return {'good': good, 'missing': missing, 'mismatch': mismatch, 'wrapped': wrapped,
            'several': str(several), 'foreign': str(foreign),
            'nonexistent': str(root / 'nope' / 'good.ckpt')}


def _recipe(tmp_path, checkpoint, extra='', base='gin/tiny_from_scratch.gin'):
    path = tmp_path / 'recipe.gin'
    path.write_text(f"include '{base}'\nCHECKPOINT_PATH = '{checkpoint}'\n"
                    f"MODEL_DIR = '{tmp_path / 'model'}'\nTRAIN_STEPS = 5\n"
                    f"periodic_eval.every_steps = None\n{extra}")
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
@pytest.mark.slow
def test_restore_errors_exit_2_from_run_and_inspect(ckpts, tmp_path, case, extra, expect):
    recipe = _recipe(tmp_path, ckpts[case], extra)
    for result in _both(recipe, ckpts[case]):
        assert result.returncode == 2, result.stderr[-2000:]
        assert expect in result.stderr
        assert 'CHECKPOINT_EXCLUDE_SCOPES' in result.stderr or 'typo' in result.stderr
        assert 'Traceback' not in result.stderr


@pytest.mark.slow
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


@pytest.mark.parametrize('case,extra,expect', [
    ('nonexistent', '', "good.ckpt' does not exist (nor does "),
    ('several', '', "is a folder holding 2 checkpoints and no `checkpoint` state file"),
    ('foreign', '', 'points to /home/other/run/model.ckpt-100, which does not exist here'),
    ('wrapped', '', "`Experiment.scope_map = {'resnet_v1_tiny': 'tower_0/resnet_v1_tiny'}`"),
    ('good', "CHECKPOINT_EXCLUDE_SCOPES = ['resnet_v1_tiny', 'Predict']\n",
     'that is training from scratch. To train from scratch on purpose, set '
     'CHECKPOINT_PATH = None'),
])
@pytest.mark.slow
def test_wrong_paths_and_wrong_nets_exit_2_from_run_and_inspect(ckpts, tmp_path, case,
                                                                extra, expect):
    recipe = _recipe(tmp_path, ckpts[case], extra)
    for result in _both(recipe, ckpts[case]):
        assert result.returncode == 2, result.stderr[-2000:]
        assert expect in result.stderr
        assert 'Traceback' not in result.stderr and 'Path not found' not in result.stderr
        assert 'OK:' not in result.stdout


def test_inspect_reads_a_file_of_the_checkpoint_as_its_prefix(ckpts, tmp_path):
    recipe = _recipe(tmp_path, ckpts['good'])
    r = run_cli(['jacktf.cli', 'inspect-checkpoint', '--checkpoint',
                 ckpts['good'] + '.index', '--gin_file', recipe], timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"--checkpoint {ckpts['good']}.index is one file of the checkpoint " \
           f"{ckpts['good']}; reading that checkpoint" in r.stdout
    assert '80 restored' in r.stdout and 'OK: a training run would start' in r.stdout
    lines = r.stdout.splitlines()  # 80 names in 16 lines, one per layer
    assert '  resnet_v1_tiny/conv1/ (5)' in lines and len(lines) < 30
    assert '  resnet_v1_tiny/block4/unit_1/bottleneck_v1/shortcut/ (5)' in lines
    assert 'ERROR:root' not in r.stderr and 'Path not found' not in r.stderr


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(REAL_CKPT + '.index'),
                    reason='no ../shared/fixtures/real here')
def test_real_mobilenet_025_with_the_mobilenet_v1_and_v2_recipes(tmp_path):
    recipe = _recipe(tmp_path, REAL_CKPT, 'IMAGE_SIZE = 64\nBATCH_SIZE = 4\n',
                     base='gin/mobilenet_v1_finetune.gin')
    inspect, train = _both(recipe, REAL_CKPT)
    for result in (inspect, train):
        assert result.returncode == 2, result.stderr[-2000:]
        assert 'This checkpoint holds MobilenetV1/ with depth multiplier 0.25 and 1001 ' \
               'classes: BACKBONE = @mobilenet_v1_025.' in result.stderr
        assert 'CHECKPOINT_EXCLUDE_SCOPES' not in result.stderr
        assert 'Path not found' not in result.stderr
    lines = inspect.stdout.splitlines()
    assert len(lines) <= 40, inspect.stdout  # 135 mismatches grouped by scope
    assert '  MobilenetV1/Conv2d_0/ (5), e.g. weights model [3, 3, 3, 32] checkpoint ' \
           '[3, 3, 3, 8]' in lines
    v2 = run_cli(['jacktf.cli', 'inspect-checkpoint', '--checkpoint', REAL_CKPT,
                  '--gin_file', 'gin/mobilenet_v2_finetune.gin',
                  '--gin_param=IMAGE_SIZE = 64'], timeout=300)
    assert v2.returncode == 2 and 'BACKBONE = @mobilenet_v1_025' in v2.stderr
    assert 'Not one of the 260 variables of the backbone MobilenetV2/' in v2.stderr
    verbose = run_cli(['jacktf.cli', 'inspect-checkpoint', '--checkpoint', REAL_CKPT,
                       '--gin_file', recipe, '--verbose'], timeout=300)
    assert verbose.returncode == 2
    assert '  MobilenetV1/Conv2d_13_pointwise/BatchNorm/moving_mean model [1024] ' \
           'checkpoint [256]' in verbose.stdout.splitlines()


def test_gin_include_look_ups_log_no_error(caplog, default_registry):
    """gin logged 'ERROR:root:Path not found: base/experiment.gin' on every command."""
    import logging
    from jacktf.app import configurables
    with caplog.at_level(logging.DEBUG):
        configurables.parse(['gin/demo.gin'])
    assert not [r for r in caplog.records if 'Path not found' in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
