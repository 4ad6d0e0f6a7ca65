"""One card per preprocessing: for every registered preprocessing, on real photos (when
the real fixtures are here) and generated images, the batch preview's pixels, the
galleries' pixels and the card's client steps (replayed in numpy from PIL-decoded files,
and from the client contract JSON the export writes) agree within 1 grey level with
the training/eval input the pipeline produces; the inverse of the forward is exact."""

import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import jacktf
from conftest import ROOT
from jacktf.core.model import Model
from jacktf.data import client_steps, pipeline
from jacktf.evaluation import top_losses
from jacktf.serve import client_preprocessing

SIZE = 36  # small, and not a multiple of 7 or 8: vgg's shorter side is round(36 / 0.875)
SEED = 7
_REAL_CANDIDATES = [os.environ.get('JACKTF_REAL_FIXTURES', ''),
                    os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures', 'real'),
                    os.path.join(os.path.dirname(os.path.dirname(ROOT)), 'shared',
                                 'fixtures', 'real')]
REAL = next((p for p in _REAL_CANDIDATES if p and os.path.isdir(p)), None)
REAL_PHOTOS = ('chelsea.png', 'coffee.png', 'parrot.jpg', 'hot_dog.jpg')


def _generated(rng):
    """Smooth gradients plus noise, in odd shapes (portrait, landscape, near square)."""
    out = []
    for h, w in ((53, 37), (48, 64), (41, 40), (90, 120)):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (h + w)], -1)
        out.append(np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8))
    return out


def _photos():
    """Real photos decoded as the pipeline decodes them (a JPEG's pixels by TF's
    decoder, so both sides start from the same pixels), or none."""
    if REAL is None:
        return []
    out = []
    for name in REAL_PHOTOS:
        path = os.path.join(REAL, name)
        if os.path.exists(path):
            data = open(path, 'rb').read()
            out.append(tf.io.decode_image(data, channels=3,
                                          expand_animations=False).numpy())
    return out


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    """An image folder of PNGs (two classes): the generated images and the real photos.
    PNG, so PIL's decoder (the app's side) and TF's give the same pixels."""
    root = tmp_path_factory.mktemp('cards')
    images = _generated(np.random.default_rng(0)) + _photos()
    for i, image in enumerate(images):
        cls = root / ('a' if i % 2 else 'b')
        cls.mkdir(exist_ok=True)
        Image.fromarray(image).save(cls / f'{i:02d}.png')
    return str(root), len(images)


@pytest.fixture(scope='module')
def builtin():
    """A registry of the built-in plugins, and a Model per registered preprocessing."""
    from jacktf.core import plugins
    registry = plugins.load_registry(autoload=False)
    names = registry.names('preprocessor')
    assert {'simple', 'vgg', 'inception'} <= set(names)
    return registry, {name: Model(backbone='resnet_v1_tiny', num_classes=2,
                                  image_size=SIZE, preprocessing=name, registry=registry)
                      for name in names}


def _first_batch(builtin, folder, training):
    """{name: the first batch of the input pipeline [N, S, S, 3]} (one pipeline whose
    element is the stack of every model's preprocessing, each with the element's seed),
    and each element's file name."""
    registry, models = builtin
    root, count = folder
    data = pipeline.read_dataset(
        root, decode_fn=registry.get('decoder', 'image_folder').factory(),
        preprocess_fn=lambda image, t, seed: tf.stack(
            [m.preprocess(image, t, seed) for m in models.values()]),
        batch_size=count, is_training=training, seed=SEED, shuffle_buffer=0,
        with_info=True)
    images, _, info = next(iter(data))
    images = images.numpy()
    return ({name: images[:, i] for i, name in enumerate(models)},
            [f.decode() for f in info['filename'].numpy()])


@pytest.fixture(scope='module')
def eval_batch(builtin, folder):
    return _first_batch(builtin, folder, training=False)


@pytest.fixture(scope='module')
def train_batch(builtin, folder):
    return _first_batch(builtin, folder, training=True)


def _grey_levels(model_input, expected_input, card):
    """The largest difference of two model inputs, in grey levels (pixel units)."""
    return float(np.max(np.abs(model_input - expected_input) *
                        np.asarray(card.normalization.std, np.float32)))


def _names(registry):
    names = registry.names('preprocessor')
    assert {'simple', 'vgg', 'inception'} <= set(names)
    return names


def test_every_registered_preprocessing_is_a_card(registry):
    for name in _names(registry):
        card = registry.get('preprocessor', name).card
        assert isinstance(card, jacktf.PreprocessingCard), name
        assert card.exact_inverse and card.source and card.summary
        steps = [s['step'] for s in card.client_steps(SIZE)]
        assert steps[0] == 'decode' and steps[-2:] == ['normalize', 'layout'], steps


def test_eval_input_gallery_and_client_steps_agree(builtin, eval_batch):
    """Eval: the pipeline's input; the gallery's pixels (its inverse, and the photo's
    eval view a SavedModel's evaluation shows); the client steps replayed in numpy on
    the PIL-decoded file, from the card and from the JSON."""
    registry, models = builtin
    batches, files = eval_batch
    assert len(files) == 4 + (len(REAL_PHOTOS) if REAL else 0)  # every image is in
    for name, model in models.items():
        card = model.preprocessing_card
        undo = top_losses.undo_preprocessing(model)
        contract = json.loads(json.dumps(client_preprocessing.section(model, registry)))
        assert contract['input'] == 'pixels'
        for x, path in zip(batches[name], files):
            decoded = np.asarray(Image.open(path).convert('RGB'))
            pixels = card.geometry.apply(decoded, SIZE).numpy()  # the eval path
            gallery = undo(x)
            assert gallery.dtype == np.uint8 and gallery.shape == (SIZE, SIZE, 3)
            assert np.abs(gallery.astype(int) - np.round(pixels)).max() <= 1, (name, path)
            # A SavedModel's evaluation shows the photo's eval view: the same picture.
            view = top_losses.eval_view(model)(decoded)
            assert np.abs(view.astype(int) - gallery).max() <= 1, (name, path)
            replayed = client_steps.replay(card.client_steps(SIZE), decoded)
            assert replayed.shape == (1, SIZE, SIZE, 3)
            assert _grey_levels(replayed[0], x, card) <= 1, (name, path)
            sent = client_steps.replay(contract['steps'], decoded)[0]  # pixels
            assert np.abs(sent - pixels).max() <= 1, (name, path)
            inside = client_steps.replay([contract['normalization']], sent)
            assert _grey_levels(inside, x, card) <= 1, (name, path)


def test_training_input_and_preview_pixels_agree(builtin, train_batch):
    """Training: element k of the first batch is the card's train path of its file with
    the seed (run seed, k); the preview's pixels (Model.to_pixels) give it back."""
    _, models = builtin
    batches, files = train_batch
    for name, model in models.items():
        card = model.preprocessing_card
        preview, exact = model.to_pixels(batches[name])
        assert exact
        for k, path in enumerate(files):
            image = tf.io.decode_image(open(path, 'rb').read(), channels=3)
            pixels = card.pixels(image, image_size=SIZE, is_training=True,
                                 seed=tf.constant([SEED, k], tf.int64)).numpy()
            assert _grey_levels(card.normalization.apply(pixels).numpy(),
                                batches[name][k], card) <= 1e-3, (name, path)
            assert np.abs(preview[k].numpy().astype(int) -
                          np.round(pixels)).max() <= 1, (name, path)


def test_inverse_of_the_forward_is_exact(registry):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    image[0, 0], image[0, 1] = 0, 255  # both ends of the range
    for name in _names(registry):
        card = registry.get('preprocessor', name).card
        x = card.normalization.apply(image)
        low, high = card.normalization.value_range
        np.testing.assert_allclose(x.numpy()[0, 0], low, atol=1e-5)
        np.testing.assert_allclose(x.numpy()[0, 1], high, atol=1e-4)
        np.testing.assert_array_equal(card.to_pixels(x).numpy(), image)


def test_builtin_numbers_are_the_official_ones(registry):
    """slim's numbers: vgg means (123.68, 116.78, 103.94) and shorter side 256 at 224,
    inception's central 0.875 crop and [-1, 1]."""
    vgg, inception, simple = (registry.get('preprocessor', n).card
                              for n in ('vgg', 'inception', 'simple'))
    assert vgg.normalization.mean == (123.68, 116.78, 103.94)
    assert vgg.normalization.std == (1.0, 1.0, 1.0)
    assert vgg.geometry.shorter_side(224) == 256
    assert inception.geometry.crop_fraction == 0.875
    assert inception.normalization.value_range == ((-1.0,) * 3, (1.0,) * 3)
    assert simple.normalization == inception.normalization
    words = client_steps.words(inception.client_steps(299))
    assert words.startswith('keep the central 0.875 of the height and the width')
    assert 'then resize to 299x299' in words and 'x / 127.5 - 1 (range [-1, 1])' in words
    assert 'scale so the shorter side is 256' in client_steps.words(vgg.client_steps(224))


def test_a_plugin_card_gets_the_inverse_and_the_client_split(registry):
    """A third-party card (jacktf's public names only) is a full citizen: its input,
    its exact inverse and the export's pixel split come from its numbers."""
    card = jacktf.PreprocessingCard(
        geometry=jacktf.Geometry('resize_then_crop', 0.8),
        normalization=jacktf.Normalization(mean=(124, 116, 104), std=(58, 57, 57)),
        summary='torchvision-style mean/std', source='torchvision ImageNet stats')
    with registry.providing('jacktf-thirdparty'):
        registry.preprocessor('torch_style', card)
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=SIZE,
                  preprocessing='torch_style', registry=registry)
    image = np.random.default_rng(2).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    x = model.preprocess(tf.constant(image), training=True)  # no train path: eval
    replayed = client_steps.replay(card.client_steps(SIZE), image)[0]
    assert _grey_levels(replayed, x.numpy(), card) <= 1
    section = client_preprocessing.section(model, registry)
    assert section['input'] == 'pixels' and section['provider'] == 'jacktf-thirdparty'
    assert section['inside_model'].startswith('(x - (124, 116, 104)) / (58, 57, 57)')
    pixels, exact = model.to_pixels(x[None])
    assert exact and np.abs(pixels.numpy()[0].astype(int) -
                            np.round(card.geometry.apply(image, SIZE))).max() <= 1


def test_a_bare_function_still_works_with_a_deprecation_line(registry, caplog):
    def plain(image, *, image_size, is_training):
        """Scaled to [0, 1]."""
        del is_training
        return tf.image.resize(tf.cast(image, tf.float32) / 255.0, [image_size] * 2)

    with caplog.at_level(logging.WARNING, logger='jacktf'):
        registry.preprocessor('plain', plain)
    assert "Deprecated: the preprocessor 'plain'" in caplog.text
    assert 'PreprocessingCard' in caplog.text
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=SIZE,
                  preprocessing='plain', registry=registry)
    image = np.full((40, 40, 3), 51, np.uint8)
    x = model.preprocess(tf.constant(image), training=True)
    np.testing.assert_allclose(x.numpy(), 0.2, atol=1e-6)
    _, exact = model.to_pixels(x[None])
    assert not exact  # no inverse: the picture is stretched
    section = client_preprocessing.section(model, registry)
    assert section['input'] == 'preprocessed' and 'steps' not in section


def test_cards_trace_in_a_tf_function_of_any_image_shape(registry):
    """As in the SavedModel's serving signature and the export's client function."""
    image = np.random.default_rng(4).integers(0, 256, (45, 61, 3), dtype=np.uint8)
    for name in _names(registry):
        card = registry.get('preprocessor', name).card
        spec = [tf.TensorSpec([None, None, 3], tf.uint8)]
        served = tf.function(lambda im: card.preprocess(  # noqa: B023
            im, image_size=SIZE, is_training=False), input_signature=spec)
        sent = tf.function(lambda im: card.geometry.apply(im, SIZE),  # noqa: B023
                           input_signature=spec)
        eager = card.preprocess(image, image_size=SIZE, is_training=False).numpy()
        np.testing.assert_allclose(served(image).numpy(), eager, atol=1e-5)
        np.testing.assert_allclose(card.normalization.apply(sent(image)).numpy(), eager,
                                   atol=1e-5)
