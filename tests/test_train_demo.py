"""End to end: the demo recipe trains, learns, writes its model directory and resumes."""

import os
import re
import pytest

import tensorflow as tf

from conftest import run_cli

STEP_RE = re.compile(r'step (\d+)/(\d+)\s+loss ([\d.]+)')


def _losses(stdout):
    return [(int(m.group(1)), float(m.group(3))) for m in STEP_RE.finditer(stdout)]


@pytest.mark.slow
def test_demo_trains_learns_and_resumes(tmp_path):
    model_dir = str(tmp_path / 'demo')
    params = ['--gin_param=TRAIN_STEPS = 120', '--gin_param=Trainer.log_every_steps = 20',
              '--gin_param=periodic_eval.every_steps = None']
    first = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}']
                    + params)
    assert first.returncode == 0, first.stderr[-3000:]
    losses = _losses(first.stdout)
    assert [s for s, _ in losses] == [20, 40, 60, 80, 100, 120]
    assert losses[-1][1] < losses[0][1] * 0.8, losses
    assert 'Done at step 120: eval accuracy' in first.stdout
    assert 'from scratch' in first.stdout
    for name in ('operative_config.gin', 'labels.txt'):
        assert os.path.isfile(os.path.join(model_dir, name)), name
    with open(os.path.join(model_dir, 'labels.txt')) as f:
        assert f.read().split() == ['stripes', 'dots']
    with open(os.path.join(model_dir, 'operative_config.gin')) as f:
        operative = f.read()
    assert 'BACKBONE = @resnet_v1_tiny' in operative and 'TRAIN_STEPS = 120' in operative
    ckpt = tf.train.latest_checkpoint(os.path.join(model_dir, 'checkpoints'))
    assert ckpt.endswith('ckpt-120')
    assert os.listdir(os.path.join(model_dir, 'train'))
    assert os.listdir(os.path.join(model_dir, 'eval'))

    second = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}',
                      '--gin_param=TRAIN_STEPS = 140'] + params[1:])
    assert second.returncode == 0, second.stderr[-3000:]
    assert 'Resuming from' in second.stdout and 'at step 120' in second.stdout
    assert [s for s, _ in _losses(second.stdout)] == [140]
    assert tf.train.latest_checkpoint(
        os.path.join(model_dir, 'checkpoints')).endswith('ckpt-140')
