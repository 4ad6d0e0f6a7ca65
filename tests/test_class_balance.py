"""Class balance for skewed data: class counts (dataset.json or a counting pass), the
'balanced' class weights, the weighted training loss and balanced sampling."""

import os

import numpy as np
import pytest
import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.core.model import Model
from jacktf.data import converter, counts, pipeline
from jacktf.data.decoders import tfexample_classification
from jacktf.data.example import make_example
from jacktf.optim.optimizers import sgd
from jacktf.train import balance
from jacktf.train.trainer import Trainer
from data_factory import jpeg_bytes


def write_records(folder, labels, shards=2, split='train', size=8):
    """TFRecords of tiny JPEGs with ``labels``, named as `jacktf convert` names shards."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    writers = [tf.io.TFRecordWriter(os.path.join(
        folder, f'{split}-{i:05d}-of-{shards:05d}.tfrecord')) for i in range(shards)]
    for k, label in enumerate(labels):
        image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        writers[k % shards].write(make_example(encoded=jpeg_bytes(image),
                                               image_format='jpeg', label=int(label)))
    for w in writers:
        w.close()
    return os.path.join(folder, f'{split}-*.tfrecord')


@pytest.fixture(scope='module')
def skewed_folder(tmp_path_factory):
    """An image folder of 9 cats and 1 dog, converted (all to train) with dataset.json."""
    root = tmp_path_factory.mktemp('skewed')
    rng = np.random.default_rng(1)
    for cls, n in (('cat', 9), ('dog', 1)):
        os.makedirs(root / 'images' / cls)
        for i in range(n):
            (root / 'images' / cls / f'{i}.jpg').write_bytes(
                jpeg_bytes(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)))
    converter.convert(str(root / 'images'), str(root / 'records'), val_fraction=0,
                      num_shards=2, workers=1, progress=False)
    return root / 'records'


def test_balanced_weights_from_the_converters_dataset_json_are_exact(skewed_folder):
    files = pipeline.list_files(str(skewed_folder / 'train-*.tfrecord'))
    found = counts.from_dataset_json(files, num_classes=2)
    assert found.per_class == [9, 1] and found.total == 10
    assert found.source == str(skewed_folder / 'dataset.json')
    # scikit-learn's rule: n_samples / (n_classes * count_c)
    assert counts.balanced_weights(found.per_class) == [10 / 18, 5.0]
    assert balance.class_weights('balanced', found.per_class, ['cat', 'dog']) == \
        pytest.approx([0.5555555555555556, 5.0], abs=0)


def test_dataset_json_is_not_used_for_a_subset_of_the_shards(skewed_folder):
    one = pipeline.list_files(str(skewed_folder / 'train-00000-of-00002.tfrecord'))
    assert counts.from_dataset_json(one, 2) is None


def test_counting_pass_reads_the_labels_and_says_so(tmp_path, caplog):
    pattern = write_records(str(tmp_path), [0] * 7 + [1] * 2 + [2] * 3, shards=3)
    assert not os.path.exists(tmp_path / 'dataset.json')
    caplog.set_level('INFO', logger='jacktf')
    found = counts.example_counts(pattern, tfexample_classification(), 3)
    assert found.per_class == [7, 2, 3] and found.total == 12 and found.source == 'counted'
    lines = [r.getMessage() for r in caplog.records if 'Counted' in r.getMessage()]
    assert len(lines) == 1 and 'Counted 12 examples in TRAIN_FILES (3 files' in lines[0]
    assert '[7, 2, 3] per class' in lines[0]


def test_counting_an_image_folder_reads_the_listing(tmp_path):
    from jacktf.data.decoders import image_folder
    rng = np.random.default_rng(2)
    for cls, n in (('a', 3), ('b', 2)):
        os.makedirs(tmp_path / cls)
        for i in range(n):
            (tmp_path / cls / f'{i}.jpg').write_bytes(
                jpeg_bytes(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)))
    found = counts.example_counts(str(tmp_path), image_folder(), 2)
    assert found.per_class == [3, 2] and found.source == 'counted'


def test_counting_pass_names_a_label_out_of_range(tmp_path):
    pattern = write_records(str(tmp_path), [0, 1, 5])
    with pytest.raises(Exception, match=r'holds label 5, outside \[0, NUM_CLASSES=2\)'):
        counts.example_counts(pattern, tfexample_classification(), 2)


def test_class_weight_forms_and_mistakes():
    assert balance.class_weights([1.0, 4.0], num_classes=2) == [1.0, 4.0]
    assert balance.class_weights({'dog': 3.0}, class_names=['cat', 'dog'],
                                 num_classes=2) == [1.0, 3.0]
    assert balance.class_weights({0: 0.5}, num_classes=3) == [0.5, 1.0, 1.0]
    with pytest.raises(ConfigError, match='has 3 weights but there are 2 classes'):
        balance.class_weights([1.0, 2.0, 3.0], num_classes=2)
    with pytest.raises(ConfigError, match="key 'cow', which is no class"):
        balance.class_weights({'cow': 2.0}, class_names=['cat', 'dog'], num_classes=2)
    with pytest.raises(ConfigError, match="must be 'balanced', a list"):
        Trainer(train_steps=1, optimizer=sgd, class_weight='inverse')
    with pytest.raises(ConfigError, match='none of class dog'):
        balance.class_weights('balanced', [5, 0], ['cat', 'dog'])


def test_weighted_loss_on_a_known_batch_equals_the_hand_computed_value():
    logits = tf.constant([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, -1.0]])
    labels = tf.constant([0, 1, 1, 0])
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                 logits=logits)
    got = balance.weighted(per_example, labels, [1.0, 4.0]).numpy()
    # cross-entropy of two logits: log(1 + exp(other - own)); class 1 weighs 4
    expected = [np.log1p(np.exp(-2.0)), 4 * np.log1p(np.exp(-1.0)), 4 * np.log(2.0),
                np.log1p(np.exp(-4.0))]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert float(tf.nn.compute_average_loss(got)) == pytest.approx(np.mean(expected),
                                                                   rel=1e-5)


def test_train_step_reports_the_class_weighted_mean_loss(default_registry):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry,
                  train_batch_norm=False).build()
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (6, 32, 32, 3)), tf.float32)
    labels = tf.constant([0, 0, 0, 0, 1, 1], tf.int32)
    logits = model.predict(images, training=True)['logits']
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    expected = float(np.mean(ce.numpy() * np.array([1, 1, 1, 1, 4, 4])))
    trainer = Trainer(train_steps=1, optimizer=sgd, class_weight=[1.0, 4.0])
    trainer.resolve(num_classes=2)
    variables, _ = trainer.split_variables(model)
    step = trainer.make_train_step(model, sgd(1e-3), variables, 6,
                                   tf.distribute.get_strategy())
    loss, _, _ = step(iter(tf.data.Dataset.from_tensors((images, labels)).repeat()))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(loss) > float(np.mean(ce.numpy())) * 1.01  # the weights did something


def _labels(pattern, balance_counts, seed, batches=60, batch=20):
    ds = pipeline.read_dataset(
        pattern, decode_fn=tfexample_classification(),
        preprocess_fn=lambda image, training, seed: tf.zeros([2, 2, 3]),
        batch_size=batch, is_training=True, num_classes=2, shuffle_buffer=50, seed=seed,
        balance_counts=balance_counts)
    return np.concatenate([labels.numpy() for _, labels in ds.take(batches)])


def test_balanced_sampling_turns_9_to_1_into_about_1_to_1(tmp_path):
    pattern = write_records(str(tmp_path), [0] * 90 + [1] * 10)
    plain = _labels(pattern, None, seed=3)
    balanced = _labels(pattern, [90, 10], seed=3)
    assert abs(plain.mean() - 0.1) < 0.04  # 1200 draws from the 9:1 data
    assert abs(balanced.mean() - 0.5) < 0.05  # about 1:1 over 60 batches of 20
    # Seeded: the same resampled stream again (deterministic mode relies on it).
    np.testing.assert_array_equal(balanced, _labels(pattern, [90, 10], seed=3))


def test_a_checkpointed_balanced_stream_resumes_with_the_same_draws(tmp_path):
    pattern = write_records(str(tmp_path / 'data'), [0] * 90 + [1] * 10)

    def make():
        return pipeline.read_dataset(
            pattern, decode_fn=tfexample_classification(),
            preprocess_fn=lambda image, training, seed: tf.zeros([2, 2, 3]),
            batch_size=10, is_training=True, num_classes=2, shuffle_buffer=20, seed=5,
            balance_counts=[90, 10])
    first = iter(make())
    for _ in range(3):
        next(first)
    path = tf.train.Checkpoint(data=first).save(str(tmp_path / 'ckpt'))
    expected = np.concatenate([next(first)[1].numpy() for _ in range(4)])
    resumed = iter(make())  # what Experiment.deterministic does on a resume
    tf.train.Checkpoint(data=resumed).restore(path)
    np.testing.assert_array_equal(
        np.concatenate([next(resumed)[1].numpy() for _ in range(4)]), expected)


def test_sampling_setting_is_checked():
    from jacktf.data import sampling
    with pytest.raises(ConfigError, match="Experiment.sampling must be None or 'balanced'"):
        sampling.check_sampling('oversample')
    assert sampling.target_distribution([5, 0, 3]) == [0.5, 0.0, 0.5]
    # keep every record of the rare class, a ninth of the frequent one's
    assert sampling.acceptance([90, 10]) == pytest.approx([1 / 9, 1.0])
    assert sampling.kept_fraction([90, 10]) == pytest.approx(0.2)


@pytest.mark.slow
def test_a_run_with_balanced_weights_and_sampling_states_them(tmp_path):
    from conftest import run_cli
    pattern = write_records(str(tmp_path / 'data'), [0] * 18 + [1] * 2, size=16)
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
                 f'--model_dir={tmp_path / "run"}', f"--gin_param=TRAIN_FILES = '{pattern}'",
                 '--gin_param=EVAL_FILES = None', '--gin_param=TRAIN_STEPS = 3',
                 '--gin_param=BATCH_SIZE = 4', '--gin_param=IMAGE_SIZE = 32',
                 "--gin_param=Trainer.class_weight = 'balanced'",
                 "--gin_param=Experiment.sampling = 'balanced'",
                 '--gin_param=Experiment.deterministic = True',
                 '--gin_param=Experiment.export_at_end = False', '--mode=train'],
                timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Counted 20 examples in TRAIN_FILES' in r.stdout
    start = next(line for line in r.stdout.splitlines() if 'Training resnet_v1_tiny' in line)
    # 20 / (2 * 18) and 20 / (2 * 2)
    assert 'class weights [0.556, 5], balanced sampling' in start
    assert 'both rebalance the classes' in r.stdout
    assert 'Balanced sampling: keeps each record of a class with probability [0.111, 1.0] ' \
           '(20% of the records read reach training)' in r.stdout
    assert 'Done at step 3' in r.stdout
