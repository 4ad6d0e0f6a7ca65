"""Near-duplicates: planted copies are found, distinct photos are not linked, groups stay on
one side of the split, label conflicts stop `jacktf convert` (exit 2) unless allowed."""

import io
import json
import os
import types

import numpy as np
import pytest
from PIL import Image

from jacktf import cli
from jacktf.core.errors import DataError
from jacktf.data import counts, near_duplicates as nd
from jacktf.data.converter import convert, split_items
from jacktf.train import data_plan


def _photo(seed, size=96):
    """A photo-like image: smooth random structure at three scales (no two alike)."""
    rng = np.random.default_rng(seed)
    out = np.zeros([size, size, 3])
    for cells, weight in ((3, 1.0), (6, 0.6), (12, 0.3)):
        coarse = Image.fromarray(rng.integers(0, 256, [cells, cells, 3], dtype=np.uint8))
        out += weight * np.asarray(coarse.resize((size, size), Image.BICUBIC), np.float64)
    return Image.fromarray(np.clip(out / 1.9, 0, 255).astype(np.uint8))


def _jpeg(image, quality):
    buffer = io.BytesIO()
    image.save(buffer, format='JPEG', quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert('RGB')


def _copies(image):
    w, h = image.size
    return [image.resize((w // 2, h // 2), Image.BILINEAR), _jpeg(image, 30),
            _jpeg(image, 90), image.crop((2, 1, w - 2, h - 2))]  # <= 5% cropped


def test_planted_copies_are_found_and_distinct_photos_are_not_linked():
    photos = [_photo(s) for s in range(24)]
    copies = [c for p in photos[:6] for c in _copies(p)]
    hashes = nd.hash_images(photos + copies)
    assert hashes.shape == (48, 64) and hashes.dtype == np.uint8  # phash + dhash
    labels = list(range(24)) + [i // 4 for i in range(24)]
    report = nd.find_groups(hashes, labels)
    ids = nd.group_ids(report)
    for k in range(24):  # every copy is in its original's group
        assert ids[24 + k] == ids[k // 4]
    assert len(set(ids[:24])) == 24  # no two distinct photos share a group
    assert report.counts() == {'groups': 6, 'images_in_groups': 30, 'within_class': 6,
                               'conflicts': 0, 'leaks': 0}


def test_mirror_symmetric_noise_is_not_a_near_duplicate():
    """Half of the DCT hash of a mirror-symmetric image is fixed, so it alone links such
    distinct images; the gradient hash that confirms each pair does not."""
    rng = np.random.default_rng(0)
    images = []
    for k in range(20):
        low, high = (165, 256) if k % 2 else (0, 91)
        image = rng.integers(low, high, (32, 32, 3), dtype=np.uint8)
        image[:, 16:] = image[:, :16][:, ::-1]
        images.append(image)
    hashes = nd.hash_images(images)
    assert len(nd.near_pairs(hashes[:, :32], nd.DEFAULT_MAX_DISTANCE)) > 20  # DCT hash alone
    assert nd.find_groups(hashes, [k % 2 for k in range(20)]).groups == []


def test_conflicts_leaks_and_group_ids_with_a_csv_group_column():
    a, b, c = _photo(1), _photo(2), _photo(3)
    images = [a, _jpeg(a, 50), b, _jpeg(b, 50), c, c.resize((48, 48))]
    labels = ['cat', 'cat', 'cat', 'dog', 'dog', 'dog']
    splits = ['train', 'validation', 'train', 'train', 'train', 'train']
    report = nd.find_groups(nd.hash_images(images), labels, splits)
    assert report.groups == [[0, 1], [2, 3], [4, 5]]
    assert report.within_class == [0, 2] and report.conflicts == [1] and report.leaks == [0]
    assert report.leaked_images(splits, 'validation') == [1]
    found = report.to_json([f'f{i}.jpg' for i in range(6)], labels, splits)
    assert found['conflict_groups'] == [[{'file': 'f2.jpg', 'label': 'cat', 'split': 'train'},
                                         {'file': 'f3.jpg', 'label': 'dog', 'split': 'train'}]]
    assert 'WARNING: 1 groups' in '\n'.join(nd.describe(found))
    # A CSV group column joins images 1 and 2 (and so their groups); '' is no group.
    ids = nd.group_ids(report, extra=['', 'p1', 'p1', None, '', ''])
    assert ids[0] == ids[1] == ids[2] == ids[3] and ids[4] == ids[5] != ids[0]


def test_a_grouped_split_keeps_each_group_on_one_side():
    items = [(i, i % 2) for i in range(40)]
    groups = [i // 4 for i in range(40)]  # ten groups of four (two of each class)
    for seed in range(5):
        splits = split_items(items, 2, 0.3, seed, groups=groups)
        side = {i: s for s, members in splits.items() for i, _ in members}
        assert len(side) == 40
        for g in range(10):
            assert len({side[i] for i in range(40) if groups[i] == g}) == 1
        assert 8 <= len(splits['validation']) <= 16
    # Without groups, the split is the per-file stratified split it always was.
    plain = split_items(items, 2, 0.25, 0)
    assert len(plain['validation']) == 10 and len(plain['train']) == 30


def _folder(root, conflict):
    for k, name in enumerate(['cat', 'dog']):
        os.makedirs(root / name)
        for i in range(6):
            _photo(100 * k + i).save(root / name / f'{i}.png')
    burst = _photo(7)  # a burst of three near-identical cat photos
    for i, q in enumerate((95, 60, 40)):
        _jpeg(burst, q).save(root / 'cat' / f'burst_{i}.jpg', quality=95)
    if conflict:
        _jpeg(_photo(3), 70).save(root / 'dog' / 'cat3_again.jpg')


def test_convert_keeps_a_burst_on_one_side_and_lists_it(tmp_path):
    _folder(tmp_path / 'images', conflict=False)
    info = convert(str(tmp_path / 'images'), str(tmp_path / 'out'), val_fraction=0.5,
                   num_shards=1, workers=1, progress=False)
    found = info['near_duplicates']
    assert (found['groups'], found['within_class'], found['conflicts'], found['leaks']) == \
        (1, 1, 0, 0)
    members = found['within_class_groups'][0]
    assert sorted(m['file'] for m in members) == [f'cat/burst_{i}.jpg' for i in range(3)]
    assert len({m['split'] for m in members}) == 1
    with open(tmp_path / 'out' / 'dataset.json') as f:
        assert json.load(f)['near_duplicates'] == found
    assert info['num_written'] == 15
    # The run's start line gives the counts from dataset.json.
    shards = sorted(str(p) for p in (tmp_path / 'out').glob('train-*'))
    plan = data_plan.DataPlan(counts.from_dataset_json(shards), None, None)
    trainer = types.SimpleNamespace(class_weights=None, train_steps=10)
    assert data_plan.describe(plan, trainer).endswith(
        'near-duplicates 1 groups (0 across classes, 0 across splits)')


def test_a_label_conflict_stops_convert_unless_allowed(tmp_path, capsys):
    _folder(tmp_path / 'images', conflict=True)
    src, out = str(tmp_path / 'images'), str(tmp_path / 'out')
    with pytest.raises(DataError, match=r"cat/3.png \(cat\) = dog/cat3_again.jpg \(dog\)"):
        convert(src, out, workers=1, progress=False)
    assert not os.path.exists(out)
    args = ['convert', '--image_dir', src, '--output_dir', out, '--workers', '1']
    assert _exit_code(args) == 2
    assert '--allow_conflicts' in capsys.readouterr().err
    assert _exit_code(args + ['--allow_conflicts']) == 0
    printed = capsys.readouterr().out
    assert 'near-duplicates: 2 groups of 5 images (1 within a class, 1 across classes' \
        in printed
    assert 'label conflict: ' in printed and 'cat3_again.jpg (dog' in printed


def _exit_code(args):
    try:
        return cli.main(args)
    except SystemExit as e:
        return e.code


def test_the_validation_accuracy_without_the_leaked_images(tmp_path):
    from jacktf.evaluation.evaluate import EvalResult, without_leaked
    groups = [[{'file': 'cat/a.jpg', 'label': 'cat', 'split': 'train'},
               {'file': 'cat/a_copy.jpg', 'label': 'cat', 'split': 'validation'}],
              [{'file': 'dog/b.jpg', 'label': 'dog', 'split': 'validation'},
               {'file': 'dog/b2.jpg', 'label': 'dog', 'split': 'train'}]]
    (tmp_path / 'dataset.json').write_text(json.dumps(
        {'near_duplicates': {'leak_groups': groups}}))
    shards = [str(tmp_path / f'validation-0000{i}-of-00002.tfrecord') for i in range(2)]
    leaked = nd.leaked_files(shards)
    assert leaked == {'cat/a_copy.jpg', 'dog/b.jpg'}
    assert nd.leaked_files([str(tmp_path / 'train-00000-of-00001.tfrecord')]) == \
        {'cat/a.jpg', 'dog/b2.jpg'}
    # Four eval images: the two leaked ones are right, of the other two one is right.
    result = EvalResult({}, {}, None, [], labels=np.array([0, 1, 0, 1]),
                        probabilities=np.array([[.9, .1], [.2, .8], [.3, .7], [.1, .9]]),
                        filenames=np.array(['cat/a_copy.jpg', 'dog/b.jpg', 'cat/c.jpg',
                                            'dog/d.jpg']))
    assert without_leaked(result, leaked) == {'leaked_images': 2,
                                              'examples_without_leaked': 2,
                                              'accuracy_without_leaked': 0.5}
    assert without_leaked(result, set()) is None


def _scan(rng):
    """A digit-scan-like image: a few dark strokes on an 8x8 grid, upscaled to 32x32 on
    light paper (images of one kind and layout, close together in hash space)."""
    grid = np.zeros([8, 8])
    for _ in range(3):
        r, c = rng.integers(1, 7, 2)
        dr, dc = rng.integers(-1, 2, 2)
        for k in range(4):
            grid[np.clip(r + k * dr, 0, 7), np.clip(c + k * dc, 0, 7)] = 16
    small = Image.fromarray((grid * 255 / 16).astype(np.uint8))
    return Image.fromarray(255 - np.asarray(small.resize((32, 32), Image.BILINEAR)))


def test_scans_of_one_kind_are_not_linked_but_their_copies_are():
    """Fixed photo thresholds link distinct scans across classes (a false label conflict
    that would stop `jacktf convert`); thresholds capped by the data's spread do not,
    and still find re-saved and resized copies."""
    rng = np.random.default_rng(0)
    scans = [_scan(rng) for _ in range(200)]
    copies = [_jpeg(scans[i].convert('RGB'), 90) for i in range(10)] + \
        [scans[i].resize((64, 64), Image.BILINEAR) for i in range(10, 20)]
    hashes = nd.hash_images(scans + copies)
    labels = [k % 10 for k in range(200)] + [k % 10 for k in range(20)]
    fixed = nd.find_groups(hashes, labels, relative=False)
    assert fixed.conflicts  # the fixture shows the fault
    report = nd.find_groups(hashes, labels)
    assert report.max_distance < nd.DEFAULT_MAX_DISTANCE
    assert report.conflicts == []
    ids = nd.group_ids(report)
    assert all(ids[i] == ids[200 + i] for i in range(20))
