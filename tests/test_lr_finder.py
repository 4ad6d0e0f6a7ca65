"""Learning-rate range test: on a convex problem whose stable range is known the
suggestion lies inside it; the command plots, suggests and writes no checkpoint."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import jacktf
from jacktf.core import plugins
from jacktf.core.errors import ConfigError
from jacktf.core.model import Model
from jacktf.optim.optimizers import sgd
from jacktf.train import lr_finder
from jacktf.train.trainer import Trainer
from conftest import run_cli


def _channel_means(images, num_classes=None, is_training=False, **_):
    """A backbone without weights: the features are the image's channel means."""
    del num_classes, is_training
    return tf.reduce_mean(images, [1, 2]), {}


class _LinearProbe:
    @jacktf.hookimpl
    def jacktf_register_backbones(self, registry):
        registry.backbone('channel_means', _channel_means, default_image_size=16,
                          preprocessing='simple', scope='ChannelMeans')


def _problem(n=64, seed=0):
    """Full-batch logistic regression on 3 features (plus bias) with noisy labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * np.array([3.0, 1.0, 0.5])
    y = (x[:, 0] + 2.0 * rng.normal(size=n) > 0).astype(np.int32)
    a = np.hstack([x, np.ones((n, 1))])
    # The softmax cross-entropy of a linear 2-class model has curvature at most
    # 0.5 * lambda_max(A^T A / n) (p (1 - p) <= 1/4 per logit, twice for two logits):
    # every full-batch gradient step with lr < 2 / L lowers the loss.
    smoothness = 0.5 * np.linalg.eigvalsh(a.T @ a / n).max()
    images = np.broadcast_to(x[:, None, None, :], (n, 16, 16, 3)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((images, y)).batch(n).repeat()
    return data, 2.0 / smoothness


def test_suggestion_lies_in_the_known_stable_range():
    registry = plugins.load_registry(autoload=False, extra=[_LinearProbe()])
    model = Model(backbone='channel_means', num_classes=2, registry=registry).build()
    data, stable_below = _problem()
    trainer = Trainer(train_steps=1, optimizer=sgd, learning_rate=0.1)
    result = lr_finder.find_learning_rate(
        model, trainer, iter(data), global_batch=64, start_lr=stable_below * 1e-5,
        end_lr=stable_below * 1e4, num_steps=200)
    # Below 2/L the loss only falls: the sweep cannot stop there ...
    assert result.stopped_at is not None and result.stopped_at > stable_below
    assert 'blew up' in result.reason
    assert max(result.learning_rates) >= stable_below
    # ... and the loss did fall there, in the decade below 2/L.
    assert np.all(np.diff([l for r, l in zip(result.learning_rates, result.losses)
                           if r < stable_below]) <= 1e-6)
    # The suggestion is inside the stable range, not at its trivial bottom.
    assert stable_below * 1e-3 < result.suggestion < stable_below
    assert result.min_loss_lr >= result.suggestion


def test_sweep_schedule_is_exponential_and_bad_sweeps_are_config_errors():
    schedule = lr_finder.ExponentialSweep(1e-4, 1.0, 5)
    assert [schedule.rate(i) for i in range(5)] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1])
    assert float(schedule(2)) == pytest.approx(1e-2, rel=1e-5)
    with pytest.raises(ConfigError, match='must be larger than --start_lr'):
        lr_finder.check_sweep(1.0, 0.1, 100)
    with pytest.raises(ConfigError, match='--steps must be at least 10'):
        lr_finder.check_sweep(1e-6, 1.0, 3)


@pytest.mark.slow
def test_lr_find_command_plots_suggests_and_writes_no_checkpoint(tmp_path):
    # The demo recipe: warm start from the shipped MobileNet, frozen layers, multipliers.
    model_dir = tmp_path / 'run'
    proc = run_cli(['jacktf.cli', 'lr-find', '--gin_file', 'gin/demo.gin',
                    '--gin_param', 'IMAGE_SIZE = 64', '--gin_param', 'BATCH_SIZE = 16',
                    '--gin_param', 'Experiment.shuffle_buffer = 256',
                    '--model_dir', str(model_dir), '--steps', '100'], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The first stage's rules: the fine-tuning schedule trains the new head alone first.
    assert '135 restored' in proc.stdout and '81 frozen' in proc.stdout
    assert 'Suggested: LEARNING_RATE = ' in proc.stdout
    # Only the plot and its numbers: no checkpoint, no restore report, no events.
    assert sorted(os.listdir(model_dir)) == ['lr_find.json', 'lr_find.png']
    with open(model_dir / 'lr_find.json') as f:
        result = json.load(f)
    assert result['stopped_at'] is not None  # the warm-started net blows up below 10
    # The steepest fall lies at or before the lowest loss (the data order is not seeded,
    # so on some runs the two are the same step).
    assert 1e-7 < result['suggestion'] <= result['min_loss_lr'] < result['stopped_at']
    assert result['smoothed'][result['learning_rates'].index(result['suggestion'])] < \
        result['smoothed'][0]  # the loss is falling there
    from PIL import Image
    assert Image.open(model_dir / 'lr_find.png').size == (800, 500)


def test_lr_find_with_a_falling_range_exits_2_before_any_work(tmp_path):
    proc = run_cli(['jacktf.cli', 'lr-find', '--gin_file', 'gin/demo.gin', '--start_lr',
                    '1', '--end_lr', '0.1', '--model_dir', str(tmp_path / 'run')],
                   timeout=120)
    assert proc.returncode == 2
    assert 'jacktf: error: --end_lr (0.1) must be larger than --start_lr (1.0)' in proc.stderr
    assert 'Traceback' not in proc.stderr and not os.path.exists(tmp_path / 'run')
