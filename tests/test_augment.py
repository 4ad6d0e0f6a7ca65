"""Augmentation plugins: the ops match PIL's definitions, every augmentation is a
function of its seed, mixup/cutmix labels weigh what the pixels hold, soft labels
train, and the kind is registered like any other."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

import jacktf
from jacktf.core import plugins
from jacktf.core.errors import ConfigError
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.data import augment, augment_ops
from jacktf.optim.optimizers import sgd
from jacktf.train.callbacks import preview
from jacktf.train.trainer import Trainer

SEED = tf.constant([3, 7], tf.int64)


def _image(seed=0, h=24, w=30, low=0, high=256):
    return np.random.default_rng(seed).integers(low, high, (h, w, 3), dtype=np.uint8)


def _op(name, image, level, seed=SEED):
    return augment_ops.OPS[name](tf.constant(image, tf.float32), float(level), seed).numpy()


@pytest.mark.parametrize('name,pil', [
    ('Invert', ImageOps.invert), ('AutoContrast', ImageOps.autocontrast),
    ('Equalize', ImageOps.equalize),
    ('Posterize', lambda im: ImageOps.posterize(im, 4)),          # level 10: 4 bits
    ('Solarize', lambda im: ImageOps.solarize(im, 128)),          # level 5: 128
])
def test_pixel_ops_equal_pil(name, pil):
    image = _image(low=40, high=200)  # not the full range: autocontrast/equalize act
    level = {'Posterize': 10, 'Solarize': 5}.get(name, 0)
    expected = np.asarray(pil(Image.fromarray(image)))
    np.testing.assert_array_equal(_op(name, image, level), expected)


@pytest.mark.parametrize('name,enhancer', [('Color', ImageEnhance.Color),
                                           ('Contrast', ImageEnhance.Contrast),
                                           ('Brightness', ImageEnhance.Brightness),
                                           ('Sharpness', ImageEnhance.Sharpness)])
def test_enhance_ops_equal_pil_within_rounding(name, enhancer):
    image = _image(1)
    level = 3.0  # factor 3 / 10 * 1.8 + 0.1 = 0.64
    expected = np.asarray(enhancer(Image.fromarray(image)).enhance(0.64)).astype(int)
    got = np.round(_op(name, image, level)).astype(int)
    # PIL rounds its intermediate images to uint8 (grayscale, mean, smoothed).
    assert np.abs(got - expected).max() <= 2
    assert np.abs(got - expected).mean() < 0.6


def test_geometric_ops_move_pixels_by_their_magnitude():
    image = _image(2, h=30, w=30)
    for name in ('Rotate', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY'):
        np.testing.assert_array_equal(_op(name, image, 0), image)  # level 0: identity
    moved = _op('TranslateX', image, 10)  # a third of 30 pixels, either way
    right = np.array_equal(moved[:, 10:], image[:, :-10])
    left = np.array_equal(moved[:, :-10], image[:, 10:])
    assert right or left
    filled = moved[:, :10] if right else moved[:, -10:]
    assert np.all(filled == augment_ops.FILL)
    turned = _op('Rotate', image, 10)  # 30 degrees: as PIL's rotate by +-30
    matches = max(np.mean(np.asarray(Image.fromarray(image).rotate(
        angle, resample=Image.NEAREST, fillcolor=(128, 128, 128))) == turned)
        for angle in (30, -30))
    assert matches > 0.95


@pytest.mark.parametrize('aug', [augment.RandAugment(), augment.AutoAugment()])
def test_policies_are_functions_of_the_seed_in_a_tf_data_map(aug):
    images = np.stack([_image(i, 32, 32) for i in range(16)])
    seeds = np.stack([[5, i] for i in range(16)]).astype(np.int64)
    data = tf.data.Dataset.from_tensor_slices((images, seeds)).map(aug.augment)
    first = np.stack(list(data.as_numpy_iterator()))
    again = np.stack(list(data.as_numpy_iterator()))
    assert first.dtype == np.uint8 and first.shape == images.shape
    np.testing.assert_array_equal(first, again)
    changed = [not np.array_equal(a, b) for a, b in zip(first, images)]
    assert sum(changed) >= 10  # most images are changed
    other = aug.augment(tf.constant(images[0]), tf.constant([6, 0], tf.int64)).numpy()
    assert not np.array_equal(other, first[0]) or not changed[0]


def test_random_erasing_replaces_one_rectangle_of_the_drawn_area():
    image = tf.ones([32, 32, 3])
    aug = augment.RandomErasing(probability=1.0, area=(0.25, 0.25), aspect=(1, 1),
                                fill='zero')
    out = aug.augment(image, SEED).numpy()
    erased = np.argwhere(out[..., 0] == 0)
    assert len(erased) == 16 * 16
    assert (erased.max(0) - erased.min(0) == 15).all()  # one 16x16 square
    never = augment.RandomErasing(probability=0.0)
    np.testing.assert_array_equal(never.augment(image, SEED).numpy(), image.numpy())


@pytest.mark.parametrize('aug', [augment.Mixup(alpha=0.4), augment.CutMix(alpha=1.0)])
def test_mixed_labels_weigh_what_the_pixels_hold(aug):
    # Image i is all 1.0 for class 1 and all 0.0 for class 0: after mixing, the mean of
    # an image is exactly the weight of class 1 in its label.
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    images = np.broadcast_to(labels[:, None, None, None], (8, 20, 20, 3)).astype(np.float32)
    onehot = tf.one_hot(labels, 2)
    for k in range(5):
        seed = tf.constant([9, k], tf.int64)
        mixed, soft = aug.augment(tf.constant(images), onehot, seed)
        soft = soft.numpy()
        np.testing.assert_allclose(soft.sum(1), 1.0, atol=1e-6)
        np.testing.assert_allclose(mixed.numpy().mean((1, 2, 3)), soft[:, 1], atol=1e-5)
        assert 0.0 < soft[0, 1] < 1.0  # example 0 (class 0) mixed with example 7 (class 1)
        again = aug.augment(tf.constant(images), onehot, seed)[1].numpy()
        np.testing.assert_array_equal(soft, again)


def test_bad_options_and_factories_are_config_errors():
    with pytest.raises(ConfigError, match='randaugment.magnitude must be in'):
        augment.RandAugment(magnitude=30)
    with pytest.raises(ConfigError, match='unknown'):
        augment.RandAugment(ops=['Rotate', 'Spin'])
    with pytest.raises(ConfigError, match='mixup.probability'):
        augment.Mixup(probability=2)
    with pytest.raises(ConfigError, match='note the parentheses'):
        augment.check([augment.Mixup])


class _GrayWorld(augment.Augmentation):
    """A third party's augmentation: every image becomes its gray version."""
    name = 'gray_world'
    stage = 'image'

    def augment(self, image, seed):
        del seed
        gray = tf.image.rgb_to_grayscale(image)
        return tf.image.grayscale_to_rgb(gray)


class _ThirdParty:
    @jacktf.hookimpl
    def jacktf_register_augmentations(self, registry):
        registry.augmentation('gray_world', _GrayWorld)


def test_augmentation_is_a_plugin_kind(registry):
    assert registry.names('augmentation') == ['autoaugment', 'cutmix', 'mixup',
                                              'randaugment', 'random_erasing']
    assert registry.get('augmentation', 'mixup').provider == 'builtin'
    extended = plugins.load_registry(autoload=False, extra=[_ThirdParty()])
    entry = extended.get('augmentation', 'gray_world')
    assert entry.provider != 'builtin'
    out = augment.preprocess_fn(_FlatModel(), [entry.factory()])(
        tf.constant(_image(3)), True, SEED).numpy()
    assert np.abs(out[..., 0] - out[..., 2]).max() <= 1  # gray: channels equal


class _FlatModel:
    """Stands in for Model: preprocessing is the identity."""

    @staticmethod
    def preprocess(image, training, seed):
        del training, seed
        return image


def test_soft_label_loss_is_the_cross_entropy_of_the_mixture():
    logits = tf.constant([[2.0, 0.0], [0.0, 1.0]])
    soft = tf.constant([[0.7, 0.3], [0.0, 1.0]])
    expected = -(soft * tf.nn.log_softmax(logits)).numpy().sum(1)
    np.testing.assert_allclose(Model.loss(soft, logits).numpy(), expected, rtol=1e-6)
    hard = Model.loss(tf.constant([1, 1]), logits).numpy()
    np.testing.assert_allclose(hard[1], expected[1], rtol=1e-6)
    assert preview.caption(np.array([0.25, 0.75]), ['dots', 'stripes']) == \
        'stripes 0.75 / dots 0.25'


def _every_augmentation():
    return [augment.AutoAugment(), augment.RandAugment(),
            augment.RandomErasing(probability=0.5), augment.Mixup(), augment.CutMix()]


def _experiment(model_dir, registry, augmentations):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=registry, train_batch_norm=False)
    trainer = Trainer(train_steps=2, optimizer=sgd, learning_rate=0.01,
                      log_every_steps=1, checkpoint_every_steps=100)
    return Experiment(
        model_dir=str(model_dir), model=model, trainer=trainer,
        train_files='demo://train', eval_files='demo://validation', batch_size=8,
        eval_batch_size=200, export_at_end=False, preview_images=8, seed=4,
        shuffle_buffer=32, augmentations=augmentations)


def test_the_same_seed_gives_the_same_augmented_batch(tmp_path, default_registry):
    # (The image-stage policies are checked per element above.)
    def augmentations():
        return [augment.RandomErasing(probability=0.5), augment.Mixup(), augment.CutMix()]
    first = next(iter(_experiment(tmp_path / 'b', default_registry, augmentations()).dataset(
        'demo://train', training=True)))
    second = next(iter(_experiment(tmp_path / 'c', default_registry, augmentations()
                                   ).dataset('demo://train', training=True)))
    np.testing.assert_array_equal(first[0].numpy(), second[0].numpy())
    np.testing.assert_array_equal(first[1].numpy(), second[1].numpy())
    assert first[1].shape == (8, 2) and first[1].dtype == tf.float32
    assert (first[1].numpy().max(1) < 1).any()  # mixed
    # Evaluation input keeps its class indexes.
    _, labels = next(iter(_experiment(tmp_path / 'd', default_registry, augmentations()
                                      ).dataset('demo://validation', training=False)))
    assert labels.dtype == tf.int32


@pytest.mark.slow
def test_a_run_with_every_augmentation_trains_and_evaluates(tmp_path, default_registry):
    summary = _experiment(tmp_path / 'a', default_registry,
                          _every_augmentation()).run('train_and_eval')
    assert np.isfinite(summary['eval_loss']) and summary['eval_examples'] == 400
    assert np.isfinite(summary['eval_accuracy'])


def _network(checkpoint):
    reader = tf.train.load_checkpoint(checkpoint)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith('network/')}


@pytest.mark.slow
def test_deterministic_run_with_augmentations_resumes_to_identical_weights(
        tmp_path, default_registry):
    def run(model_dir, steps):
        model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                      preprocessing='simple', registry=default_registry)
        trainer = Trainer(train_steps=steps, optimizer=sgd, learning_rate=0.05,
                          log_every_steps=1, checkpoint_every_steps=2)
        Experiment(model_dir=str(model_dir), model=model, trainer=trainer,
                   train_files='demo://train', batch_size=8, export_at_end=False,
                   deterministic=True, shuffle_buffer=32, preview_images=0,
                   augmentations=_every_augmentation()).run('train')

    run(tmp_path / 'straight', 4)
    run(tmp_path / 'resumed', 2)
    run(tmp_path / 'resumed', 4)  # resumes from ckpt-2: data position and seeds restored
    straight = _network(str(tmp_path / 'straight' / 'checkpoints' / 'ckpt-4'))
    resumed = _network(str(tmp_path / 'resumed' / 'checkpoints' / 'ckpt-4'))
    halfway = _network(str(tmp_path / 'resumed' / 'checkpoints' / 'ckpt-2'))
    assert set(straight) == set(resumed)
    for name in straight:
        np.testing.assert_array_equal(straight[name], resumed[name], err_msg=name)
    assert any(not np.array_equal(straight[n], halfway[n]) for n in straight)
