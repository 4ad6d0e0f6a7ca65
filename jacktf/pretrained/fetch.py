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

The archive is not trusted: only its checkpoint files are written, by jacktf, never a
link or a name outside the folder (``archive``); downloads and extraction are capped in
bytes; the values are checked too (``values``: the zoo's fingerprint where known, and
no untrained weights). Processes fetching the same entry at once take turns on a file
lock, the later ones finding the cache filled. Credentials in the mirror URL
(``https://user:token@host``) never reach the logs, messages or the cache metadata.

Every failure is a RestoreError naming the URL and what to do (exit code 2).
"""

import contextlib
import datetime
import fcntl
import json
import logging
import os
import shutil
import tempfile
import urllib.parse

from jacktf.core.errors import RestoreError
from jacktf.pretrained import archive as archive_lib
from jacktf.pretrained import cache, zoo

log = logging.getLogger('jacktf')
MIRROR_ENV = 'JACKTF_CHECKPOINT_MIRROR'
CONNECT_TIMEOUT = 5     # seconds to open a connection: offline fails fast
READ_TIMEOUT = 60       # seconds without a byte before a download is given up
CHUNK_SIZE = 1 << 20
MAX_DOWNLOAD_BYTES = 2 << 30  # the largest official archive (VGG 19) is ~0.5 GB


def mirror():
    return os.environ.get(MIRROR_ENV, '').strip()


def redact(text):
    """``text`` with the mirror URL's user name, password and query replaced by '***'."""
    parts = urllib.parse.urlsplit(mirror())
    if '@' in parts.netloc:
        host = parts.netloc.rpartition('@')[2]
        text = text.replace(parts.netloc, f'***:***@{host}')
    if parts.query:
        text = text.replace(f'?{parts.query}', '?***')
    for secret in (parts.password, urllib.parse.unquote(parts.password or '')):
        if secret and len(secret) >= 6:  # a token quoted elsewhere (short ones: no)
            text = text.replace(secret, '***')
    return text


def download_url(entry):
    """The URL to fetch ``entry``'s archive from: the official one or the mirror's."""
    if not mirror():
        return entry.url
    parts = urllib.parse.urlsplit(mirror())
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise RestoreError(f'{MIRROR_ENV}={redact(mirror())!r} is not a URL: give it as '
                           'https://host:port (optionally with a path prefix).')
    path = parts.path.rstrip('/') + urllib.parse.urlparse(entry.url).path
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ''))


@contextlib.contextmanager
def _entry_lock(name):
    """An exclusive kernel lock on ``<cache>/locks/pretrained-<name>.lock`` (released on
    exit or when the process dies): concurrent first fetches of one entry take turns."""
    folder = os.path.join(cache.cache_root(), 'locks')
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, f'pretrained-{name}.lock'),
                 os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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
    with _entry_lock(name):
        prefix = cache.cached_prefix(name)  # another process may have fetched it
        if prefix:
            log.info('slim://%s: cached at %s', name, prefix)
            return prefix
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


class _CappedFile:
    """A file pooch writes the download to, refusing more than MAX_DOWNLOAD_BYTES."""

    def __init__(self, path):
        self.file, self.size = open(path, 'w+b'), 0

    def write(self, chunk):
        self.size += len(chunk)
        if self.size > MAX_DOWNLOAD_BYTES:
            raise _TooLarge()
        return self.file.write(chunk)

    def __getattr__(self, attr):
        return getattr(self.file, attr)


class _TooLarge(Exception):
    pass


def _capped(downloader):
    def download(url, output_file, pooch):
        out = _CappedFile(output_file)
        try:
            downloader(url, out, pooch)
        finally:
            out.file.close()
    return download


def _download(entry):
    import pooch
    import requests
    url = download_url(entry)
    target = cache.archive_path(entry)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.exists(target):
        log.info('slim://%s: using the archive %s', entry.name, target)
    else:
        log.info('slim://%s: downloading %s to %s', entry.name, redact(url), target)
    pooch.get_logger().setLevel(logging.WARNING)
    downloader = pooch.HTTPDownloader(progressbar=True, chunk_size=CHUNK_SIZE,
                                      timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    try:
        return pooch.retrieve(url, known_hash=f'sha256:{entry.sha256}' if entry.sha256
                              else None, fname=entry.archive, path=os.path.dirname(target),
                              downloader=_capped(downloader))
    except requests.exceptions.RequestException as e:
        raise RestoreError(redact(offline_message(entry, url, _reason(e)))) from None
    except _TooLarge:
        raise RestoreError(f'The download from {redact(url)} passed {MAX_DOWNLOAD_BYTES} '
                           'bytes, more than any official archive; it was stopped and '
                           'deleted. Check the mirror.') from None
    except ValueError as e:  # pooch: the sha256 differs (the file is not kept)
        raise RestoreError(redact(f'The archive downloaded from {url} is not the official '
                                  f'one: {e} It was deleted. Check the mirror or the '
                                  'network (a proxy rewriting downloads?).')) from None


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
    shipped = next(iter(builtin.BUILTIN))
    return (f' To start now without a download, use the weights that ship with jacktf: '
            f'`jacktf train DATA` (or --backbone {shipped}), or in a recipe BACKBONE = '
            f"@{shipped} and CHECKPOINT_PATH = 'builtin://{shipped}'.")


def _install(entry, archive, registry):
    """Extracts and verifies ``archive`` in a temporary folder, then renames it into place."""
    import pooch
    from jacktf.pretrained import values, verify
    url = redact(download_url(entry))
    root = cache.pretrained_dir()
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f'.tmp-{entry.name}-', dir=root)
    try:
        archive_lib.extract_checkpoint_files(archive, staging, url)
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
            fingerprinted = values.check_fingerprint(os.path.join(staging, relative),
                                                     entry.fingerprint)
            trained = values.check_trained(os.path.join(staging, relative))
        except RestoreError as e:
            hint = (f'Check what {MIRROR_ENV} serves at that path.' if mirror() else
                    'Pass a checkpoint you trust with CHECKPOINT_PATH.')
            raise RestoreError(f'The archive {entry.archive} from {url} was deleted from '
                               f'the cache: {e} {hint}') from None
        metadata = {
            'name': entry.name, 'url': url, 'official_url': entry.url,
            'archive': entry.archive, 'archive_sha256': pooch.file_hash(archive),
            'checkpoint': relative, 'backbone_variables_verified': count,
            'fingerprinted_variables': fingerprinted, 'trained_values_checked': trained,
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
