"""TensorFlow imported before jacktf: works until tf.keras is resolved, then a clear error."""

import os
import subprocess
import sys

import pytest

CASES = {
    'tensorflow first, tf.keras untouched': (
        'import tensorflow as tf\nfrom jacktf.backbones import mobilenet_v1\n'
        'tf.compat.v1.disable_eager_execution()\n'
        'x = tf.compat.v1.placeholder(tf.float32, [2, 224, 224, 3])\n'
        'logits, _ = mobilenet_v1.mobilenet_v1(x, num_classes=1001)\n'
        'print("OK", logits.shape, tf.keras.__name__)', 0, 'OK (2, 1001) tf_keras'),
    'Keras 3 already resolved': (
        'import tensorflow as tf\ntf.keras.__version__\nimport jacktf', 1,
        'Import jacktf before tensorflow'),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_import_order(case):
    code, status, text = CASES[case]
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       timeout=300, env={k: v for k, v in os.environ.items()
                                         if k != 'TF_USE_LEGACY_KERAS'})
    assert r.returncode == status, r.stderr[-2000:]
    assert text in r.stdout + r.stderr
