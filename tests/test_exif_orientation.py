"""A phone photo taken sideways (pixels stored as taken, an EXIF orientation tag saying
how to turn them) gets the same pixels, so the same answer, in every path a photo
enters: convert (image_check.inspect_image), the image-folder reader and predict
(image_check.exif_upright / predict.read_image)."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.data import image_check
from jacktf.serve import predict

def _upright():
    """A picture that no flip or turn maps onto itself: a gradient and a corner mark."""
    yy, xx = np.mgrid[0:48, 0:64]
    image = np.stack([xx * 4, yy * 5, (xx + yy) * 2], -1).astype(np.uint8)
    image[4:14, 4:20] = (255, 255, 255)
    return image


def _stored(orientation):
    """The stored pixels whose PIL exif_transpose is the upright picture."""
    upright = Image.fromarray(_upright())
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    return upright if orientation == 1 else upright.transpose(inverse[orientation])


def _jpeg(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    _stored(orientation).save(out, format='JPEG', quality=100, exif=exif.tobytes())
    return out.getvalue()


def _pixels(data):
    return tf.io.decode_image(data, channels=3, expand_animations=False).numpy() \
        .astype(np.float32)


@pytest.mark.parametrize('orientation', range(1, 9))
def test_every_exif_orientation_gives_the_upright_pixels_in_every_path(orientation,
                                                                        tmp_path):
    upright = _upright().astype(np.float32)
    path = tmp_path / f'o{orientation}.jpg'
    path.write_bytes(_jpeg(orientation))
    stored = _pixels(path.read_bytes())
    if orientation >= 5:
        assert stored.shape[:2] == (64, 48)  # stored sideways
    # convert
    info = image_check.inspect_image(str(path))
    assert info['ok'] and (info['height'], info['width']) == (48, 64)
    if orientation != 1:
        assert f'EXIF orientation {orientation} applied' in info['converted']
    # predict and the image-folder reader
    sent, note = predict.read_image(str(path))
    assert (note is None) == (orientation == 1)
    for data in (info['encoded'], sent, image_check.exif_upright(path.read_bytes())):
        got = _pixels(data)
        assert got.shape == upright.shape
        assert np.abs(got - upright).mean() < 3.0, orientation  # JPEG noise only


def test_the_image_folder_reader_turns_photos_upright(tmp_path):
    from jacktf.data import decoders
    for label in ('a', 'b'):
        (tmp_path / label).mkdir()
    (tmp_path / 'a' / 'upright.jpg').write_bytes(_jpeg(1))
    (tmp_path / 'b' / 'sideways.jpg').write_bytes(_jpeg(6))
    decode = decoders.image_folder()
    records = [decode(r) for _, _, r in decode.source(str(tmp_path))]
    first, second = (_pixels(r['encoded'].numpy()) for r in records)
    assert first.shape == second.shape == (48, 64, 3)
    assert np.abs(first - second).mean() < 3.0


def test_the_front_door_reads_photos_upright_and_only_turns_the_turned(tmp_path):
    from jacktf.data import decoders, sources, split_file
    for label in ('a', 'b'):
        (tmp_path / 'data' / label).mkdir(parents=True)
        (tmp_path / 'data' / label / 'upright.jpg').write_bytes(_jpeg(1))
    (tmp_path / 'data' / 'b' / 'sideways.jpg').write_bytes(_jpeg(6))
    source = sources.open_source(str(tmp_path / 'data'))
    kept, skipped, turned = sources.checked(source)
    assert turned == [os.path.join('b', 'sideways.jpg')]
    content, split = split_file.for_eval(source, kept, skipped, turned)
    path = str(tmp_path / 'split.json')
    split_file.write(path, content)
    decode = decoders.image_list()
    records = [decode(r) for _, _, r in decode.source([split_file.ref(path, split)])]
    pixels = [_pixels(r['encoded'].numpy()) for r in records]
    assert all(p.shape == (48, 64, 3) for p in pixels)
    assert max(np.abs(p - pixels[0]).mean() for p in pixels) < 3.0
