"""Multi-label data: the CSV and folder forms, the iterative stratification split,
conversion to TFRecords with list labels, the decoder and the pipeline's multi-hot."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.core.errors import DataError
from jacktf.data import counts, decoders, multilabel, pipeline
from jacktf.data.multilabel_convert import convert_multilabel

CLASSES = ['cat', 'dog', 'tree']


def _png(path, value, size=32):
    Image.fromarray(np.full([size, size, 3], value, np.uint8)).save(path)


def _csv_set(root, rows, header='path,labels'):
    """Writes PNGs and a labels.csv of (name, label text) rows; returns the CSV path."""
    os.makedirs(root, exist_ok=True)
    for i, (name, _) in enumerate(rows):
        _png(os.path.join(root, name), 10 * i)
    path = os.path.join(root, 'labels.csv')
    with open(path, 'w') as f:
        f.write((header + '\n' if header else '') +
                ''.join(f'{name},{labels}\n' for name, labels in rows))
    return path


def test_labels_split_on_spaces_or_bars():
    assert multilabel.split_labels('cat dog') == ['cat', 'dog']
    assert multilabel.split_labels('cat|dog| tree') == ['cat', 'dog', 'tree']
    assert multilabel.split_labels('red shoe|outdoor') == ['red shoe', 'outdoor']
    assert multilabel.split_labels(' cat  cat ') == ['cat']


def test_csv_gives_sorted_classes_and_label_indexes(tmp_path):
    path = _csv_set(str(tmp_path), [('a.png', 'dog cat'), ('b.png', 'tree'),
                                    ('c.png', 'tree|dog')])
    classes, items = multilabel.read_labels_csv(path)
    assert classes == CLASSES
    assert [(os.path.basename(p), labels) for p, labels in items] == [
        ('a.png', [0, 1]), ('b.png', [2]), ('c.png', [1, 2])]
    no_header = _csv_set(str(tmp_path / 'n'), [('a.png', 'cat')], header=None)
    assert multilabel.read_labels_csv(no_header)[1][0][1] == [0]


@pytest.mark.parametrize('text, message', [
    ('path,labels\na.png\n', 'line 2: expected `path,labels`'),
    ('path,labels\na.png,\n', "line 2: 'a.png' has no labels"),
    ('a.png,cat\nb.png,dog\na.png,dog\n', "line 3: 'a.png' is listed again (first on line 1)"),
    ('path,labels\n', 'holds no `path,labels` rows'),
])
def test_bad_csv_rows_are_named(tmp_path, text, message):
    path = tmp_path / 'labels.csv'
    path.write_text(text)
    with pytest.raises(DataError, match=None) as e:
        multilabel.read_labels_csv(str(path))
    assert message in str(e.value)


def test_label_statistics_count_images_and_cooccurrence():
    stats = multilabel.label_statistics([[0, 1], [1], [0, 1, 2], []], CLASSES)
    assert stats['per_label'] == {'cat': 2, 'dog': 3, 'tree': 1}
    assert stats['cooccurrence'] == [[2, 2, 1], [2, 3, 1], [1, 1, 1]]
    assert stats['labels_per_image'] == {'0': 1, '1': 1, '2': 1, '3': 1}
    assert stats['images'] == 4


def test_iterative_split_keeps_every_labels_proportion():
    rng = np.random.default_rng(0)
    k, n = 8, 400
    rates = np.linspace(0.04, 0.5, k)  # a rare label (16 images) to a common one
    sets = [list(np.flatnonzero(rng.random(k) < rates)) for _ in range(n)]
    where = np.asarray(multilabel.iterative_split(sets, k, (0.8, 0.2), seed=1))
    assert where.shape == (n,) and set(where) == {0, 1}
    y = multilabel.multi_hot(sets, k)
    val_share = y[where == 1].sum(0) / y.sum(0)
    assert np.all(np.abs(val_share - 0.2) <= 0.051), val_share  # every label near 20%
    assert abs((where == 1).mean() - 0.2) < 0.03
    again = multilabel.iterative_split(sets, k, (0.8, 0.2), seed=1)
    assert again == where.tolist()  # deterministic for a seed


def test_iterative_split_places_examples_without_labels_and_checks_fractions():
    where = multilabel.iterative_split([[0], [0], [], [], [1], [1]], 2, (0.5, 0.5))
    assert sorted(where) == [0, 0, 0, 1, 1, 1]
    assert where[0] != where[1] and where[4] != where[5]
    with pytest.raises(DataError, match='non-negative'):
        multilabel.iterative_split([[0]], 1, (-1, 2))


def test_folder_image_in_two_class_folders_is_one_image_with_both_labels(tmp_path):
    for name in ('cat', 'dog'):
        os.makedirs(tmp_path / name)
    _png(str(tmp_path / 'cat' / 'both.png'), 50)
    shutil.copy(tmp_path / 'cat' / 'both.png', tmp_path / 'dog' / 'same_content.png')
    _png(str(tmp_path / 'dog' / 'only_dog.png'), 90)
    classes, items, _ = multilabel.read_multilabel_folder(str(tmp_path))
    assert classes == ['cat', 'dog']
    assert sorted((os.path.basename(p), labels) for p, labels in items) == [
        ('both.png', [0, 1]), ('only_dog.png', [1])]


def _converted(tmp_path):
    rows = [(f'i{i}.png', labels) for i, labels in enumerate(
        ['cat', 'cat dog', 'dog', 'tree|cat', 'dog tree', 'cat', 'dog', 'tree',
         'cat dog tree', 'cat'])]
    csv_path = _csv_set(str(tmp_path / 'images'), rows)
    out = str(tmp_path / 'tfr')
    info = convert_multilabel(out, labels_csv=csv_path, val_fraction=0.3, num_shards=2,
                              workers=1, progress=False)
    return out, info


def test_convert_writes_list_labels_counts_and_cooccurrence(tmp_path):
    out, info = _converted(tmp_path)
    assert info['multi_label'] and info['classes'] == CLASSES
    assert info['images']['train'] + info['images']['validation'] == 10
    total = {c: info['counts']['train'][c] + info['counts']['validation'][c]
             for c in CLASSES}
    assert total == {'cat': 6, 'dog': 5, 'tree': 4}
    both = np.add(info['cooccurrence']['train'], info['cooccurrence']['validation'])
    assert both.tolist() == [[6, 2, 2], [2, 5, 2], [2, 2, 4]]
    for c in CLASSES:  # every label in both splits (iterative stratification)
        assert info['counts']['validation'][c] >= 1
    with open(os.path.join(out, 'dataset.json')) as f:
        assert json.load(f)['split'] == 'iterative_stratification'
    assert open(os.path.join(out, 'labels.txt')).read().split() == CLASSES
    decode = decoders.tfexample_multilabel()
    found = {}
    for name in sorted(os.listdir(out)):
        if name.endswith('.tfrecord'):
            for record in tf.data.TFRecordDataset(os.path.join(out, name)):
                fields = decode(record)
                found[fields['filename'].numpy().decode()] = fields['label'].numpy().tolist()
    assert found['i1.png'] == [0, 1] and found['i8.png'] == [0, 1, 2]
    assert found['i3.png'] == [0, 2] and len(found) == 10
    files = pipeline.list_files(os.path.join(out, 'train-*.tfrecord'))
    got = counts.from_dataset_json(files, 3)
    assert got.total == info['images']['train']  # images, not label occurrences
    assert got.per_class == [info['counts']['train'][c] for c in CLASSES]


def test_pipeline_gives_multi_hot_labels_and_names_bad_indexes(tmp_path):
    out, _ = _converted(tmp_path)
    decode = decoders.tfexample_multilabel()
    ds = pipeline.read_dataset(
        os.path.join(out, '*.tfrecord'), decode_fn=decode, batch_size=10,
        is_training=False, num_classes=3, with_info=True,
        preprocess_fn=lambda image, training, seed: tf.image.resize(
            tf.cast(image, tf.float32), [8, 8]))
    images, labels, info = next(iter(ds))
    truth = {'i1.png': [1, 1, 0], 'i7.png': [0, 0, 1], 'i8.png': [1, 1, 1]}
    names = [n.decode() for n in info['filename'].numpy()]
    assert labels.dtype == tf.float32 and labels.shape == (10, 3)
    for name, row in truth.items():
        assert labels[names.index(name)].numpy().tolist() == row
    bad = pipeline.read_dataset(
        os.path.join(out, '*.tfrecord'), decode_fn=decode, batch_size=10,
        is_training=False, num_classes=2,
        preprocess_fn=lambda image, training, seed: tf.image.resize(
            tf.cast(image, tf.float32), [8, 8]))
    with pytest.raises(Exception) as e:
        next(iter(bad))
    error = pipeline.data_error(e.value)
    assert error is not None and 'out of range [0, NUM_CLASSES=2)' in str(error)


def test_convert_cli_multilabel_and_its_errors(tmp_path, capsys):
    from jacktf import cli
    csv_path = _csv_set(str(tmp_path / 'images'), [('a.png', 'cat dog'), ('b.png', 'dog')])
    assert cli.main(['convert', '--labels_csv', csv_path, '--output_dir',
                     str(tmp_path / 'out'), '--val_fraction', '0', '--workers', '1']) == 0
    assert 'Wrote 2 multi-label images of 2 labels (train 2' in capsys.readouterr().out
    (tmp_path / 'bad.csv').write_text('path,labels\nmissing.png,cat\n')
    with pytest.raises(SystemExit) as e:
        cli.main(['convert', '--labels_csv', str(tmp_path / 'bad.csv'), '--output_dir',
                  str(tmp_path / 'out2')])
    assert e.value.code == 2
    assert 'lists 1 images that do not exist' in ''.join(capsys.readouterr())


def test_decoder_reads_a_multi_hot_float_feature():
    feature = {
        'image/encoded': tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'x'])),
        'image/class/multi_hot': tf.train.Feature(
            float_list=tf.train.FloatList(value=[0.0, 1.0, 0.0, 1.0]))}
    record = tf.train.Example(features=tf.train.Features(
        feature=feature)).SerializeToString()
    decode = decoders.tfexample_multilabel(multi_hot_key='image/class/multi_hot')
    assert decode(tf.constant(record))['label'].numpy().tolist() == [1, 3]
    plain = decoders.tfexample_multilabel()  # no label feature: no labels
    assert decode.multi_label and plain(tf.constant(record))['label'].numpy().size == 0
