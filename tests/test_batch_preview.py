"""Batch preview: the inverse of each preprocessing gives back the pixels; the first
batch's grid shows each image with its label; training writes it to MODEL_DIR and
TensorBoard; `jacktf show-batch` writes it without training."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.optim.optimizers import sgd
from jacktf.train.callbacks import preview
from jacktf.train.trainer import Trainer
from conftest import run_cli, read_events

COLORS = {'red': (200, 60, 30), 'blue': (20, 120, 220)}


def color_folder(root, per_class=6):
    """An image folder of one-colour PNGs (40x48): class 'blue' and class 'red'."""
    for name, rgb in COLORS.items():
        os.makedirs(os.path.join(root, name))
        for i in range(per_class):
            Image.new('RGB', (48, 40), rgb).save(os.path.join(root, name, f'{i}.png'))
    return str(root)


@pytest.mark.parametrize('style,size,crop', [('simple', 56, 0), ('vgg', 56, 4),
                                             ('inception', 56, 4)])
def test_to_pixels_inverts_each_preprocessing(default_registry, style, size, crop):
    # 64x64 in, 56x56 out: vgg resizes the smaller side to 56*256/224 = 64 and crops the
    # centre, inception keeps the central 87.5% (56); neither then resamples. simple
    # gets a 56x56 image (resize to itself).
    rng = np.random.default_rng(1)
    side = size if style == 'simple' else 64
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=size,
                  preprocessing=style, registry=default_registry)
    processed = model.preprocess(tf.constant(image), training=False)
    pixels, exact = model.to_pixels(processed[None])
    assert exact
    expected = image[crop:crop + size, crop:crop + size].astype(int)
    diff = np.abs(pixels.numpy()[0].astype(int) - expected)
    assert diff.max() <= 1
    assert pixels.numpy().mean() == pytest.approx(expected.mean(), abs=0.01)


def _experiment(model_dir, folder, registry, style='vgg', steps=2, preview_images=8):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing=style, registry=registry, train_batch_norm=False)
    trainer = Trainer(train_steps=steps, optimizer=sgd, learning_rate=0.01,
                      log_every_steps=1, checkpoint_every_steps=100)
    return Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                      train_files=folder, decoder='image_folder', batch_size=8,
                      export_at_end=False, preview_images=preview_images, seed=3)


def test_preview_tiles_have_their_class_colour_and_caption(tmp_path, default_registry):
    folder = color_folder(tmp_path / 'images')
    exp = _experiment(tmp_path / 'run', folder, default_registry)
    path = str(tmp_path / 'preview.png')
    info = preview.write_preview(exp, exp.model, path, max_images=8)
    assert info['images'] == 8 and info['exact_inverse']
    assert set(info['captions']) == {'blue', 'red'}  # class names from the folders
    for tile, name in zip(info['pixels'], info['captions']):
        # Random crop, flip and the vgg mean: undone, the tile is its class colour.
        assert tile.shape == (32, 32, 3)
        np.testing.assert_allclose(tile.reshape(-1, 3).mean(0), COLORS[name], atol=0.5)
        assert tile.reshape(-1, 3).std(0).max() < 0.5
    png = np.asarray(Image.open(path).convert('RGB')).reshape(-1, 3).astype(int)
    counts = {name: int((np.abs(png - rgb).max(1) <= 1).sum())
              for name, rgb in COLORS.items()}
    for name in COLORS:  # each class's tiles drawn at no less than their own size
        n = info['captions'].count(name)
        assert counts[name] >= n * 32 * 32, counts


def test_training_writes_the_preview_png_and_tensorboard_image(tmp_path, default_registry):
    folder = color_folder(tmp_path / 'images')
    exp = _experiment(tmp_path / 'run', folder, default_registry)
    exp.run('train')
    assert os.path.exists(tmp_path / 'run' / 'batch_preview.png')
    images = {}
    for event in read_events(tmp_path / 'run' / 'train'):
        for value in event.summary.value:
            if value.tag.startswith('batch_preview'):
                images[value.tag] = (event.step, tf.make_ndarray(value.tensor))
    step, grid = images['batch_preview']
    assert step == 0
    width, height = grid[0], grid[1]  # image summaries hold [width, height, png, ...]
    decoded = tf.io.decode_png(grid[2]).numpy()
    assert decoded.shape[:2] == (int(height), int(width))
    step, tiles = images['batch_preview/images']
    assert len(tiles) == 2 + 8  # width, height, then one PNG per image
    first = tf.io.decode_png(tiles[2]).numpy().reshape(-1, 3).mean(0)
    assert min(np.abs(first - c).max() for c in COLORS.values()) <= 0.5


def test_no_preview_when_turned_off(tmp_path, default_registry):
    folder = color_folder(tmp_path / 'images')
    _experiment(tmp_path / 'off', folder, default_registry, preview_images=0).run('train')
    assert not os.path.exists(tmp_path / 'off' / 'batch_preview.png')


@pytest.mark.slow
def test_show_batch_command_writes_the_grid_without_training(tmp_path):
    folder = color_folder(tmp_path / 'images')
    model_dir = tmp_path / 'run'
    proc = run_cli(['jacktf.cli', 'show-batch', '--gin_file', 'gin/tiny_from_scratch.gin',
                    '--gin_param', f"TRAIN_FILES = '{folder}'",
                    '--gin_param', "Experiment.decoder = 'image_folder'",
                    '--gin_param', 'EVAL_FILES = None', '--gin_param', 'IMAGE_SIZE = 32',
                    '--gin_param', 'BATCH_SIZE = 8', '--model_dir', str(model_dir),
                    '--gin_param', 'Experiment.augmentations = [@cutmix()]',
                    '--gin_param', 'cutmix.alpha = 0.5', '--count', '8'], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Wrote ' in proc.stdout and '8 training images' in proc.stdout
    assert 'preprocessing and augmentation' in proc.stdout
    assert os.listdir(model_dir) == ['batch_preview.png']  # no checkpoint, no events
    png = np.asarray(Image.open(model_dir / 'batch_preview.png').convert('RGB'))
    assert png.shape[0] > 100 and png.shape[1] > 100
