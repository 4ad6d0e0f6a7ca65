"""`jacktf convert`: every bad-input kind has its documented outcome; no good image lost."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.core.errors import DataError
from jacktf.data.converter import convert, split_items
from conftest import run_cli
from data_factory import add_litter, bad_image_folder, good_image_folder


def _records(pattern):
    out = []
    for path in sorted(tf.io.gfile.glob(pattern)):
        for raw in tf.data.TFRecordDataset(path):
            ex = tf.train.Example.FromString(raw.numpy())
            f = ex.features.feature
            out.append({k: (f[k].bytes_list.value[0] if f[k].bytes_list.value else
                            f[k].int64_list.value[0]) for k in f})
    return out


@pytest.mark.parametrize('workers', [1, 2])
def test_convert_outcomes_and_counts(tmp_path, workers):
    src, out = str(tmp_path / 'images'), str(tmp_path / 'out')
    expected = bad_image_folder(src)
    info = convert(src, out, val_fraction=0.25, num_shards=2, workers=workers, seed=3,
                   progress=False)
    skipped = {s['file']: s['reason'] for s in info['skipped']}
    assert set(skipped) == {n for n, o in expected.items() if o == 'skipped'}
    assert skipped['cat/empty.jpg'] == 'empty file (0 bytes)'
    assert skipped['cat/notes.txt'].startswith('not an image (unrecognized format)')
    assert skipped['cat/truncated.jpg'].startswith('corrupt image')
    assert skipped['cat/huge.png'].startswith('image too large: 20000x20000')
    converted = {c['file']: c['conversion'] for c in info['converted']}
    assert set(converted) == {n for n, o in expected.items() if o == 'converted'}
    assert converted['cat/png_named.jpg'] == 'PNG RGB -> RGB JPEG'
    assert converted['cat/cmyk.jpg'] == 'JPEG CMYK -> RGB JPEG'
    assert converted['cat/rgba.png'] == 'PNG RGBA -> RGB JPEG'
    # Counts add up: nothing good is lost.
    n_good = sum(o != 'skipped' for o in expected.values())
    assert info['num_files'] == len(expected) and info['num_written'] == n_good
    total = sum(sum(c.values()) for c in info['counts'].values())
    assert total == n_good == 16
    # Stratified split of the files (cat 14 files, dog 6) with the bad ones left out.
    assert info['counts']['validation']['dog'] == 2 and info['counts']['train']['dog'] == 4
    assert info['counts']['validation']['cat'] + info['counts']['train']['cat'] == 10
    assert 1 <= info['counts']['validation']['cat'] <= 4
    assert sorted(os.listdir(out)) == [
        'dataset.json', 'labels.txt', 'train-00000-of-00002.tfrecord',
        'train-00001-of-00002.tfrecord', 'validation-00000-of-00002.tfrecord',
        'validation-00001-of-00002.tfrecord']
    assert open(os.path.join(out, 'labels.txt')).read().split() == ['cat', 'dog']
    records = _records(os.path.join(out, '*.tfrecord'))
    assert len(records) == 16
    names = {r['image/filename'].decode(): r for r in records}
    assert set(names) == {n for n, o in expected.items() if o != 'skipped'}
    for name, r in names.items():
        assert r['image/format'] == b'jpeg'
        assert r['image/class/label'] == (0 if name.startswith('cat/') else 1)
        assert r['image/class/text'] == name.split('/')[0].encode()
        decoded = tf.io.decode_jpeg(r['image/encoded'])
        assert decoded.shape.as_list() == [r['image/height'], r['image/width'], 3]
    # JPEG bytes of a good RGB JPEG are kept as they are.
    with open(os.path.join(src, 'dog/good_0.jpg'), 'rb') as f:
        assert names['dog/good_0.jpg']['image/encoded'] == f.read()
    assert json.load(open(os.path.join(out, 'dataset.json')))['num_skipped'] == 4


def test_split_is_deterministic_and_stratified():
    items = [(f'{c}{i}', c) for c in range(3) for i in range(20)]
    a = split_items(items, 3, 0.1, seed=7)
    b = split_items(items, 3, 0.1, seed=7)
    c = split_items(items, 3, 0.1, seed=8)
    assert a == b and a != c
    assert sorted(l for _, l in a['validation']) == [0, 0, 1, 1, 2, 2]


@pytest.mark.slow
def test_existing_output_needs_overwrite_and_cli_errors(tmp_path):
    src, out = str(tmp_path / 'images'), str(tmp_path / 'out')
    bad_image_folder(src, good_per_class=2)
    convert(src, out, workers=1, progress=False)
    with pytest.raises(DataError, match='--overwrite'):
        convert(src, out, workers=1, progress=False)
    convert(src, out, workers=1, progress=False, overwrite=True)
    r = run_cli(['jacktf.cli', 'convert', '--image_dir', src, '--output_dir', out])
    assert r.returncode == 2 and '--overwrite' in r.stderr
    r = run_cli(['jacktf.cli', 'convert', '--image_dir', str(tmp_path / 'nope'),
                 '--output_dir', str(tmp_path / 'o2')])
    assert r.returncode == 2 and 'is not a directory' in r.stderr
    r = run_cli(['jacktf.cli', 'convert', '--image_dir', src, '--output_dir',
                 str(tmp_path / 'o3'), '--workers', '2'])
    assert r.returncode == 0, r.stderr
    assert 'Wrote 8 images of 2 classes' in r.stdout and '4 skipped' in r.stdout


def test_operating_system_litter_is_never_a_class_or_an_image(tmp_path):
    src, out = str(tmp_path / 'images'), str(tmp_path / 'out')
    good_image_folder(src, per_class=3)
    litter = add_litter(src)
    info = convert(src, out, val_fraction=0, workers=1, progress=False)
    assert info['classes'] == ['cat', 'dog']
    assert open(os.path.join(out, 'labels.txt')).read().split() == ['cat', 'dog']
    assert info['num_files'] == 6 and info['num_written'] == 6 and info['skipped'] == []
    records = _records(os.path.join(out, '*.tfrecord'))
    assert sorted((r['image/filename'].decode(), r['image/class/label']) for r in records) \
        == [(f'{c}/good_{i}.jpg', label) for label, c in enumerate(['cat', 'dog'])
            for i in range(3)]
    assert not any(name in r['image/filename'].decode() for r in records for name in litter)


@pytest.mark.slow
def test_an_empty_class_folder_is_an_error_unless_allowed(tmp_path):
    src = str(tmp_path / 'images')
    good_image_folder(src, per_class=2)
    os.makedirs(os.path.join(src, 'birds'))
    with open(os.path.join(src, 'birds', 'Thumbs.db'), 'wb') as f:
        f.write(b'litter only')
    with pytest.raises(DataError) as e:
        convert(src, str(tmp_path / 'out'), workers=1, progress=False)
    assert str(e.value).startswith(f'Class folder {os.path.join(src, "birds")}/ has no '
                                   'usable image')
    assert 'pass --allow_empty_classes' in str(e.value)
    assert not os.path.exists(tmp_path / 'out')
    r = run_cli(['jacktf.cli', 'convert', '--image_dir', src, '--output_dir',
                 str(tmp_path / 'o1'), '--workers', '1'], timeout=120)
    assert r.returncode == 2 and 'birds' in r.stderr and '--allow_empty_classes' in r.stderr
    assert 'Traceback' not in r.stderr and not os.path.exists(tmp_path / 'o1')
    r = run_cli(['jacktf.cli', 'convert', '--image_dir', src, '--output_dir',
                 str(tmp_path / 'o2'), '--workers', '1', '--val_fraction', '0',
                 '--allow_empty_classes'], timeout=120)
    assert r.returncode == 0, r.stderr
    assert open(tmp_path / 'o2' / 'labels.txt').read().split() == ['birds', 'cat', 'dog']
    info = json.load(open(tmp_path / 'o2' / 'dataset.json'))
    assert info['empty_classes'] == ['birds'] and info['num_written'] == 4
    assert sorted(r['image/class/label'] for r in _records(str(tmp_path / 'o2' / '*.tfrecord'))) \
        == [1, 1, 2, 2]


def test_a_class_whose_files_are_all_unusable_is_an_error(tmp_path):
    src, out = str(tmp_path / 'images'), str(tmp_path / 'out')
    good_image_folder(src, per_class=2)
    os.makedirs(os.path.join(src, 'birds'))
    with open(os.path.join(src, 'birds', 'list.csv'), 'w') as f:
        f.write('not,an,image\n')
    with pytest.raises(DataError) as e:
        convert(src, out, workers=1, progress=False)
    assert 'birds/ has no usable image' in str(e.value)
    assert 'birds/list.csv: not an image (unrecognized format)' in str(e.value)
    assert not os.path.exists(out)
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.jacktf-convert-')]
