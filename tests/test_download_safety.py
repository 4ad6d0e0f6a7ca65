"""Archives cannot escape, downloads cannot lie (jacktf.pretrained: archive, fetch, values).

A real HTTP server on 127.0.0.1 (test_zoo's Mirror) serves archives this file writes:
hostile layouts, oversized ones, random weights under the right names; nothing leaves
this machine.
"""

import io
import json
import logging
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import tensorflow as tf

from jacktf.pretrained import archive as archive_lib
from jacktf.pretrained import builtin, cache, fetch, values, zoo
from test_zoo import (SHIPPED, V1_DIR, Mirror, download, env, files_under,  # noqa: F401
                      free_port, mirror, pack_shipped)
from conftest import ROOT

ARCHIVE = f'{V1_DIR}/mobilenet_v1_0.25_224.tgz'
PREFIX = 'mobilenet_v1_0.25_224.ckpt'


def _add_bytes(tar, name, data=b'pwned\n', kind=tarfile.REGTYPE, link=''):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _hostile(path, extra):
    """The shipped checkpoint plus the hostile members ``extra`` [(name, kind, link)]."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tarfile.open(path, 'w:gz') as tar:
        for name in sorted(os.listdir(SHIPPED)):
            tar.add(os.path.join(SHIPPED, name), arcname=f'./{name}')
        for name, kind, link in extra:
            _add_bytes(tar, name, kind=kind, link=link)


@pytest.mark.parametrize('extra', [
    [('../escaped.ckpt.index', tarfile.REGTYPE, '')],
    [('/tmp/jacktf-escaped.ckpt', tarfile.REGTYPE, '')],
    [('./sub/../../escaped.ckpt', tarfile.REGTYPE, '')],
    [('x.ckpt.index', tarfile.SYMTYPE, '/etc/passwd')],
    # CVE-2025-4517 style: a link to a folder above, then a file written through it.
    [('up', tarfile.SYMTYPE, '..'), ('up/escaped.ckpt', tarfile.REGTYPE, '')],
    [('hard.ckpt', tarfile.LNKTYPE, '../../escaped')],
    [('fifo.ckpt', tarfile.FIFOTYPE, '')],
])
def test_an_archive_that_escapes_or_links_is_refused(mirror, capsys, extra):
    _hostile(mirror.root / ARCHIVE, extra)
    code, _, err = download(capsys, 'mobilenet_v1_025')
    assert code == 2 and 'refused' in err and mirror.url in err, err
    assert 'Traceback' not in err
    assert files_under(cache.pretrained_dir()) == []
    assert not os.path.exists('/tmp/jacktf-escaped.ckpt')
    outside = [f for f in files_under(mirror.root.parent) if 'escaped' in f]
    assert outside == []


def test_only_the_checkpoint_files_are_written(mirror, capsys):
    _hostile(mirror.root / ARCHIVE, [('./run_me.sh', tarfile.REGTYPE, ''),
                                     ('./sub/', tarfile.DIRTYPE, '')])
    code, _, err = download(capsys, 'mobilenet_v1_025')
    assert code == 0, err
    assert files_under(cache.entry_dir('mobilenet_v1_025')) == sorted(
        [cache.METADATA, f'{PREFIX}.data-00000-of-00001', f'{PREFIX}.index'])


def test_extracted_and_downloaded_bytes_are_capped(mirror, capsys, monkeypatch):
    pack_shipped(mirror.root / ARCHIVE)
    monkeypatch.setattr(archive_lib, 'MAX_EXTRACTED_BYTES', 100_000)
    code, _, err = download(capsys, 'mobilenet_v1_025')
    assert code == 2 and 'more than 100000 bytes' in err
    assert files_under(cache.pretrained_dir()) == []
    monkeypatch.setattr(archive_lib, 'MAX_EXTRACTED_BYTES', 1 << 30)
    monkeypatch.setattr(fetch, 'MAX_DOWNLOAD_BYTES', 50_000)
    code, _, err = download(capsys, 'mobilenet_v1_025')
    assert code == 2 and 'passed 50000 bytes' in err
    assert files_under(cache.pretrained_dir()) == []


def test_every_zoo_url_is_https():
    assert [e.name for e in zoo.ZOO.values() if not e.url.startswith('https://')] == []


def test_mirror_credentials_never_reach_logs_messages_or_metadata(mirror, capsys, caplog,
                                                                monkeypatch):
    pack_shipped(mirror.root / ARCHIVE)
    port = mirror.url.rsplit(':', 1)[1]
    monkeypatch.setenv(fetch.MIRROR_ENV, f'http://alice:s3cr%2Fet@127.0.0.1:{port}/?tok=XYZ9')
    caplog.set_level(logging.INFO, logger='jacktf')
    code, out, err = download(capsys, 'mobilenet_v1_025')
    assert code == 0, err
    meta = open(os.path.join(cache.entry_dir('mobilenet_v1_025'), cache.METADATA)).read()
    assert json.loads(meta)['url'].startswith('http://***:***@127.0.0.1')
    for text in (meta, out, err, caplog.text):
        assert 's3cr' not in text and 'alice' not in text and 'XYZ9' not in text
    monkeypatch.setenv(fetch.MIRROR_ENV, f'http://alice:s3cret@127.0.0.1:{free_port()}')
    code, out, err = download(capsys, 'resnet_v1_50')  # nobody there: the error message
    assert code == 2 and '127.0.0.1' in err
    assert 's3cret' not in err + out + caplog.text and 'alice' not in err + out


def _save(folder, tensors):
    """An official-format (V2) checkpoint of ``tensors`` {name: array} at folder/PREFIX."""
    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(n, initializer=v) for n, v in tensors.items()]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(variables).save(
                sess, os.path.join(folder, PREFIX), write_meta_graph=False,
                write_state=False)
    return os.path.join(folder, PREFIX)


def _shipped_tensors():
    reader = tf.train.load_checkpoint(builtin.BUILTIN['mobilenet_v1_025'].prefix)
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def _random_like(tensors):
    """Freshly initialized values under the same names: the state of a net never trained."""
    rng = np.random.default_rng(0)
    out = {}
    for name, value in tensors.items():
        if name.endswith('moving_variance'):
            out[name] = np.ones_like(value)
        elif name.endswith(('moving_mean', 'beta', 'biases')):
            out[name] = np.zeros_like(value)
        elif name.endswith('gamma'):
            out[name] = np.ones_like(value)
        else:
            out[name] = rng.normal(0, 0.09, value.shape).astype(value.dtype)
    return out


def _serve(tmp_path, mirror, tensors):
    folder = tmp_path / 'ckpt'
    folder.mkdir()
    _save(str(folder), tensors)
    archive = mirror.root / ARCHIVE
    os.makedirs(archive.parent, exist_ok=True)
    with tarfile.open(archive, 'w:gz') as tar:
        for name in sorted(os.listdir(folder)):
            tar.add(folder / name, arcname=f'./{name}')


def test_the_zoo_fingerprint_is_that_of_the_shipped_weights():
    entry = zoo.get('mobilenet_v1_025')
    prefix = builtin.BUILTIN['mobilenet_v1_025'].prefix
    assert values.fingerprint(prefix, sorted(entry.fingerprint)) == entry.fingerprint
    assert values.check_trained(prefix) == '54 batch-norm statistics'


def test_random_weights_with_the_right_names_are_refused(mirror, capsys, tmp_path):
    _serve(tmp_path, mirror, _random_like(_shipped_tensors()))
    code, _, err = download(capsys, 'mobilenet_v1_025')
    assert code == 2 and 'not the published ones' in err and 'Logits' in err
    assert files_under(cache.pretrained_dir()) == []


def test_untrained_values_are_refused_without_a_fingerprint(mirror, capsys, tmp_path,
                                                            monkeypatch):
    entry = zoo.get('mobilenet_v1_025')
    monkeypatch.setitem(zoo.ZOO, entry.name, zoo.dataclasses.replace(entry, fingerprint=None))
    _serve(tmp_path, mirror, _random_like(_shipped_tensors()))
    code, _, err = download(capsys, 'mobilenet_v1_025')
    assert code == 2 and 'never trained' in err and '54 batch-norm' in err
    assert files_under(cache.pretrained_dir()) == []


def test_one_changed_fingerprinted_value_is_refused(mirror, capsys, tmp_path):
    tensors = _shipped_tensors()
    tensors['MobilenetV1/Logits/Conv2d_1c_1x1/biases'][7] += 1e-3
    _serve(tmp_path, mirror, tensors)
    code, _, err = download(capsys, 'mobilenet_v1_025')
    assert code == 2 and 'Conv2d_1c_1x1/biases' in err


@pytest.mark.slow
def test_three_concurrent_first_downloads_share_the_cache(mirror):
    pack_shipped(mirror.root / ARCHIVE)
    command = [sys.executable, '-m', 'jacktf.cli', 'pretrained', 'download',
               'mobilenet_v1_025']
    procs = [subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    prefix = os.path.join(cache.entry_dir('mobilenet_v1_025'), PREFIX)
    for code, out, err in results:
        assert code == 0, err
        assert f'mobilenet_v1_025: {prefix}' in out
    assert len(mirror.requests) == 1  # the others found the cache filled
    assert sorted(os.listdir(cache.pretrained_dir())) == ['downloads', 'mobilenet_v1_025']
    assert len(tf.train.load_checkpoint(prefix).get_variable_to_shape_map()) == 137
