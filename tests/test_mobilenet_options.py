"""MobileNet v2/v3 output_stride (atrous) and use_explicit_padding: the official options.

Neither may change a variable. output_stride caps every feature map at input/stride;
explicit padding gives SAME's sizes, and equals SAME numerically wherever SAME pads
symmetrically (odd inputs to every strided layer, e.g. 225 = 7 * 32 + 1).
"""

import gc

import numpy as np
import pytest
import tensorflow as tf

import jacktf
from conftest import read_endpoints, read_manifest


def _build(registry, backbone, size, **kwargs):
    model = jacktf.build_model(backbone, head='native', registry=registry,
                               image_size=size, **kwargs)
    model.build()
    return model


def _copy_weights(source, target):
    values = dict(zip(source.variable_names(), source.variables))
    for name, variable in zip(target.variable_names(), target.variables):
        variable.assign(values[name])


def _relative_gap(a, b):
    a, b = a.numpy(), b.numpy()
    return np.abs(a - b).max() / np.abs(a).max()


def _images(size):
    return tf.random.stateless_uniform([2, size, size, 3], [1, 2], -1.0, 1.0)


@pytest.mark.parametrize('backbone,manifest,output_stride', [
    ('mobilenet_v2', 'mobilenet_v2_1.0_224', 16),
    pytest.param('mobilenet_v2', 'mobilenet_v2_1.0_224', 8, marks=pytest.mark.heavy),
    pytest.param('mobilenet_v3_large', 'mobilenet_v3_large_1.0_224', 16,
                 marks=pytest.mark.heavy),
])
@pytest.mark.slow
def test_output_stride_caps_feature_maps_and_keeps_variables(default_registry, backbone,
                                                             manifest, output_stride):
    model = _build(default_registry, backbone, 224, output_stride=output_stride)
    shapes = {n: v.shape.as_list() for n, v in zip(model.variable_names(), model.variables)}
    assert shapes == read_manifest(f'{manifest}.vars.tsv')
    out = model.predict(tf.zeros([1, 224, 224, 3]))
    got = dict((k, v.shape.as_list()) for k, v in out['end_points'].items())
    expected, capped = {}, 0
    for name, shape in read_endpoints(f'{manifest}.endpoints.tsv'):
        if len(shape) == 4 and shape[1] > 1:  # feature maps; pooled 1x1 ones stay 1x1
            side = max(shape[1], 224 // output_stride)
            capped += side != shape[1]
            shape = [shape[0], side, side, shape[3]]
        expected[name] = shape
    assert got == expected
    assert capped >= 3  # the last stride-2 stage (or two) now keeps its resolution
    del model, out
    gc.collect()


def test_output_stride_32_is_the_plain_net_and_16_is_not(default_registry):
    plain = _build(default_registry, 'mobilenet_v2', 224)
    at_32 = _build(default_registry, 'mobilenet_v2', 224, output_stride=32)
    at_16 = _build(default_registry, 'mobilenet_v2', 224, output_stride=16)
    _copy_weights(plain, at_32)
    _copy_weights(plain, at_16)
    images = _images(224)
    reference = plain.predict(images)['logits']
    np.testing.assert_array_equal(at_32.predict(images)['logits'].numpy(),
                                  reference.numpy())
    assert _relative_gap(reference, at_16.predict(images)['logits']) > 1e-2


@pytest.mark.parametrize('backbone', ['mobilenet_v2', 'mobilenet_v3_small'])
def test_explicit_padding_gives_same_sizes_and_matches_symmetric_same(default_registry,
                                                                       backbone):
    plain = _build(default_registry, backbone, 224)
    explicit = _build(default_registry, backbone, 224, use_explicit_padding=True)
    assert explicit.variable_names() == plain.variable_names()
    _copy_weights(plain, explicit)
    for size in (224, 225):
        a, b = plain.predict(_images(size)), explicit.predict(_images(size))
        assert [(k, v.shape) for k, v in a['end_points'].items()] == \
            [(k, v.shape) for k, v in b['end_points'].items()]
        gap = _relative_gap(a['logits'], b['logits'])
        if size == 225:  # SAME pads every strided layer symmetrically: identical maths
            assert gap < 1e-4, gap
        else:  # SAME pads even inputs of strided layers only at the end
            assert gap > 1e-2, gap


def test_explicit_padding_with_output_stride_matches_same_atrous(default_registry):
    """Dilated layers pad by rate * (kernel - 1) / 2 on each side, as SAME does."""
    plain = _build(default_registry, 'mobilenet_v3_large', 225, output_stride=8)
    explicit = _build(default_registry, 'mobilenet_v3_large', 225, output_stride=8,
                      use_explicit_padding=True)
    _copy_weights(plain, explicit)
    a, b = plain.predict(_images(225)), explicit.predict(_images(225))
    assert a['end_points']['layer_16'].shape.as_list() == [2, 29, 29, 160]
    assert _relative_gap(a['logits'], b['logits']) < 1e-4


def test_odd_output_stride_is_refused(default_registry):
    with pytest.raises(ValueError, match='Output stride must be None, 1 or a multiple '
                                         'of 2, got 3'):
        _build(default_registry, 'mobilenet_v2', 224, output_stride=3)
