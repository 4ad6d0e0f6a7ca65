"""The shipped MobileNet recipe fine-tunes real weights on real photos without the
eval/train gap that trainable batch norm causes (local check: needs ../shared)."""

import os
import re

import pytest

from conftest import ROOT, run_cli
from real_photos import make_photo_folders

REAL = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures', 'real')
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.isdir(REAL), reason='no real photos here')]


def test_mobilenet_recipe_keeps_eval_close_to_train(tmp_path):
    data = make_photo_folders(REAL, str(tmp_path / 'photos'))
    r = run_cli(['jacktf.run', '--gin_file=gin/mobilenet_v1_finetune.gin',
                 f'--model_dir={tmp_path}/run',
                 '--gin_param=BACKBONE = @mobilenet_v1_025',
                 "--gin_param=CHECKPOINT_PATH = 'builtin://mobilenet_v1_025'",
                 '--gin_param=NUM_CLASSES = 3', '--gin_param=TRAIN_STEPS = 200',
                 f"--gin_param=TRAIN_FILES = '{data}/train'",
                 f"--gin_param=EVAL_FILES = '{data}/validation'",
                 "--gin_param=Experiment.decoder = 'image_folder'"], timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    train = [float(a) for a in re.findall(r'step \d+/200 .* acc ([\d.]+)', r.stdout)]
    final = float(re.search(r'Done at step 200: eval accuracy ([\d.]+)', r.stdout)[1])
    assert final >= 0.9
    assert abs(final - train[-1]) <= 0.1, (train, final)
