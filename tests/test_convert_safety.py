"""convert and predict take only what they should: the supported formats by content,
regular files of bounded size, a killed worker named, 16-bit grayscale at its brightness.

Every test that could hang before the fix runs under an alarm, so it fails instead.
"""

import contextlib
import io
import os
import signal

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.data import check_pool, converter, image_check
from jacktf.serve import predict
from data_factory import jpeg_bytes, random_image

EPS = (b'%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n%%EndComments\n'
       b'newpath 0 0 moveto 8 8 lineto stroke\nshowpage\n%%EOF\n')


@contextlib.contextmanager
def deadline(seconds):
    def fail(*_):
        raise TimeoutError(f'still running after {seconds} s (a hang)')
    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _saved(fmt, image, **options):
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _folder(root, extra):
    """cat/ and dog/ with 3 good JPEGs each, plus ``extra`` {relative name: bytes}."""
    rng = np.random.default_rng(0)
    for name in ('cat', 'dog'):
        os.makedirs(root / name)
        for i in range(3):
            (root / name / f'good_{i}.jpg').write_bytes(jpeg_bytes(random_image(rng)))
    for rel, data in extra.items():
        (root / rel).write_bytes(data)
    return root


def test_other_pillow_formats_are_never_opened_and_never_abort(tmp_path):
    dds = _saved('DDS', Image.new('RGB', (8, 8), (1, 2, 3)))
    extra = {'cat/drawing.jpg': EPS, 'cat/texture.jpg': dds,
             'cat/broken.dds': dds[:40] + b'\xff' * 20,
             'cat/spider.jpg': _saved('SPIDER', Image.new('F', (8, 8), 1.0)),
             'dog/icon.png': _saved('ICO', Image.new('RGB', (16, 16)))}
    src = _folder(tmp_path / 'images', extra)
    with deadline(120):
        info = converter.convert(str(src), str(tmp_path / 'out'), workers=1,
                                 progress=False)
    skipped = {s['file']: s['reason'] for s in info['skipped']}
    assert set(skipped) == set(extra)
    assert all(r.startswith('not an image (unrecognized format); jacktf reads JPEG')
               for r in skipped.values()), skipped
    assert info['num_written'] == 6


def test_eps_named_jpg_does_not_start_ghostscript(tmp_path, monkeypatch):
    import subprocess
    started = []
    monkeypatch.setattr(subprocess, 'Popen', lambda *a, **k: started.append(a))
    monkeypatch.setattr(subprocess, 'check_call', lambda *a, **k: started.append(a))
    path = tmp_path / 'photo.jpg'
    path.write_bytes(EPS)
    assert image_check.inspect_image(str(path))['reason'].startswith('not an image')
    with pytest.raises(predict.UnreadableImage, match='not an image'):
        predict.read_image(str(path))
    assert started == []


def test_fifo_and_a_link_to_dev_zero_are_skipped_at_once(tmp_path):
    src = _folder(tmp_path / 'images', {})
    os.mkfifo(src / 'cat' / 'pipe.jpg')
    os.symlink('/dev/zero', src / 'dog' / 'zero.jpg')
    with deadline(60):
        info = converter.convert(str(src), str(tmp_path / 'out'), workers=2,
                                 progress=False)
        with pytest.raises(predict.UnreadableImage, match='not a regular file'):
            predict.read_image(str(src / 'cat' / 'pipe.jpg'))
    skipped = {s['file']: s['reason'] for s in info['skipped']}
    assert set(skipped) == {os.path.join('cat', 'pipe.jpg'), os.path.join('dog', 'zero.jpg')}
    assert all(r.startswith('not a regular file') for r in skipped.values())
    assert info['num_written'] == 6


def test_a_file_over_the_byte_cap_is_skipped_unread(tmp_path):
    big = jpeg_bytes(random_image(np.random.default_rng(1), 200, 200))
    src = _folder(tmp_path / 'images', {'cat/big.jpg': big})
    info = converter.convert(str(src), str(tmp_path / 'out'), workers=1, progress=False,
                             max_bytes=len(big) - 1)
    assert info['skipped'] == [{'file': os.path.join('cat', 'big.jpg'), 'reason':
                                f'file too large: {len(big)} bytes exceeds the limit of '
                                f'{len(big) - 1}'}]


def killing_check(args):
    """converter.check_file, except that the worker checking boom.jpg dies (SIGKILL), as
    under the OOM killer."""
    if args[0].endswith('boom.jpg'):
        os.kill(os.getpid(), signal.SIGKILL)
    return converter.inspect_for_test(args)


def test_a_killed_worker_ends_convert_naming_the_file(tmp_path, monkeypatch):
    src = _folder(tmp_path / 'images', {})
    (src / 'dog' / 'boom.jpg').write_bytes((src / 'dog' / 'good_0.jpg').read_bytes())
    monkeypatch.setattr(converter, 'inspect_for_test', converter.check_file, raising=False)
    monkeypatch.setattr(converter, 'check_file', killing_check)
    with deadline(120), pytest.raises(check_pool.WorkerKilled) as info:
        converter.convert(str(src), str(tmp_path / 'out'), workers=2, progress=False)
    assert str(info.value).startswith(str(src / 'dog' / 'boom.jpg') + ': the process')
    assert not os.path.exists(tmp_path / 'out')


def test_workers_are_capped_by_memory():
    gib = 1 << 30
    assert check_pool.memory_capped_workers(8, 100_000_000, 256 << 20, memory=2 * gib) == 1
    assert check_pool.memory_capped_workers(8, 10_000_000, 16 << 20, memory=2 * gib) == 7
    assert check_pool.memory_capped_workers(2, 1_000_000, 1 << 20, memory=64 * gib) == 2


@pytest.mark.parametrize('fmt', ['PNG', 'TIFF'])
def test_sixteen_bit_grayscale_keeps_its_brightness(tmp_path, fmt):
    values = np.full((16, 24), 32768, np.uint16)
    values[:, 12:] = 8192  # two halves: 128 and 32 after >> 8
    data = _saved(fmt, Image.fromarray(values))
    src = _folder(tmp_path / 'images', {f'cat/gray16.{fmt.lower()}': data})
    info = converter.convert(str(src), str(tmp_path / 'out'), workers=1, progress=False,
                             val_fraction=0)
    assert info['num_written'] == 7
    shards = [str(p) for p in sorted((tmp_path / 'out').glob('train-*'))]
    record = next(r for r in tf.data.TFRecordDataset(shards) if b'gray16' in r.numpy())
    features = tf.io.parse_single_example(record, {
        'image/encoded': tf.io.FixedLenFeature([], tf.string)})
    pixels = tf.io.decode_jpeg(features['image/encoded']).numpy().astype(int)
    # Whole 8x8 JPEG blocks away from the edge between the halves are exact.
    assert set(pixels[:, :8].ravel()) == {128} and set(pixels[:, 16:].ravel()) == {32}
    encoded, _ = predict.read_image(str(src / 'cat' / f'gray16.{fmt.lower()}'))
    served = predict.decode(encoded).astype(int)
    assert served[0, 0].tolist() == [128, 128, 128] and served[0, 20].tolist() == [32] * 3
