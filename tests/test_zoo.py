"""The pretrained zoo: the table, slim:// through a local mirror, the cache, failures.

A real HTTP server on 127.0.0.1 serves archives laid out like the official ones, built
here from the shipped MobileNet v1 0.25 checkpoint; nothing leaves this machine.
"""

import dataclasses
import functools
import hashlib
import http.server
import json
import logging
import os
import re
import socket
import tarfile
import threading
import time

import pytest
import tensorflow as tf

from jacktf import cli
from jacktf.app.configurables import RECIPES_DIR
from jacktf.core.errors import RestoreError
from jacktf.pretrained import builtin, cache, fetch, resolve_checkpoint, zoo
from conftest import run_cli

SHIPPED = os.path.dirname(builtin.BUILTIN['mobilenet_v1_025'].prefix)
V1_DIR = 'models/mobilenet_v1_2018_02_22'
SHARED_CACHE = os.environ.get('JACKTF_CACHE_DIR')  # conftest's, before tests change it


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


class Mirror:
    """A static file server on a free port of 127.0.0.1, counting GET requests."""

    def __init__(self, root):
        self.root = root
        self.requests = []
        mirror = self

        class Handler(_Handler):
            def do_GET(self):
                mirror.requests.append(self.path)
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), functools.partial(Handler, directory=str(root)))
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def pack_shipped(path, files=None):
    """A .tgz laid out like the official MobileNet v1 archives ('./name.ckpt.index', ...)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tarfile.open(path, 'w:gz') as tar:
        for name in files or sorted(os.listdir(SHIPPED)):
            tar.add(os.path.join(SHIPPED, name), arcname=f'./{name}')
    return path


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(r, f), folder)
                  for r, _, fs in os.walk(folder) for f in fs)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private cache; no proxy between the test and 127.0.0.1."""
    monkeypatch.setenv('JACKTF_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setenv('NO_PROXY', '127.0.0.1,localhost')
    monkeypatch.setenv('no_proxy', '127.0.0.1,localhost')
    log = logging.getLogger('jacktf')
    handlers = list(log.handlers)
    yield tmp_path
    log.handlers = handlers  # cli.main logs to this test's captured stdout


@pytest.fixture
def mirror(env, monkeypatch):
    server = Mirror(env / 'mirror')
    (env / 'mirror').mkdir()
    monkeypatch.setenv(fetch.MIRROR_ENV, server.url)
    yield server
    server.stop()


def download(capsys, *names):
    """`jacktf pretrained download NAMES` in this process: (exit code, printed lines, stderr).

    The printed lines are those of the command, without jacktf's log lines.
    """
    try:
        code = cli.main(['pretrained', 'download', *names])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, '\n'.join(l for l in out.splitlines() if not l.startswith('[jacktf')), err


def test_the_table_agrees_with_the_backbone_cards(default_registry):
    expected = {'resnet_v1_50', 'resnet_v1_101', 'resnet_v1_152', 'resnet_v2_50',
                'resnet_v2_101', 'resnet_v2_152', 'inception_v1', 'inception_v2',
                'inception_v3', 'inception_v4', 'inception_resnet_v2', 'vgg_16', 'vgg_19',
                'mobilenet_v1', 'mobilenet_v1_075', 'mobilenet_v1_050', 'mobilenet_v1_025',
                'mobilenet_v2', 'mobilenet_v2_140', 'mobilenet_v2_035',
                'mobilenet_v3_large', 'mobilenet_v3_small', 'nasnet_mobile', 'nasnet_large',
                'pnasnet_mobile', 'pnasnet_large'}
    assert set(zoo.names()) == expected
    registered = set(default_registry.names('backbone'))
    for name in expected & registered:
        entry, card = zoo.pretrained(name), default_registry.get('backbone', name).card
        assert (entry.num_classes, entry.preprocessing) == \
            (card.num_classes_official, card.preprocessing), name
        if not name.startswith('resnet_v2'):  # published at 299, card default 224
            assert entry.image_size == card.default_image_size, name
        assert re.fullmatch(r'https?://.+\.(tar\.gz|tgz)', entry.url), name
        assert 0 < entry.top1 < (entry.top5 or 100) <= 100
    assert zoo.pretrained('resnet_v1_tiny') is None
    assert zoo.pretrained('mobilenet_v1').url.endswith(
        'mobilenet_v1_2018_02_22/mobilenet_v1_1.0_224.tgz')
    with pytest.raises(RestoreError, match="Did you mean 'resnet_v1_50'"):
        resolve_checkpoint('slim://resnet_v1_5')


def test_finetune_recipes_name_their_backbones_checkpoint():
    for recipe in sorted(os.listdir(RECIPES_DIR)):
        if not recipe.endswith('.gin') or recipe in ('demo.gin', 'tiny_from_scratch.gin'):
            continue
        with open(os.path.join(RECIPES_DIR, recipe)) as f:
            text = f.read()
        backbone = re.search(r'^BACKBONE = @(\w+)', text, re.M)[1]
        assert re.search(rf"^CHECKPOINT_PATH = '(slim|builtin)://{backbone}'", text,
                         re.M), recipe
        assert zoo.pretrained(backbone), recipe


def test_the_checkpoint_is_found_whichever_the_layout(tmp_path):
    flat = tmp_path / 'flat'
    flat.mkdir()
    for name in ('m.ckpt.index', 'm.ckpt.data-00000-of-00001', 'm.ckpt.meta', 'm.tflite'):
        (flat / name).write_bytes(b'x')
    assert cache.locate_checkpoint(str(flat), 'm.ckpt')[0] == 'm.ckpt'
    v1 = tmp_path / 'v1'
    v1.mkdir()
    (v1 / 'inception_v3.ckpt').write_bytes(b'x')  # a 2016 archive: one V1 file
    assert cache.locate_checkpoint(str(v1), 'inception_v3.ckpt')[0] == 'inception_v3.ckpt'
    nested = tmp_path / 'v3'
    for sub in ('v3-large_224_1.0_float/ema/model-540001',
                'v3-large_224_1.0_float/pristine/model.ckpt-540001'):
        os.makedirs(nested / os.path.dirname(sub), exist_ok=True)
        (nested / (sub + '.index')).write_bytes(b'x')
    # The zoo's step number differs: the ema/ checkpoint is still the one chosen.
    found = cache.locate_checkpoint(str(nested), 'v3-large_224_1.0_float/ema/model-540000')
    assert found[0] == 'v3-large_224_1.0_float/ema/model-540001'
    assert len(found[1]) == 2
    assert cache.locate_checkpoint(str(flat), 'other/x.ckpt')[0] == 'm.ckpt'
    (flat / 'n.ckpt.index').write_bytes(b'x')
    assert cache.locate_checkpoint(str(flat), 'other/x.ckpt')[0] is None


def test_download_through_the_mirror_then_the_cache_without_network(mirror, capsys):
    served = pack_shipped(mirror.root / V1_DIR / 'mobilenet_v1_0.25_224.tgz')
    code, out, err = download(capsys, 'mobilenet_v1_025')
    assert code == 0, err
    prefix = cache.entry_dir('mobilenet_v1_025') + '/mobilenet_v1_0.25_224.ckpt'
    assert out.strip() == f'mobilenet_v1_025: {prefix}'
    assert mirror.requests == [f'/{V1_DIR}/mobilenet_v1_0.25_224.tgz']
    assert tf.train.load_checkpoint(prefix).get_variable_to_shape_map()[
        'MobilenetV1/Conv2d_0/weights'] == [3, 3, 3, 8]
    meta = json.load(open(os.path.join(cache.entry_dir('mobilenet_v1_025'), cache.METADATA)))
    assert meta['archive_sha256'] == hashlib.sha256(open(served, 'rb').read()).hexdigest()
    assert meta['backbone_variables_verified'] == 137
    assert files_under(cache.downloads_dir()) == []  # the archive is not kept
    assert not [d for d in os.listdir(cache.pretrained_dir()) if d.startswith('.tmp')]
    cli.main(['pretrained', 'list', '--json'])
    rows = {r['name']: r for r in json.loads(capsys.readouterr().out)['checkpoints']}
    assert rows['mobilenet_v1_025']['cached'] == prefix and rows['mobilenet_v1_025']['builtin']
    assert rows['resnet_v1_50']['cached'] is None and rows['resnet_v1_50']['top1'] == 75.2
    cli.main(['pretrained', 'list'])
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith('mobilenet_v1_025')]
    assert 'builtin,cached' in line[0] and '49.8' in line[0] and 'inception' in line[0]

    mirror.stop()  # a second use must not need the network
    assert resolve_checkpoint('slim://mobilenet_v1_025') == prefix
    assert len(mirror.requests) == 1


def test_an_archive_put_in_the_cache_by_hand_needs_no_network(env, monkeypatch, capsys):
    monkeypatch.setenv(fetch.MIRROR_ENV, f'http://127.0.0.1:{free_port()}')  # nobody there
    entry = zoo.get('mobilenet_v1_025')
    pack_shipped(cache.archive_path(entry))
    code, out, err = download(capsys, 'mobilenet_v1_025')
    assert code == 0, err
    assert out.strip().endswith('mobilenet_v1_025/mobilenet_v1_0.25_224.ckpt')


def test_an_old_v1_format_archive_is_found_and_verified(mirror, tmp_path):
    reader = tf.train.load_checkpoint(builtin.BUILTIN['mobilenet_v1_025'].prefix)
    v1_dir = tmp_path / 'v1ckpt'
    v1_dir.mkdir()
    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(n, initializer=reader.get_tensor(n))
                     for n in reader.get_variable_to_shape_map()]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(
                variables, write_version=tf.compat.v1.train.SaverDef.V1).save(
                    sess, str(v1_dir / 'mobilenet_v1_0.25_224.ckpt'), write_meta_graph=False,
                    write_state=False)
    assert os.listdir(v1_dir) == ['mobilenet_v1_0.25_224.ckpt']
    archive = mirror.root / V1_DIR / 'mobilenet_v1_0.25_224.tgz'
    os.makedirs(archive.parent)
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(v1_dir / 'mobilenet_v1_0.25_224.ckpt', arcname='mobilenet_v1_0.25_224.ckpt')
    prefix = resolve_checkpoint('slim://mobilenet_v1_025')
    assert os.path.isfile(prefix) and prefix.endswith('mobilenet_v1_025/mobilenet_v1_0.25_224.ckpt')
    assert len(tf.train.load_checkpoint(prefix).get_variable_to_shape_map()) == 137


def test_a_known_sha256_is_checked(mirror, monkeypatch, capsys):
    served = pack_shipped(mirror.root / V1_DIR / 'mobilenet_v1_0.25_224.tgz')
    entry = zoo.get('mobilenet_v1_025')
    monkeypatch.setitem(zoo.ZOO, entry.name, dataclasses.replace(entry, sha256='0' * 64))
    code, _, err = download(capsys, entry.name)
    assert code == 2 and 'not the official one' in err and mirror.url in err
    assert files_under(cache.pretrained_dir()) == []
    digest = hashlib.sha256(open(served, 'rb').read()).hexdigest()
    monkeypatch.setitem(zoo.ZOO, entry.name, dataclasses.replace(entry, sha256=digest))
    code, out, err = download(capsys, entry.name)
    assert code == 0, err
    assert cache.cached_prefix(entry.name) in out


def test_a_corrupt_archive_exits_2_and_leaves_nothing(mirror, capsys):
    path = mirror.root / V1_DIR / 'mobilenet_v1_0.25_224.tgz'
    os.makedirs(path.parent)
    good = open(pack_shipped(str(path) + '.good'), 'rb').read()
    path.write_bytes(good[:len(good) // 2])  # a download cut in half
    code, _, err = download(capsys, 'mobilenet_v1_025')
    assert code == 2
    assert 'damaged' in err and f'{mirror.url}/{V1_DIR}/mobilenet_v1_0.25_224.tgz' in err
    assert files_under(cache.pretrained_dir()) == []
    assert not os.path.exists(cache.entry_dir('mobilenet_v1_025'))


def test_the_wrong_net_is_deleted_and_named(mirror, capsys):
    # The 0.25 checkpoint served at the 1.0 path ...
    pack_shipped(mirror.root / V1_DIR / 'mobilenet_v1_1.0_224.tgz')
    with tarfile.open(mirror.root / V1_DIR / 'mobilenet_v1_1.0_224.tgz') as tar:
        assert './mobilenet_v1_0.25_224.ckpt.index' in tar.getnames()
    code, _, err = download(capsys, 'mobilenet_v1')
    assert code == 2
    assert "does not hold the backbone 'mobilenet_v1'" in err
    assert "the variables of the backbone 'mobilenet_v1_025'" in err  # ... is recognized
    assert 'deleted' in err and '[32] vs [8]' in err
    assert files_under(cache.pretrained_dir()) == []


def test_no_server_exits_2_within_seconds_naming_the_url(env, monkeypatch, capsys):
    dead = f'http://127.0.0.1:{free_port()}'
    monkeypatch.setenv(fetch.MIRROR_ENV, dead)
    start = time.monotonic()
    code, _, err = download(capsys, 'resnet_v1_50')
    assert code == 2 and time.monotonic() - start < 10
    assert f'{dead}/models/resnet_v1_50_2016_08_28.tar.gz' in err
    assert 'https://download.tensorflow.org/models/resnet_v1_50_2016_08_28.tar.gz' in err
    assert "CHECKPOINT_PATH = '/path/resnet_v1_50.ckpt'" in err
    assert cache.archive_path(zoo.get('resnet_v1_50')) in err
    assert files_under(cache.pretrained_dir()) == []
    monkeypatch.setenv(fetch.MIRROR_ENV, dead[len('http://'):])  # no scheme
    code, _, err = download(capsys, 'resnet_v1_50')
    assert code == 2 and 'is not a URL' in err


@pytest.mark.slow
def test_a_recipe_trains_from_slim_uri_through_the_mirror(mirror, tmp_path):
    from jacktf.data import demo
    shared = demo.materialize(root=SHARED_CACHE)  # the demo images, made once per checkout
    os.makedirs(cache.cache_root())
    os.symlink(shared, os.path.join(cache.cache_root(), os.path.basename(shared)))
    pack_shipped(mirror.root / V1_DIR / 'mobilenet_v1_0.25_224.tgz')
    r = run_cli(['jacktf.run', '--gin_file=gin/demo.gin',
                 "--gin_param=CHECKPOINT_PATH = 'slim://mobilenet_v1_025'",
                 '--gin_param=TRAIN_STEPS = 5', '--gin_param=cosine.warmup_steps = 1',
                 '--gin_param=EVAL_FILES = None', f'--model_dir={tmp_path}/run',
                 '--mode=train'], timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    restore = [l for l in r.stdout.splitlines() if 'restore ' in l][0]
    assert '135 restored' in restore and cache.entry_dir('mobilenet_v1_025') in restore
    assert 'Done at step 5' in r.stdout
    assert mirror.requests == [f'/{V1_DIR}/mobilenet_v1_0.25_224.tgz']
