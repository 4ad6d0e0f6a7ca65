"""Fetching an official checkpoint: download, extract, verify, cache.

``fetch(name)`` returns the checkpoint prefix of zoo entry ``name``:

1. A cached ``<cache>/pretrained/<name>/`` is used as it is (no network).
2. Otherwise pooch downloads the archive (progress bar, short connect timeout) to
   ``<cache>/pretrained/downloads/`` - or takes the archive already there - and checks
   its sha256 where the zoo knows it. ``JACKTF_CHECKPOINT_MIRROR=http://host:port``
   fetches ``<mirror>/<path of the official URL>`` instead.
3. The archive is extracted into a temporary folder, the checkpoint is found in it
   (V2 ``.index`` + ``.data-*`` or a V1 file), and its variables are checked against the
   backbone's own names and shapes; only then is the folder renamed into place. The
   archive is deleted in every case, and a download that fails a check leaves nothing.

Every failure is a RestoreError naming the URL and what to do (exit code 2).
"""

import datetime
import json
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import zlib

from jacktf.core.errors import RestoreError
from jacktf.pretrained import cache, zoo

log = logging.getLogger('jacktf')
MIRROR_ENV = 'JACKTF_CHECKPOINT_MIRROR'
CONNECT_TIMEOUT = 5     # seconds to open a connection: offline fails fast
READ_TIMEOUT = 60       # seconds without a byte before a download is given up
CHUNK_SIZE = 1 << 20


def mirror():
    return os.environ.get(MIRROR_ENV, '').strip()


def download_url(entry):
    """The URL to fetch ``entry``'s archive from: the official one or the mirror's."""
    if not mirror():
        return entry.url
    if urllib.parse.urlparse(mirror()).scheme not in ('http', 'https', 'ftp'):
        raise RestoreError(f'{MIRROR_ENV}={mirror()!r} is not a URL: give it as '
                           'http://host:port (optionally with a path prefix).')
    return mirror().rstrip('/') + urllib.parse.urlparse(entry.url).path


def fetch(name, *, registry=None):
    """The checkpoint prefix of zoo entry ``name``, downloading it on first use.

    Args:
      name: a zoo name (the backbone's registered name), e.g. 'resnet_v1_50'.
      registry: the Registry whose backbone ``name`` the checkpoint is checked against;
        None uses the process default.

    Returns:
      The absolute checkpoint prefix inside ``<cache>/pretrained/<name>/``.

    Raises:
      RestoreError: unknown name, no connection, a damaged archive, or an archive that
        does not hold the backbone (then nothing is left in the cache).
      UnknownPluginError: no backbone ``name`` is registered (checked before any
        download).
    """
    entry = zoo.get(name)
    prefix = cache.cached_prefix(name)
    if prefix:
        log.info('slim://%s: cached at %s', name, prefix)
        return prefix
    if registry is None:
        from jacktf.core import plugins
        registry = plugins.default_registry()
    registry.get('backbone', name)  # the checkpoint is verified against it
    if os.path.exists(cache.entry_dir(name)):  # incomplete (files removed by hand)
        log.warning('slim://%s: %s is incomplete; fetching it again', name,
                    cache.entry_dir(name))
        shutil.rmtree(cache.entry_dir(name))
    archive = _download(entry)
    try:
        return _install(entry, archive, registry)
    finally:
        if os.path.exists(archive):
            os.remove(archive)


def _download(entry):
    import pooch
    import requests
    url = download_url(entry)
    target = cache.archive_path(entry)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.exists(target):
        log.info('slim://%s: using the archive %s', entry.name, target)
    else:
        log.info('slim://%s: downloading %s to %s', entry.name, url, target)
    pooch.get_logger().setLevel(logging.WARNING)
    downloader = pooch.HTTPDownloader(progressbar=True, chunk_size=CHUNK_SIZE,
                                      timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    try:
        return pooch.retrieve(url, known_hash=f'sha256:{entry.sha256}' if entry.sha256
                              else None, fname=entry.archive, path=os.path.dirname(target),
                              downloader=downloader)
    except requests.exceptions.RequestException as e:
        raise RestoreError(offline_message(entry, url, _reason(e))) from None
    except ValueError as e:  # pooch: the sha256 differs (the file is not kept)
        raise RestoreError(f'The archive downloaded from {url} is not the official one: '
                           f'{e} It was deleted. Check the mirror or the network '
                           '(a proxy rewriting downloads?).') from None


def _reason(error):
    import requests
    if isinstance(error, requests.exceptions.HTTPError) and error.response is not None:
        return f'HTTP {error.response.status_code} {error.response.reason}'
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f'no connection within {CONNECT_TIMEOUT} s'
    if isinstance(error, requests.exceptions.ReadTimeout):
        return f'no data for {READ_TIMEOUT} s'
    text = str(error)
    for needle, reason in (('Name or service not known', 'DNS lookup failed'),
                           ('Temporary failure in name resolution', 'DNS lookup failed'),
                           ('nodename nor servname', 'DNS lookup failed'),
                           ('Connection refused', 'connection refused'),
                           ('Network is unreachable', 'network unreachable')):
        if needle in text:
            return reason
    return f'{type(error).__name__}: {text[:160]}'


def offline_message(entry, url, reason):
    """What to do when ``url`` cannot be fetched."""
    via = (f' (through {MIRROR_ENV}={mirror()}; the official URL is {entry.url})'
           if mirror() else '')
    path = urllib.parse.urlparse(entry.url).path
    return (f'Cannot download the official {entry.name} checkpoint from {url}{via}: '
            f'{reason}. Without network: download {entry.url} elsewhere, then put the '
            f'archive at {cache.archive_path(entry)} (the next run extracts and verifies '
            f"it), or extract it and set CHECKPOINT_PATH = '/path/"
            f"{os.path.basename(entry.checkpoint)}'. A mirror serving <mirror>{path}: "
            f'{MIRROR_ENV}=http://host:port.{_shipped_hint(entry.name)}')


def _shipped_hint(name):
    from jacktf.pretrained import builtin
    if name in builtin.BUILTIN:
        return (f" These weights also ship with jacktf, no download needed: "
                f"CHECKPOINT_PATH = 'builtin://{name}'.")
    return ''


def _extract(archive, folder, url):
    try:
        with tarfile.open(archive, 'r:*') as tar:
            tar.extractall(folder, filter='data')
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise RestoreError(
            f'The archive {os.path.basename(archive)} from {url} is damaged or not a tar '
            f'archive ({type(e).__name__}: {e}); it was deleted from the cache. Run again '
            'to download it anew, or extract a good copy and set CHECKPOINT_PATH to its '
            '.ckpt prefix.') from None


def _install(entry, archive, registry):
    """Extracts and verifies ``archive`` in a temporary folder, then renames it into place."""
    import pooch
    from jacktf.pretrained import verify
    url = download_url(entry)
    root = cache.pretrained_dir()
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f'.tmp-{entry.name}-', dir=root)
    try:
        _extract(archive, staging, url)
        relative, found = cache.locate_checkpoint(staging, entry.checkpoint)
        if relative is None:
            raise RestoreError(
                f'The archive {entry.archive} from {url} holds no checkpoint '
                f'{entry.checkpoint} (found: {", ".join(found) or "no checkpoint"}); it '
                'was deleted from the cache. Extract the checkpoint you mean and set '
                'CHECKPOINT_PATH to its prefix.')
        try:
            count = verify.check_backbone(os.path.join(staging, relative), entry.name,
                                          registry)
        except RestoreError as e:
            hint = (f'Check what {MIRROR_ENV} serves at that path.' if mirror() else
                    'Pass a checkpoint you trust with CHECKPOINT_PATH.')
            raise RestoreError(f'The archive {entry.archive} from {url} was deleted from '
                               f'the cache: {e} {hint}') from None
        metadata = {
            'name': entry.name, 'url': url, 'official_url': entry.url,
            'archive': entry.archive, 'archive_sha256': pooch.file_hash(archive),
            'checkpoint': relative, 'backbone_variables_verified': count,
            'fetched': datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec='seconds')}
        with open(os.path.join(staging, cache.METADATA), 'w', encoding='utf-8') as f:
            json.dump(metadata, f, indent=2)
        try:
            os.rename(staging, cache.entry_dir(entry.name))
        except OSError:
            if cache.cached_prefix(entry.name) is None:  # not another process's copy
                raise
        prefix = cache.cached_prefix(entry.name)
        log.info('slim://%s: %s verified (%d variables of the backbone) -> %s',
                 entry.name, entry.archive, count, prefix)
        return prefix
    finally:
        shutil.rmtree(staging, ignore_errors=True)
