"""Extracting a downloaded archive without trusting it.

``tarfile``'s ``filter='data'`` has been bypassed on the Pythons users run (CVE-2025-4517
and later ones), so jacktf does not let tarfile write anything: it walks the members,
refuses an archive holding links, devices or names that are absolute or climb out
(``..``), and writes only the checkpoint files (``*.index``, ``*.data-*-of-*``, V1
``*.ckpt``) itself, each opened with O_EXCL|O_NOFOLLOW inside the staging folder, with
the total size capped before and while it is read.
"""

import os
import posixpath
import re
import tarfile
import zlib

from jacktf.core.errors import RestoreError

MAX_EXTRACTED_BYTES = 4 << 30   # the largest official checkpoint (VGG 19) is ~0.55 GB
MAX_MEMBERS = 10000             # official archives hold fewer than 20
_CHECKPOINT_FILE = re.compile(r'.+(\.index|\.data-\d{5}-of-\d{5}|\.ckpt)$')
_COPY_CHUNK = 1 << 20


def safe_name(name):
    """The normalized relative name of a member, or None when it is not one."""
    if not name or '\x00' in name or '\\' in name:
        return None
    normal = posixpath.normpath(name)
    if normal.startswith('/') or normal in ('.', '') or \
            any(part == '..' for part in normal.split('/')):
        return None
    return normal


def _refuse(archive, url, why):
    raise RestoreError(f'The archive {os.path.basename(archive)} from {url} was refused and '
                       f'deleted: {why}. An official slim archive holds only plain files; '
                       'check the mirror, or extract a checkpoint you trust and set '
                       'CHECKPOINT_PATH to its prefix.')


def _members(tar, archive, url):
    """[(normalized name, member)] of the checkpoint files; refuses unsafe members."""
    wanted, total = [], 0
    for count, member in enumerate(tar, 1):
        if count > MAX_MEMBERS:
            _refuse(archive, url, f'it holds more than {MAX_MEMBERS} members')
        name = safe_name(member.name)
        if name is None:
            _refuse(archive, url, f'member {member.name!r} is not a relative path '
                    'inside the archive')
        if member.isdir():
            continue
        if not member.isreg():
            _refuse(archive, url, f'member {member.name!r} is a link or special file, '
                    'not a plain file')
        if not _CHECKPOINT_FILE.match(posixpath.basename(name)):
            continue  # .pb, .tflite, .meta, info files: not needed
        total += member.size
        if total > MAX_EXTRACTED_BYTES:
            _refuse(archive, url, f'its checkpoint files declare more than '
                    f'{MAX_EXTRACTED_BYTES} bytes')
        wanted.append((name, member))
    return wanted


def _write(tar, member, path, budget):
    """Copies one member to ``path`` (created, never followed); returns bytes written."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0)
    written = 0
    source = tar.extractfile(member)
    with source, os.fdopen(os.open(path, flags, 0o644), 'wb') as out:
        while True:
            chunk = source.read(_COPY_CHUNK)
            if not chunk:
                return written
            written += len(chunk)
            if written > budget or written > member.size:
                raise ValueError(f'member {member.name!r} holds more bytes than declared')
            out.write(chunk)


def extract_checkpoint_files(archive, folder, url):
    """Writes the checkpoint files of ``archive`` into the empty folder ``folder``.

    Returns:
      The normalized names written, relative to ``folder``.

    Raises:
      RestoreError: the archive is damaged, holds a link, special file or a name outside
        the folder, or more than MAX_EXTRACTED_BYTES of checkpoint data.
    """
    root = os.path.realpath(folder)
    written, budget = [], MAX_EXTRACTED_BYTES
    try:
        with tarfile.open(archive, 'r:*') as tar:
            for name, member in _members(tar, archive, url):
                path = os.path.join(root, *name.split('/'))
                parent = os.path.dirname(path)
                os.makedirs(parent, exist_ok=True)
                if os.path.commonpath([root, os.path.realpath(parent)]) != root:
                    _refuse(archive, url, f'member {member.name!r} leads outside')
                budget -= _write(tar, member, path, budget)
                written.append(name)
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as e:
        raise RestoreError(
            f'The archive {os.path.basename(archive)} from {url} is damaged or not a tar '
            f'archive ({type(e).__name__}: {e}); it was deleted from the cache. Run again '
            'to download it anew, or extract a good copy and set CHECKPOINT_PATH to its '
            '.ckpt prefix.') from None
    return written
