"""The fast input path: crop-window JPEG decode and the decoded in-memory cache give
exactly what the plain decode-then-preprocess pipeline gives."""

import os

import numpy as np
import pytest

from data_factory import jpeg_bytes

tf = pytest.importorskip('tensorflow')

from jacktf.core.model import Model  # noqa: E402
from jacktf.data import augment, fast_input, pipeline  # noqa: E402
from jacktf.data.decoders import image_folder  # noqa: E402


def _jpeg(shape, subsampling, seed):
    """A JPEG of smooth noise (so chroma upsampling matters) with ``subsampling``
    ('4:2:0' or '4:4:4')."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (shape[0] // 4 + 1, shape[1] // 4 + 1, 3), np.uint8)
    image = tf.image.resize(small.astype(np.float32), shape, method='bicubic')
    image = tf.cast(tf.clip_by_value(image + rng.normal(0, 20, shape + (3,)), 0, 255),
                    tf.uint8)
    return tf.io.encode_jpeg(image, quality=90,
                             chroma_downsampling=subsampling == '4:2:0').numpy()


def _model(**kwargs):
    kwargs.setdefault('preprocessing', 'inception_finetune')
    return Model(backbone='mobilenet_v1_025', num_classes=2, image_size=32, **kwargs)


def test_crop_window_decode_gives_the_pixels_of_decode_then_crop():
    model = _model(preprocessing_kwargs={'area_range': (0.05, 1.0)})
    preprocess = augment.preprocess_fn(model, ())
    window = preprocess.crop_window
    for n, (shape, sub) in enumerate((((61, 83), '4:2:0'), ((90, 47), '4:2:0'),
                                      ((64, 64), '4:4:4'))):
        encoded = _jpeg(shape, sub, n)
        whole = tf.io.decode_image(encoded, channels=3)
        for k in range(6):
            seed = tf.constant([n, k], tf.int64)
            begin, size = window(tf.constant([shape[0], shape[1], 3]), seed)
            assert int(size[0]) * int(size[1]) < shape[0] * shape[1] or k > 0
            cut = fast_input.decode_window(encoded, begin, size)
            np.testing.assert_array_equal(cut.numpy(),
                                          tf.slice(whole, begin, size).numpy())
            fast = fast_input.decode_and_preprocess(encoded, preprocess, True, seed)
            np.testing.assert_array_equal(fast.numpy(),
                                          preprocess(whole, True, seed).numpy())


def test_no_crop_window_without_a_crop_first():
    assert _model(train_augmentation=False).train_crop_window() is None
    assert not hasattr(augment.preprocess_fn(
        _model(preprocessing='inception'), ()), 'crop_window')


def _folder(root):
    rng = np.random.default_rng(3)
    for cls in ('a', 'b'):
        os.makedirs(os.path.join(root, cls))
        for i in range(3):
            image = rng.integers(0, 255, (30 + 7 * i, 41, 3), np.uint8)
            name = os.path.join(root, cls, f'{i}.jpg')
            with open(name, 'wb') as f:
                f.write(jpeg_bytes(image))
    with open(os.path.join(root, 'b', 'p.png'), 'wb') as f:
        f.write(tf.io.encode_png(rng.integers(0, 255, (33, 35, 3), np.uint8)).numpy())
    return str(root)


@pytest.mark.slow  # four pipelines are built and traced (about 3 s each)
def test_decoded_cache_yields_the_elements_of_the_uncached_pipeline(tmp_path):
    folder = _folder(tmp_path)
    preprocess = augment.preprocess_fn(_model(), ())

    def batches(cache_side, training):
        ds = pipeline.read_dataset(
            folder, decode_fn=image_folder(), preprocess_fn=preprocess, batch_size=7,
            is_training=training, shuffle_files=False, shuffle_buffer=0, seed=5,
            num_classes=2, cache_side=cache_side)
        return [(x.numpy(), y.numpy()) for x, y in ds.take(3 if training else 2)]

    for training in (True, False):
        plain, cached = batches(None, training), batches(64, training)
        assert len(plain) == len(cached) == (3 if training else 1)
        for (x0, y0), (x1, y1) in zip(plain, cached):
            np.testing.assert_array_equal(y0, y1)
            np.testing.assert_array_equal(x0, x1)
        if training:  # augmentation runs at every epoch on the cached pixels
            assert not np.array_equal(cached[0][0][0], cached[1][0][0])


def test_shrink_brings_the_shorter_side_down_only():
    image = tf.zeros([300, 400, 3], tf.uint8)
    assert fast_input.shrink(image, 150).shape == (150, 200, 3)
    assert fast_input.shrink(image, 500).shape == (300, 400, 3)


def test_cache_plan_picks_the_largest_side_within_the_budget():
    assert fast_input.cache_plan(1000, 224, 1024)[0] == 448
    side, mb = fast_input.cache_plan(3000, 224, 1024)
    assert side == 280 and mb < 1024
    assert fast_input.cache_plan(100_000, 224, 1024)[0] is None
    assert fast_input.cache_plan(None, 224, 1024) == (None, None)
