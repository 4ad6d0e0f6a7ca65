"""The fine-tuning defaults (issue 21): the mild augmentation of warm-started runs, the
learning rate that follows the batch, stage warmups as fractions, the seed, the best
checkpoint's report."""

import argparse
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.data import finetune_preprocessing as ftp, preprocessing
from jacktf.optim import lr_scaling, schedules
from jacktf.optim.optimizers import adam, momentum, sgd
from jacktf.train import seeding, stages as stages_lib
from jacktf.train.callbacks.exporting import report_best
from jacktf.train.stages import Stage
from jacktf.train.trainer import Trainer


def _image(h=40, w=60):
    rng = np.random.default_rng(0)
    return tf.constant(rng.integers(0, 256, (h, w, 3)), tf.uint8)


@pytest.mark.parametrize('name,family', [('inception_finetune', 'inception'),
                                         ('vgg_finetune', 'vgg'),
                                         ('simple_finetune', 'simple')])
def test_finetune_eval_path_is_the_family_one_and_train_keeps_its_normalization(
        name, family):
    fn, base = getattr(ftp, name), getattr(preprocessing, family)
    image = _image()
    np.testing.assert_array_equal(fn(image, image_size=32, is_training=False).numpy(),
                                  base(image, image_size=32, is_training=False).numpy())
    out = fn(image, image_size=32, is_training=True, seed=tf.constant([1, 2], tf.int64))
    assert out.shape == (32, 32, 3)
    # The whole image as the crop (area 1, square): the resize, then the normalization.
    square = _image(48, 48)
    whole = fn(square, image_size=32, is_training=True, flip=False, area_range=(1.0, 1.0),
               aspect_ratio_range=(1.0, 1.0), seed=tf.constant([3, 4], tf.int64))
    pixels = ftp.CARDS[name].to_pixels(whole)  # the family's inverse
    expected = tf.image.resize(tf.cast(square, tf.float32), [32, 32], method='bilinear')
    np.testing.assert_allclose(pixels.numpy(), expected.numpy(), atol=0.5 + 1e-3)  # rounded


def test_flip_is_an_option():
    image = _image(48, 48)

    def views(flip):
        return [ftp.simple_finetune(image, image_size=48, is_training=True, flip=flip,
                                    area_range=(1.0, 1.0), aspect_ratio_range=(1.0, 1.0),
                                    seed=tf.constant([s, 7], tf.int64)).numpy()
                for s in range(12)]

    plain = ftp.simple_finetune(image, image_size=48, is_training=False).numpy()
    flipped = [np.array_equal(v, plain[:, ::-1]) for v in views(True)]
    assert any(flipped) and not all(flipped)
    assert all(np.array_equal(v, plain) for v in views(False))


def test_crop_keeps_at_least_a_third_of_the_image():
    # A white square on black: any crop of >= 60% of the area keeps some of the centre.
    image = np.zeros((64, 64, 3), np.uint8)
    image[24:40, 24:40] = 255
    for s in range(20):
        out = ftp.inception_finetune(tf.constant(image), image_size=32, is_training=True,
                                     seed=tf.constant([s, 0], tf.int64))
        assert float(tf.reduce_max(out)) > 0.5, s


def test_warm_started_runs_default_to_the_finetune_preprocessing(default_registry):
    def experiment(checkpoint_path, **model_kwargs):
        model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                      registry=default_registry, **model_kwargs)
        trainer = Trainer(train_steps=1, optimizer=sgd)
        Experiment(model_dir='/tmp/unused', model=model, trainer=trainer,
                   train_files='demo://train', checkpoint_path=checkpoint_path)
        return model

    scratch = experiment(None)
    assert scratch.preprocessing == scratch.card.preprocessing  # ImageNet augmentation
    warm = experiment('/some/ckpt')
    assert warm.preprocessing == ftp.finetune_name(warm.card.preprocessing)
    assert warm.preprocessing.endswith('_finetune')
    assert experiment('/some/ckpt', preprocessing='inception').preprocessing == 'inception'
    assert warm.flip is False  # flips cost digit scans 2-4 points (bench/quality.py)
    flipped = experiment('/some/ckpt', flip=True)
    image = _image(48, 48)
    seed = tf.constant([5, 5], tf.int64)
    assert flipped.preprocess(image, True, seed).shape == (32, 32, 3)


def test_rate_scaling_rules():
    assert lr_scaling.factor(8, 32, 'linear') == 0.25
    assert lr_scaling.factor(128, 32, 'sqrt') == 2.0
    assert lr_scaling.factor(8, None, 'linear') == 1.0
    assert lr_scaling.rule_for('auto', 'momentum') == 'linear'
    assert lr_scaling.rule_for('auto', 'adam') == 'sqrt'
    assert lr_scaling.rule_for(False, 'adam') is None
    with pytest.raises(ConfigError, match="lr_scaling must be 'auto'"):
        Trainer(train_steps=1, optimizer=sgd, lr_scaling='cubic')


def test_trainer_rates_follow_the_global_batch(caplog):
    stages = [Stage(steps=2, learning_rate=0.02), Stage()]
    trainer = Trainer(train_steps=10, optimizer=momentum, learning_rate=0.01,
                      reference_batch_size=32, stages=stages)
    with caplog.at_level(logging.INFO, logger='jacktf'):
        assert lr_scaling.apply(trainer, 8) == 0.25
        assert lr_scaling.apply(trainer, 8) == 0.25  # idempotent: from the recipe's rate
    assert trainer.learning_rate == pytest.approx(0.0025)
    assert stages[0].learning_rate == pytest.approx(0.005) and stages[1].learning_rate is None
    assert "0.01 (the recipe's, for a batch of 32) -> 0.0025 for the global batch of 8 " \
           '(linear scaling for momentum' in caplog.text
    adaptive = Trainer(train_steps=10, optimizer=adam, learning_rate=0.001,
                       reference_batch_size=16)
    lr_scaling.apply(adaptive, 64)
    assert adaptive.learning_rate == pytest.approx(0.002)
    off = Trainer(train_steps=10, optimizer=momentum, learning_rate=0.01,
                  reference_batch_size=32, lr_scaling=False)
    assert lr_scaling.apply(off, 8) == 1.0 and off.learning_rate == 0.01


def test_warmup_as_a_fraction_of_the_run_or_stage():
    schedule = schedules.cosine(0.1, total_steps=30, warmup_steps=0.1)
    assert schedule.warmup_steps == 3
    assert float(schedule(0)) == pytest.approx(0.1 / 3)
    assert float(schedule(3)) == pytest.approx(0.1)
    stage = Stage(warmup_steps=0.25)
    assert stages_lib.warmup_length(stage, 40) == 10
    assert stages_lib.warmup_length(Stage(warmup_epochs=1), 40, steps_per_epoch=6) == 6
    assert stages_lib.warmup_length(Stage(warmup_epochs=9), 40, steps_per_epoch=6) == 20
    with pytest.raises(ConfigError, match='warmup_steps'):
        Stage(warmup_steps=-1)


def test_head_stage_in_epochs_is_capped_for_short_runs():
    stages = [Stage(epochs=1, max_fraction=0.2, trainable_scopes=['Predict']), Stage()]
    assert stages_lib.boundaries(stages, 30, steps_per_epoch=25) == [(0, 6), (6, 30)]
    assert stages_lib.boundaries(stages, 300, steps_per_epoch=25) == [(0, 25), (25, 300)]
    text = stages_lib.describe([Stage(steps=5, trainable_scopes=['Predict']),
                                Stage(lr_multipliers={'backbone': 0.1})], [(0, 5), (5, 9)])
    assert text == ("1) steps 0..5 trains Predict; 2) steps 5..9 trains all, "
                    "multipliers {'backbone': 0.1}")


def test_seed_parsing():
    assert seeding.parse_seed('7') == 7 and seeding.parse_seed('none') is None
    with pytest.raises(argparse.ArgumentTypeError, match='whole number >= 0'):
        seeding.parse_seed('-3')
    assert seeding.seed_binding(None) == 'Experiment.seed = None'
    assert seeding.describe(None, 123).startswith('unseeded (drew 123')


def test_best_checkpoint_report(caplog):
    ctl = SimpleNamespace(best=SimpleNamespace(metric='accuracy'), evaluated_at=30,
                          metrics={'accuracy': 0.95, 'export_best': '/m/export_best/20'})
    with caplog.at_level(logging.INFO, logger='jacktf'):
        report_best(ctl, {'step': 20, 'accuracy': 0.99})
    assert 'final eval 0.95 < best 0.99 at step 20: exported the best' in caplog.text
    assert ctl.metrics['best_step'] == 20 and ctl.metrics['best_accuracy'] == 0.99
    caplog.clear()
    with caplog.at_level(logging.INFO, logger='jacktf'):
        report_best(ctl, {'step': 30, 'accuracy': 0.95})
    assert 'exported the best' not in caplog.text


def _seeded_run(model_dir, registry, seed=0):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  head='dropout_logits', head_kwargs={'dropout_keep_prob': 0.5},
                  registry=registry)
    trainer = Trainer(train_steps=4, optimizer=momentum, learning_rate=0.05,
                      log_every_steps=1, checkpoint_every_steps=100)
    return Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                      train_files='demo://train', eval_files='demo://validation',
                      batch_size=8, eval_batch_size=100, export_at_end=False,
                      preview_images=0, seed=seed).run()


def _weights(model_dir):
    reader = tf.train.load_checkpoint(str(model_dir / 'checkpoints'))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith('network/')}


@pytest.mark.slow
def test_the_same_run_twice_gives_the_same_numbers(tmp_path, default_registry, caplog):
    with caplog.at_level(logging.INFO, logger='jacktf'):
        first = _seeded_run(tmp_path / 'a', default_registry)
    assert ', seed 0, model_dir' in caplog.text
    second = _seeded_run(tmp_path / 'b', default_registry)
    other = _seeded_run(tmp_path / 'c', default_registry, seed=1)
    assert first['eval_loss'] == pytest.approx(second['eval_loss'], rel=1e-5)
    a, b, c = (_weights(tmp_path / d) for d in 'abc')
    for k in a:  # head initialization, data order, augmentation and dropout: seeded
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert any(not np.allclose(a[k], c[k]) for k in a)


@pytest.mark.parametrize('flip', [True, False])
def test_model_passes_flip_and_preprocessing_kwargs(default_registry, flip):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=48, flip=flip,
                  registry=default_registry, preprocessing='simple_finetune',
                  preprocessing_kwargs={'area_range': (1.0, 1.0),
                                        'aspect_ratio_range': (1.0, 1.0)})
    image = _image(48, 48)
    plain = model.preprocess(image, False).numpy()
    views = [model.preprocess(image, True, tf.constant([s, 1], tf.int64)).numpy()
             for s in range(10)]
    flipped = sum(np.allclose(v, plain[:, ::-1], atol=1e-5) for v in views)
    same = sum(np.allclose(v, plain, atol=1e-5) for v in views)
    assert flipped + same == 10  # the whole image: only the flip can differ
    assert (flipped > 0) == flip


def test_demo_recipe_fine_tunes_with_the_defaults(tmp_path):
    from jacktf.app import runtime
    exp = runtime.experiment_from_gin(['gin/demo.gin'], ['BATCH_SIZE = 8'], str(tmp_path))
    assert exp.model.preprocessing == 'inception_finetune'  # what show-batch shows
    assert exp.seed == 0
    trainer = exp.trainer
    import gin
    assert trainer.reference_batch_size == 32 and gin.query_parameter('best_k.keep') == 1
    head, rest = trainer.stages
    assert head.trainable_scopes == ['Predict'] and rest.lr_multipliers == {'backbone': 0.1}
    assert trainer.clip_gradient_norm == 1.0
    assert lr_scaling.apply(trainer, exp.batch_size) == 0.25
    assert trainer.learning_rate == pytest.approx(0.0025)


def test_a_bad_seed_is_exit_code_2_naming_the_value():
    from conftest import run_cli
    for module in (['jacktf.cli', 'train'], ['jacktf.run']):
        proc = run_cli(module + ['--gin_file', 'gin/demo.gin', '--seed', 'abc'], timeout=300)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "--seed must be a whole number >= 0, or none" in proc.stderr
        assert "'abc'" in proc.stderr and 'Traceback' not in proc.stderr
