"""Google's real MobileNet v1 0.25 ImageNet weights classify real photos (local check).

Skips when ../shared/fixtures/real is absent (CI of users' clones)."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import jacktf
from conftest import ROOT

REAL = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures', 'real')
pytestmark = pytest.mark.skipif(not os.path.isdir(REAL), reason='no real weights here')


@pytest.fixture(scope='module')
def model(default_registry):
    m = jacktf.build_model('mobilenet_v1_025', head='native', registry=default_registry)
    report = jacktf.restore_from_checkpoint(
        m, os.path.join(REAL, 'mobilenet_v1_0.25_224.ckpt'))
    assert len(report.restored) == 137 and report.ok
    return m


def _top3(model, name):
    image = Image.open(os.path.join(REAL, name)).convert('RGB').resize((224, 224),
                                                                      Image.BILINEAR)
    x = np.asarray(image, np.float32)[None] / 127.5 - 1.0
    probs = model.postprocess(model.predict(tf.constant(x))['logits'])['probabilities']
    probs = probs.numpy()[0]
    top = np.argsort(-probs)[:3]
    return [(int(i), float(probs[i])) for i in top]


def test_cat_and_parrot(model):
    cat = _top3(model, 'chelsea.png')
    parrot = _top3(model, 'parrot.jpg')
    print('chelsea', cat, 'parrot', parrot)
    assert cat[0][0] in (282, 283, 286)
    assert parrot[0][0] == 89 and parrot[0][1] > 0.8
