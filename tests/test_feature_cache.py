"""The feature cache: the head trained on cached backbone features, one backbone pass."""

import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from data_factory import jpeg_bytes, random_image
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.optim.optimizers import momentum
from jacktf.serve import export
from jacktf.train.trainer import Trainer

N = 20  # examples in the image folder


def _fixed(image, *, image_size, is_training, seed=None):
    """A preprocessing without augmentation: the same image in training and eval."""
    del is_training, seed
    return tf.image.resize(tf.cast(image, tf.float32) / 127.5 - 1.0,
                           [image_size, image_size])


@pytest.fixture
def setup(registry, tmp_path):
    """(registry with the 'fixed' preprocessor, image folder)."""
    rng = np.random.default_rng(0)
    data = tmp_path / 'data'
    for c, low in (('a', 0), ('b', 128)):  # dark and bright noise: the head can learn
        os.makedirs(data / c)
        for i in range(N // 2):
            image = random_image(rng) // 2 + low
            (data / c / f'{i}.jpg').write_bytes(jpeg_bytes(image))
    registry.preprocessor('fixed', _fixed)
    return registry, str(data)


def _run(setup, model_dir, *, steps, cache='auto', preprocessing='fixed', batch=N,
         freeze=True, memory_mb=1024, mode='train', export_at_end=False,
         train_augmentation=True, augmentations=(), sampling=None):
    registry, data = setup
    # From the seeded initialization (slim's: its features are not all near zero, as
    # those of a checkpoint of small random values are), batch norm frozen.
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing=preprocessing, registry=registry,
                  head_kwargs={'weight_decay': 0.01}, train_batch_norm=False,
                  train_augmentation=train_augmentation)
    trainer = Trainer(train_steps=steps, optimizer=momentum, learning_rate=0.5,
                      freeze_scopes=['resnet_v1_tiny'] if freeze else [],
                      feature_cache=cache, feature_cache_memory_mb=memory_mb,
                      log_every_steps=100, checkpoint_every_steps=100)
    experiment = Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                            train_files=data, eval_files=data, decoder='image_folder',
                            batch_size=batch, seed=3,
                            shuffle_buffer=0, export_at_end=export_at_end,
                            augmentations=augmentations, sampling=sampling)
    summary = experiment.run(mode)
    head = {n: v.numpy() for n, v in zip(model.variable_names(), model.variables)
            if n.startswith('Predict/')}
    return summary, head, experiment


def _cache_lines(caplog):
    return [r.getMessage() for r in caplog.records if 'Feature cache' in r.getMessage()]


@pytest.mark.slow  # 10-20 s: whole runs, kept out of the default set's 5 minutes
def test_head_on_cache_equals_head_trained_normally(setup, tmp_path, caplog):
    """Full batches (BATCH_SIZE = the examples, no shuffle buffer): both ways see every
    example once per step, so the same seed gives the same head; the backbone ran once
    per example."""
    caplog.set_level(logging.INFO, 'jacktf')
    normal, head_normal, _ = _run(setup, tmp_path / 'normal', steps=6, cache=False)
    assert 'feature_cache' not in normal and not _cache_lines(caplog)
    cached, head_cached, _ = _run(setup, tmp_path / 'cached', steps=6)
    assert not np.allclose(head_normal['Predict/logits/weights'], 0.0)  # it trained
    for name, value in head_normal.items():
        np.testing.assert_allclose(head_cached[name], value, atol=2e-5, err_msg=name)
    stats = cached['feature_cache']
    assert stats['examples'] == N and stats['backbone_examples'] == N
    assert stats['lookups'] == 6 * N and stats['cache_hits'] == 6 * N - N
    assert stats['storage'] == 'memory'
    line, = _cache_lines(caplog)
    assert line.startswith('Feature cache on:') and f'once on each of {N} examples' in line


@pytest.mark.slow
def test_resume_reuses_the_file_and_new_data_invalidates_it(setup, tmp_path, caplog):
    """A run stopped at step 3 and resumed (features read from MODEL_DIR's file, the
    backbone not run again) ends with the head of an uninterrupted run; an added image
    makes a new cache entry and removes the old one."""
    caplog.set_level(logging.INFO, 'jacktf')
    _, whole, _ = _run(setup, tmp_path / 'whole', steps=6, batch=8)
    first, _, _ = _run(setup, tmp_path / 'split', steps=3, batch=8, memory_mb=0)
    assert first['feature_cache']['storage'] == 'file'
    entry = first['feature_cache']['path']
    assert os.path.getsize(os.path.join(entry, 'features.f32')) == N * 512 * 4
    second, resumed, _ = _run(setup, tmp_path / 'split', steps=6, batch=8, memory_mb=0)
    stats = second['feature_cache']
    assert stats['path'] == entry and stats['backbone_examples'] == 0
    assert stats['lookups'] == stats['cache_hits'] == 3 * 8
    assert 'read the features of 20 examples' in _cache_lines(caplog)[-1]
    for name, value in whole.items():
        np.testing.assert_allclose(resumed[name], value, atol=1e-6, err_msg=name)
    (tmp_path / 'data' / 'a' / 'new.jpg').write_bytes(
        jpeg_bytes(random_image(np.random.default_rng(7))))
    third, _, _ = _run(setup, tmp_path / 'split', steps=7, batch=8)
    assert third['feature_cache']['backbone_examples'] == N + 1
    assert third['feature_cache']['path'] != entry and not os.path.exists(entry)


@pytest.mark.slow
def test_export_of_a_cached_run_holds_the_whole_network(setup, tmp_path):
    summary, head, experiment = _run(setup, tmp_path / 'run', steps=4,
                                     export_at_end=True)
    assert 'feature_cache' in summary
    registry, data = setup
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(data) for f in fs)[:6]
    encoded = tf.constant([open(f, 'rb').read() for f in files])
    _, serve = export.load_saved_model(summary['eval_export'])
    exported = serve(images=encoded)['probabilities'].numpy()
    # The checkpoint, restored into a fresh model, on the same images.
    fresh = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='fixed', registry=registry,
                  head_kwargs={'weight_decay': 0.01}, train_batch_norm=False)
    experiment.model = fresh
    experiment.restore_latest()
    np.testing.assert_allclose(fresh.variables[[n.startswith('Predict/logits/weights')
                                                for n in fresh.variable_names()].index(
        True)].numpy(), head['Predict/logits/weights'])
    images = tf.stack([fresh.preprocess(tf.io.decode_jpeg(e, channels=3), False)
                       for e in encoded])
    from_checkpoint = tf.nn.softmax(fresh.predict(images)['logits']).numpy()
    np.testing.assert_allclose(exported, from_checkpoint, atol=1e-5)
    assert np.abs(exported - 0.5).max() > 1e-3  # the trained head, not the zero init


@pytest.mark.slow
def test_what_the_run_says_when_the_cache_does_not_engage(setup, tmp_path, caplog):
    caplog.set_level(logging.INFO, 'jacktf')
    summary, _, _ = _run(setup, tmp_path / 'a', steps=1, cache=True, freeze=False)
    assert 'feature_cache' not in summary
    line, = _cache_lines(caplog)
    assert line.startswith('Feature cache off (Trainer.feature_cache = True)')
    assert 'backbone variables train' in line and "FREEZE_SCOPES = ['resnet_v1_tiny']" \
        in line
    caplog.clear()
    summary, _, _ = _run(setup, tmp_path / 'b', steps=1, preprocessing='vgg')
    assert 'feature_cache' not in summary
    line, = _cache_lines(caplog)
    assert 'the vgg preprocessing augments training images' in line
    assert 'Trainer.feature_cache = True' in line
    caplog.clear()
    summary, _, _ = _run(setup, tmp_path / 'c', steps=1, cache=True, preprocessing='vgg')
    assert summary['feature_cache']['backbone_examples'] == N
    line, = _cache_lines(caplog)
    assert line.startswith('Feature cache on:') and 'augmentation off' in line


@pytest.mark.parametrize('memory_mb', [1, 0])
def test_each_epoch_reads_every_example_once_from_memory_or_file(tmp_path, memory_mb):
    """7 examples, batches of 3: each epoch a permutation; a resumed reader (from batch
    4) continues the same sequence; the file and memory give the same features."""
    from jacktf.train.feature_cache import FeatureCache
    features = np.arange(7 * 2, dtype=np.float32).reshape(7, 2)
    features.tofile(tmp_path / 'features.f32')
    np.arange(7, dtype=np.int32).tofile(tmp_path / 'labels.i32')
    (tmp_path / 'meta.json').write_text(
        '{"examples": 7, "feature_shape": [2], "dtype": "float32"}')
    cache = FeatureCache(path=str(tmp_path), examples=7, computed=7, seconds=0.0,
                         memory_budget_mb=memory_mb)
    assert cache.in_memory is bool(memory_mb)
    batches = list(cache.dataset(3, seed=5, start_batch=0).take(7))
    labels = np.concatenate([b[1].numpy() for b in batches])  # 21 = 3 epochs
    for epoch in range(3):
        assert sorted(labels[7 * epoch: 7 * epoch + 7]) == list(range(7))
    assert list(labels[:7]) != list(labels[7:14])  # a fresh order each epoch
    rows = [b[0].numpy() for b in batches]
    if cache.in_memory:  # indexes; the step gathers them
        rows = [features[r] for r in rows]
    for r, b in zip(rows, batches):
        np.testing.assert_array_equal(r, features[b[1].numpy()])
    resumed = list(cache.dataset(3, seed=5, start_batch=4).take(3))
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in resumed]),
                                  labels[12:21])


def test_dropout_in_the_backbone_keeps_auto_off_and_true_turns_it_off(setup, tmp_path,
                                                                     caplog):
    """A backbone with dropout gives other features at every step: 'auto' stays off
    and says why; True caches the inference-mode features and says dropout is off."""
    import tf_slim as slim
    registry, _ = setup

    def dropout_net(images, num_classes=None, is_training=True, scope='DropNet'):
        with tf.compat.v1.variable_scope(scope):
            net = slim.conv2d(images, 8, [3, 3], stride=2, scope='conv')
            net = slim.dropout(net, 0.5, is_training=is_training, scope='dropout')
            net = tf.reduce_mean(net, [1, 2], keepdims=True)
        return net, {}

    registry.backbone('drop_net', dropout_net, default_image_size=32,
                      preprocessing='fixed')
    caplog.set_level(logging.INFO, 'jacktf')

    def run(model_dir, cache):
        model = Model(backbone='drop_net', num_classes=2, registry=registry,
                      train_batch_norm=False)
        trainer = Trainer(train_steps=2, optimizer=momentum, learning_rate=0.1,
                          freeze_scopes=['DropNet'], feature_cache=cache)
        return Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                          train_files=setup[1], decoder='image_folder', batch_size=4,
                          seed=1, export_at_end=False).run('train')

    assert 'feature_cache' not in run(tmp_path / 'auto', 'auto')
    line, = _cache_lines(caplog)
    assert 'drop_net has dropout' in line and 'augments' not in line
    caplog.clear()
    assert run(tmp_path / 'forced', True)['feature_cache']['backbone_examples'] == N
    line, = _cache_lines(caplog)
    assert line.startswith('Feature cache on:') and line.endswith(
        'from memory, backbone dropout off).')


@pytest.mark.slow
def test_train_augmentation_off_lets_auto_engage_and_plugins_or_sampling_stop_it(
        setup, tmp_path, caplog):
    from jacktf.data.augment import Mixup
    caplog.set_level(logging.INFO, 'jacktf')
    # The vgg preprocessing crops and flips at random; without its augmentation the
    # training input is fixed per example and 'auto' engages.
    summary, _, _ = _run(setup, tmp_path / 'a', steps=2, preprocessing='vgg',
                         train_augmentation=False)
    assert summary['feature_cache']['backbone_examples'] == N
    line, = _cache_lines(caplog)
    assert line.startswith('Feature cache on:') and 'augmentation off' not in line
    caplog.clear()
    summary, _, _ = _run(setup, tmp_path / 'b', steps=1, augmentations=[Mixup()])
    assert 'feature_cache' not in summary
    line, = _cache_lines(caplog)
    assert 'Experiment.augmentations (mixup) change training images' in line
    caplog.clear()
    summary, _, _ = _run(setup, tmp_path / 'c', steps=1, cache=True, sampling='balanced')
    assert 'feature_cache' not in summary
    line, = _cache_lines(caplog)
    assert "Experiment.sampling = 'balanced'" in line
