"""The input check a run makes before it writes anything (jacktf.data.preflight)."""

import gzip
import logging
import os

import numpy as np
import pytest

from jacktf.core.errors import DataError
from jacktf.data import preflight
from jacktf.data.decoders import image_folder, tfexample_classification
from data_factory import (example_bytes, good_image_folder, jpeg_bytes, random_image,
                          write_records)


def _jpeg(seed=0):
    return jpeg_bytes(random_image(np.random.default_rng(seed)))


def _check(pattern, decoder=None, setting='TRAIN_FILES'):
    return preflight.check_input(pattern, decoder or tfexample_classification(),
                                 setting=setting, decoder='tfexample_classification')


@pytest.mark.parametrize('features,missing,fixes', [
    ({'image': _jpeg(), 'label': 1}, ['image/encoded', 'image/class/label'],
     ["tfexample_classification.image_key = 'image'",
      "tfexample_classification.label_key = 'label'"]),
    ({'image_raw': _jpeg(), 'image/class/label': 0, 'height': 40}, ['image/encoded'],
     ["tfexample_classification.image_key = 'image_raw'"]),
    ({'image/encoded': _jpeg(), 'image/class/text': b'cat'}, ['image/class/label'],
     ['tfexample_classification.label_key = <your key>']),
])
def test_records_with_other_keys_name_file_missing_keys_and_fix(tmp_path, features, missing,
                                                                fixes):
    path = str(tmp_path / 'train-00000-of-00001.tfrecord')
    write_records(path, [example_bytes(features)] * 3)
    with pytest.raises(DataError) as e:
        _check(path)
    message = str(e.value)
    assert message.startswith(f'TRAIN_FILES: {path} cannot be read by the decoder '
                              "'tfexample_classification'")
    for key in missing:
        assert f'no feature {key!r}' in message
    for key in features:  # the keys the records do have
        assert key in message.split('Its first record has the features ')[1]
    assert 'Experiment.decoder = @tfexample_classification' in message
    for fix in fixes:
        assert fix in message
    assert 'never get a batch' in message


def test_a_feature_of_the_wrong_type_is_named(tmp_path):
    path = str(tmp_path / 'f.tfrecord')
    write_records(path, [example_bytes({'image/encoded': _jpeg(),
                                        'image/class/label': 1.0})])
    with pytest.raises(DataError, match=r"its feature 'image/class/label' holds float "
                                        r"values, but 'image/class/label' must hold"):
        _check(path)


def test_raw_pixel_bytes_are_described(tmp_path):
    path = str(tmp_path / 'raw.tfrecord')
    write_records(path, [example_bytes({'image_raw': bytes(40 * 48 * 3), 'label': 0})])
    with pytest.raises(DataError) as e:
        _check(path)
    assert 'image_raw (bytes)' in str(e.value) and 'label (int64)' in str(e.value)


def test_only_empty_files_is_an_error_naming_them(tmp_path):
    path = tmp_path / 'train-00000-of-00001.tfrecord'
    path.write_bytes(b'')
    with pytest.raises(DataError) as e:
        _check(str(path))
    assert 'every file is empty (0 bytes)' in str(e.value) and str(path) in str(e.value)


def test_an_empty_file_among_others_is_a_warning(tmp_path, caplog):
    empty = tmp_path / 'train-00000-of-00002.tfrecord'
    empty.write_bytes(b'')
    write_records(str(tmp_path / 'train-00001-of-00002.tfrecord'),
                  [dict(encoded=_jpeg(), image_format='jpeg', label=0)])
    with caplog.at_level(logging.WARNING, logger='jacktf'):
        files = _check(str(tmp_path / 'train-*.tfrecord'))
    assert len(files) == 2
    assert f'TRAIN_FILES: {empty} is empty (0 bytes)' in caplog.text


@pytest.mark.parametrize('setting', ['TRAIN_FILES', 'EVAL_FILES'])
def test_an_image_folder_for_a_tfrecord_decoder_gives_both_fixes(tmp_path, setting):
    root = good_image_folder(str(tmp_path / 'pets'))
    with pytest.raises(DataError) as e:
        _check(root, setting=setting)
    message = str(e.value)
    assert message.startswith(f"{setting} = '{root}' is a folder, but the decoder "
                              "'tfexample_classification' reads TFRecord files. It is an "
                              'image folder: 6 images in the class folders cat, dog.')
    assert f'`jacktf convert --image_dir {root} --output_dir {root}_tfrecord`' in message
    assert f"set {setting} = '{root}_tfrecord/train-*.tfrecord'" in message
    assert "Experiment.decoder = 'image_folder'" in message


def test_a_folder_of_tfrecords_suggests_the_glob(tmp_path):
    write_records(str(tmp_path / 'a.tfrecord'),
                  [dict(encoded=_jpeg(), image_format='jpeg', label=0)])
    with pytest.raises(DataError, match=r"It holds 1 TFRecord files: set TRAIN_FILES = "
                                        r"'.*/\*\.tfrecord'"):
        _check(str(tmp_path))


def test_a_converted_folder_suggests_the_split_not_every_shard(tmp_path):
    for name in ('train-00000-of-00002.tfrecord', 'train-00001-of-00002.tfrecord',
                 'validation-00000-of-00001.tfrecord'):
        write_records(str(tmp_path / name),
                      [dict(encoded=_jpeg(), image_format='jpeg', label=0)])
    with pytest.raises(DataError, match=r"3 TFRecord files \(2 of the train split\): set "
                                        r"TRAIN_FILES = '.*/train-\*\.tfrecord'"):
        _check(str(tmp_path))


@pytest.mark.parametrize('content,expected', [
    (_jpeg(), 'is not a TFRecord file: it is a JPEG image. Give the folder'),
    (gzip.compress(b'x' * 100), 'is not a TFRecord file: it is a gzip file. Decompress it'),
    (b'label,path\n0,a.jpg\n', 'is not a TFRecord file: its first bytes are not a '
                               'TFRecord header'),
])
def test_files_that_are_not_tfrecords(tmp_path, content, expected):
    path = tmp_path / 'x.tfrecord'
    path.write_bytes(content)
    with pytest.raises(DataError) as e:
        _check(str(path))
    assert str(e.value).startswith(f'TRAIN_FILES: {path} ') and expected in str(e.value)


def test_a_cut_off_file_is_found_by_its_framing(tmp_path):
    path = str(tmp_path / 'cut.tfrecord')
    write_records(path, [dict(encoded=_jpeg(i), image_format='jpeg', label=0)
                         for i in range(3)])
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:-100])
    found = preflight.find_damaged([path])
    assert found[0] == path and 'it is cut off: record 2 needs' in found[1]
    assert preflight.find_damaged([str(tmp_path / 'nope')])[1].startswith('it cannot')
    open(path, 'wb').write(data)
    assert preflight.find_damaged([path]) is None


def test_good_records_pass_and_reading_stops_at_the_first_record(tmp_path):
    path = str(tmp_path / 'good.tfrecord')
    write_records(path, [dict(encoded=_jpeg(i), image_format='jpeg', label=i % 2)
                         for i in range(4)] + [b'not an example at all'])
    assert _check(path) == [path]


def test_image_folder_decoder_checks_its_folder(tmp_path):
    root = good_image_folder(str(tmp_path / 'pets'))
    assert preflight.check_input(root, image_folder(), decoder='image_folder') == [root]
    os.makedirs(os.path.join(root, 'birds'))
    with pytest.raises(DataError) as e:
        preflight.check_input(root, image_folder(), decoder='image_folder')
    assert str(e.value).startswith(f"TRAIN_FILES = '{root}': Class folder "
                                   f'{os.path.join(root, "birds")}/ has no usable image')
    assert 'image_folder.allow_empty_classes = True' in str(e.value)
    assert preflight.check_input(root, image_folder(allow_empty_classes=True)) == [root]
    with pytest.raises(DataError, match='It holds 3 images directly: give the folder '
                                        'above it'):
        preflight.check_input(os.path.join(root, 'cat'), image_folder())
    with pytest.raises(DataError, match='matched 2 paths'):
        preflight.check_input(os.path.join(root, '[cd]*'), image_folder())


def test_many_files_are_sampled_and_all_empty_is_still_caught(tmp_path):
    files = [tmp_path / f'train-{i:05d}-of-00070.tfrecord' for i in range(70)]
    for f in files:
        f.write_bytes(b'')
    pattern = str(tmp_path / 'train-*.tfrecord')
    with pytest.raises(DataError, match='every file is empty'):
        _check(pattern)
    unsampled = [f for f in files if str(f) not in preflight._spread(
        [str(f) for f in files], preflight.MAX_FILES)]
    assert unsampled
    write_records(str(unsampled[0]), [dict(encoded=_jpeg(), image_format='jpeg', label=0)])
    assert len(_check(pattern)) == 70
