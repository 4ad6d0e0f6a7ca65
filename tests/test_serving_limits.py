"""Serving cannot be exhausted by one request: the declared image size is checked in the
graph against the limit saved with the export, and the REST helper turns bad JSON
(wrong types, out-of-range uint8, deep nesting, huge images) into its request error."""

import base64
import io
import json
import re
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from jacktf.serve import limits, rest


def png_header_only(width, height):
    """A 60-byte PNG whose header declares width x height (RGB 8-bit)."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data)))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
            chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))


def encoded(fmt, size=(6, 4), **options):
    out = io.BytesIO()
    Image.new('RGB', size, (200, 10, 10)).save(out, format=fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize('data,pixels', [
    (png_header_only(20000, 20000), 400_000_000),
    (encoded('PNG'), 24), (encoded('JPEG'), 24), (encoded('GIF'), 24), (encoded('BMP'), 24),
    (encoded('WEBP'), 24), (encoded('WEBP', lossless=True), 24),
    (encoded('WEBP', size=(16383, 3)), 16383 * 3),
], ids=['png-20000x20000', 'png', 'jpeg', 'gif', 'bmp', 'webp', 'webp-lossless',
        'webp-wide'])
def test_declared_pixels_of_every_served_format(data, pixels):
    assert int(limits.declared_pixels(tf.constant(data))) == pixels


def test_checked_decode_refuses_before_decoding_and_decodes_the_rest():
    with pytest.raises(tf.errors.InvalidArgumentError, match='400000000'):
        limits.checked_decode(tf.constant(png_header_only(20000, 20000)), 1_000_000)
    with pytest.raises(tf.errors.InvalidArgumentError, match='more than the limit'):
        limits.checked_decode(tf.constant(encoded('WEBP', size=(300, 300))), 10_000)
    image = limits.checked_decode(tf.constant(encoded('PNG')), 24)
    assert image.shape == (4, 6, 3) and image.numpy()[0, 0].tolist() == [200, 10, 10]


@pytest.fixture(scope='module')
def exported(tmp_path_factory, default_registry):
    """A tiny model's SavedModel with a 1 M pixel limit: (folder, signatures)."""
    from jacktf.core.model import Model
    from jacktf.serve import export
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=default_registry)
    model.build()
    folder = str(tmp_path_factory.mktemp('limits') / '1')
    export.write_saved_model(model, folder, class_names=['a', 'b'], max_pixels=1_000_000)
    loaded = tf.saved_model.load(folder)
    return loaded, loaded.signatures


@pytest.mark.slow
def test_serving_default_fails_a_request_declaring_20000x20000(exported):
    loaded, signatures = exported
    assert int(loaded.max_pixels.numpy()) == 1_000_000
    serve = signatures['serving_default']
    with pytest.raises(tf.errors.InvalidArgumentError, match='more than the limit'):
        serve(images=tf.constant([encoded('PNG'), png_header_only(20000, 20000)]))
    ok = serve(images=tf.constant([encoded('PNG'), encoded('WEBP', size=(999, 1000))]))
    assert ok['probabilities'].shape == (2, 2)
    body = json.dumps({'instances': [{'b64': base64.b64encode(
        png_header_only(20000, 20000)).decode()}]})
    with pytest.raises(rest.RequestError, match='400000000 pixels'):
        rest.predict(signatures, body)


def _b64(data):
    return {'b64': base64.b64encode(data).decode()}


class _Spec:
    """A stand-in concrete function: only its input signature is read by decode_request."""

    def __init__(self, **specs):
        self.structured_input_signature = ((), specs)


SIGNATURES = {'serving_default': _Spec(images=tf.TensorSpec([None], tf.string)),
              'predict_images': _Spec(images=tf.TensorSpec([None, None, None, 3],
                                                           tf.uint8))}


@pytest.mark.parametrize('body,message', [
    ({'instances': [_b64(png_header_only(20000, 20000))]},
     'declares 400000000 pixels, more than the limit of 40000000'),
    ({'instances': [123]}, "Input 'images' takes strings"),
    ({'instances': [None]}, "Input 'images' takes strings"),
    ({'signature_name': 'predict_images', 'instances': [[[[256, 0, 0]]]]},
     'uint8 values lie in 0..255; found 256'),
    ({'signature_name': 'predict_images', 'instances': [[[[-1, 0, 0]]]]},
     'found -1'),
    ({'signature_name': 'predict_images', 'instances': [[[[1.5, 0, 0]]]]},
     'whole numbers'),
    ({'signature_name': 'predict_images', 'instances': [[[['a', 0, 0]]]]},
     'whole numbers'),
    ({'signature_name': 'predict_images', 'instances': [[[[True, 0, 0]]]]},
     'whole numbers'),
    ({'signature_name': 'predict_images', 'instances': [[[[0, 0, 0]], [[0, 0]]]]},
     'is not a tensor of uint8'),
    ({'instances': 'x' * 3}, '"instances" must be a non-empty list'),
    ('[' * 100_000 + ']' * 100_000, 'nested deeper than'),
    ({'instances': [[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]}, 'nested deeper than'),
])
def test_rest_turns_bad_requests_into_its_request_error(body, message):
    body = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(rest.RequestError, match=re.escape(message)):
        rest.decode_request(body, SIGNATURES)


def test_rest_limit_can_be_given_and_images_within_it_pass():
    body = json.dumps({'instances': [_b64(encoded('PNG', size=(100, 100)))]})
    with pytest.raises(rest.RequestError, match='more than the limit of 9999'):
        rest.decode_request(body, SIGNATURES, max_pixels=9999)
    name, inputs, row = rest.decode_request(body, SIGNATURES, max_pixels=10_000)
    assert name == 'serving_default' and row and inputs['images'].shape == (1,)
    body = json.dumps({'signature_name': 'predict_images',
                       'instances': np.zeros((1, 2, 2, 3), int).tolist()})
    assert rest.decode_request(body, SIGNATURES)[1]['images'].dtype == tf.uint8
