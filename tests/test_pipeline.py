"""The input pipeline with bad records, the image_folder decoder and the preprocessors."""

import os

import numpy as np
import pytest
import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data import pipeline, preprocessing
from jacktf.data.decoders import image_folder, tfexample_classification
from data_factory import (add_litter, bad_image_folder, good_image_folder, huge_png_header,
                          jpeg_bytes, png_bytes, random_image, write_records)


def _simple(image, training, seed=None):
    return preprocessing.simple(image, image_size=32, is_training=training, seed=seed)


def _good(rng, label, i):
    return dict(encoded=jpeg_bytes(random_image(rng)), image_format='jpeg', label=label,
                filename=f'img{i}.jpg')


@pytest.fixture
def shards(tmp_path):
    rng = np.random.default_rng(0)
    good = [_good(rng, i % 2, i) for i in range(10)]
    bad = [dict(encoded=jpeg_bytes(random_image(rng))[:200], image_format='jpeg', label=0),
           dict(encoded=huge_png_header(), image_format='png', label=1),
           tf.train.Example().SerializeToString(),  # no image/encoded at all
           dict(encoded=png_bytes(random_image(rng))[:-20], image_format='png', label=0)]
    write_records(str(tmp_path / 'train-00000-of-00003.tfrecord'), good[:5] + bad[:2])
    write_records(str(tmp_path / 'train-00001-of-00003.tfrecord'), good[5:] + bad[2:])
    write_records(str(tmp_path / 'train-00002-of-00003.tfrecord'), [])  # an empty shard
    return str(tmp_path / 'train-*.tfrecord')


def _read(pattern, **kwargs):
    return pipeline.read_dataset(pattern, decode_fn=tfexample_classification(),
                                 preprocess_fn=_simple, batch_size=4, is_training=False,
                                 **kwargs)


def test_bad_records_are_skipped_and_counted(shards):
    counters = pipeline.make_counters()
    labels = np.concatenate([l.numpy() for _, l in _read(shards, num_classes=2,
                                                         counters=counters)])
    assert len(labels) == 10 and sorted(labels) == [0] * 5 + [1] * 5
    assert int(counters['skipped'].numpy()) == 4


def test_skip_corrupt_false_fails_naming_file_and_record(shards):
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        for _ in _read(shards, skip_corrupt=False):
            pass
    error = pipeline.data_error(e.value)
    assert str(error).startswith('Bad record in ') and str(error).endswith(
        'set Experiment.skip_corrupt = True to skip such records.')
    assert 'train-00000-of-00003.tfrecord record 5: truncated' in str(error)
    assert '[' not in str(error) and '"' not in str(error)


def test_pixel_limit_rejects_before_decoding(shards):
    counters = pipeline.make_counters()
    n = sum(len(l) for _, l in _read(shards, counters=counters, max_pixels=56 * 40 - 1))
    assert n == 0 and int(counters['skipped'].numpy()) == 14


def test_label_out_of_range_is_one_clean_sentence(tmp_path):
    rng = np.random.default_rng(1)
    path = str(tmp_path / 'labels.tfrecord')
    write_records(path, [_good(rng, 0, 0), _good(rng, 1, 1), _good(rng, 0, 2),
                         _good(rng, 7, 3)])
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        for _ in _read(path, num_classes=2):
            pass
    error = pipeline.data_error(e.value)
    assert isinstance(error, DataError)
    assert str(error) == (f'Label 7 out of range [0, NUM_CLASSES=2) in {path} record 3. '
                          'Fix the data or set NUM_CLASSES.')


def test_image_folder_decoder_reads_folders_directly(tmp_path):
    root = str(tmp_path / 'images')
    bad_image_folder(root, good_per_class=3)
    counters = pipeline.make_counters()
    ds = pipeline.read_dataset(root, decode_fn=image_folder(), preprocess_fn=_simple,
                               batch_size=5, is_training=False, num_classes=2,
                               counters=counters)
    labels = np.concatenate([l.numpy() for _, l in ds])
    # cat: 3 good + png_named, cmyk, gray (.jpg) + rgba (.png) + truncated + empty + huge;
    # notes.txt is not an image extension. Bad ones are skipped by the header checks.
    assert sorted(labels.tolist()) == [0] * 7 + [1] * 3
    assert int(counters['skipped'].numpy()) == 3
    assert pipeline.labels_for(root) == ['cat', 'dog']


def test_training_pipeline_batches_shuffles_and_repeats(shards):
    ds = pipeline.read_dataset(shards, decode_fn=tfexample_classification(),
                               preprocess_fn=_simple, batch_size=4, is_training=True,
                               shuffle_buffer=16, seed=1)
    batches = [b for _, b in zip(range(6), ds)]
    assert all(img.shape == (4, 32, 32, 3) for img, _ in batches)  # 24 > 10: repeats


# -- preprocessing ---------------------------------------------------------------------

@pytest.mark.parametrize('name,low,high', [('vgg', -123.68, 151.061),
                                           ('inception', -1.0, 1.0), ('simple', -1.0, 1.0)])
@pytest.mark.parametrize('training', [True, False])
def test_preprocessing_shapes_dtypes_ranges(name, low, high, training):
    fn = getattr(preprocessing, name)
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (300, 420, 3)), tf.uint8)
    for size in (224, 64):
        out = fn(image, image_size=size, is_training=training)
        assert out.dtype == tf.float32 and out.shape.as_list() == [size, size, 3]
        assert float(tf.reduce_min(out)) >= low - 1e-3
        assert float(tf.reduce_max(out)) <= high + 1e-3


@pytest.mark.parametrize('name', ['vgg', 'inception', 'simple'])
def test_eval_preprocessing_is_deterministic(name):
    fn = getattr(preprocessing, name)
    image = tf.constant(np.random.default_rng(1).integers(0, 256, (200, 150, 3)), tf.uint8)
    a = fn(image, image_size=96, is_training=False).numpy()
    b = fn(image, image_size=96, is_training=False).numpy()
    np.testing.assert_array_equal(a, b)
    t1 = fn(image, image_size=96, is_training=True).numpy()
    t2 = fn(image, image_size=96, is_training=True).numpy()
    assert not np.array_equal(t1, t2) or name == 'simple'


def test_vgg_eval_is_central_crop_of_resized_image():
    image = tf.constant(np.arange(256 * 512 * 3).reshape(256, 512, 3) % 251, tf.uint8)
    out = preprocessing.vgg(image, image_size=224, is_training=False)
    expected = tf.cast(image, tf.float32)[16:240, 144:368] - preprocessing.VGG_MEANS
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-4)


@pytest.mark.slow
def test_training_straight_from_an_image_folder(tmp_path, default_registry):
    from jacktf.app.experiment import Experiment
    from jacktf.core.model import Model
    from jacktf.train.trainer import Trainer
    from jacktf.optim.optimizers import momentum
    root = str(tmp_path / 'images')
    bad_image_folder(root, good_per_class=4)
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry)
    trainer = Trainer(train_steps=4, optimizer=momentum, learning_rate=0.01)
    exp = Experiment(model_dir=str(tmp_path / 'm'), model=model, trainer=trainer,
                     train_files=root, eval_files=root, decoder='image_folder', batch_size=4)
    summary = exp.run('train_and_eval')
    assert summary['step'] == 4 and summary['eval_examples'] == 12  # 8 JPEG + 4 other kinds
    assert summary['skipped_records'] >= 3
    assert open(tmp_path / 'm' / 'labels.txt').read().split() == ['cat', 'dog']
    assert os.path.isdir(summary['eval_export'])


def test_image_folder_ignores_litter_and_names_each_bad_file_once(tmp_path, capfd, caplog):
    root = str(tmp_path / 'images')
    bad_image_folder(root, good_per_class=2)
    add_litter(root)
    assert pipeline.labels_for(root) == ['cat', 'dog']
    counters = pipeline.make_counters()
    with caplog.at_level('WARNING', logger='jacktf'):
        ds = pipeline.read_dataset(root, decode_fn=image_folder(), preprocess_fn=_simple,
                                   batch_size=3, is_training=True, shuffle_buffer=4,
                                   num_classes=2, counters=counters, seed=0)
        # 2 + 2 good, 4 converted kinds: 8 usable images; 40 batches = 15 epochs.
        labels = np.concatenate([b[1].numpy() for _, b in zip(range(40), ds)])
    assert set(labels.tolist()) == {0, 1}
    assert int(counters['skipped'].numpy()) == 3  # not 3 per epoch
    bad = {'truncated.jpg': 'truncated (the end of the image is missing)',
           'empty.jpg': 'empty (no image bytes)',
           'huge.png': 'image too large: its header declares 400000000 pixels, more than '
                       'max_pixels = 100000000'}
    err = capfd.readouterr().err
    for name, reason in bad.items():
        line = f'jacktf: warning: skipped {os.path.join(root, "cat", name)}: {reason}'
        assert err.count(line) == 1, err[-2000:]
    assert err.count('jacktf: warning: skipped') == 3
    assert [(os.path.basename(n), r) for n, r in pipeline.skipped_records(counters)] == [
        ('empty.jpg', 'empty'), ('huge.png', 'over max_pixels'),
        ('truncated.jpg', 'truncated')]
    # notes.txt is not an image by its extension: named once when the folder is listed.
    assert caplog.text.count('skipping') == 1 and 'cat/notes.txt: not an image file' in \
        caplog.text
    assert '__MACOSX' not in caplog.text and 'Thumbs.db' not in caplog.text


def test_image_folder_empty_class_needs_the_option(tmp_path):
    root = str(tmp_path / 'images')
    good_image_folder(root, per_class=2)
    os.makedirs(os.path.join(root, 'birds', '@eaDir'))  # only litter inside
    read = dict(preprocess_fn=_simple, batch_size=2, is_training=False)
    with pytest.raises(DataError, match=r'Class folder .*/birds/ has no usable image.*'
                                        r'image_folder.allow_empty_classes = True'):
        pipeline.read_dataset(root, decode_fn=image_folder(), **read)
    ds = pipeline.read_dataset(root, decode_fn=image_folder(allow_empty_classes=True),
                               num_classes=3, **read)
    assert sorted(np.concatenate([l.numpy() for _, l in ds]).tolist()) == [1, 1, 2, 2]
    assert pipeline.labels_for(root) == ['birds', 'cat', 'dog']


def test_a_pass_without_usable_records_ends_instead_of_spinning(tmp_path):
    rng = np.random.default_rng(2)
    path = str(tmp_path / 'bad.tfrecord')
    write_records(path, [dict(encoded=jpeg_bytes(random_image(rng))[:200],
                              image_format='jpeg', label=0),
                         dict(encoded=b'hello', image_format='gif', label=1),
                         dict(encoded=b'', image_format='jpeg', label=0)])
    counters = pipeline.make_counters()
    ds = pipeline.read_dataset(path, decode_fn=tfexample_classification(),
                               preprocess_fn=_simple, batch_size=2, is_training=True,
                               counters=counters)
    with pytest.raises(StopIteration):
        next(iter(ds))
    message = str(pipeline.no_usable_records(path, counters))
    assert message.startswith(f"No usable record in a whole pass over TRAIN_FILES = "
                              f"'{path}' (1 file): all 3 records were skipped (")
    for part in ('1 truncated', '1 empty', '1 not an image', f'{path} record 0'):
        assert part in message
