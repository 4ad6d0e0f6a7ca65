"""Atomic exports: everything is written into a hidden folder beside its target and
renamed into place once complete and verified, so a reader (TF Serving polling the
export folder, a copy to a phone) never sees half a model."""

import logging
import os
import shutil
import tempfile

log = logging.getLogger('jacktf')


def staging_dir(target):
    """A new hidden folder beside ``target`` (same file system, so renames are atomic)."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix=f'.{os.path.basename(target)}-', dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)  # mkdtemp's 0700 would hide it from a server's user
    return path


def publish(staging, target):
    """Renames ``staging`` to ``target``. An existing ``target`` is moved aside first and
    deleted after: ``target`` is missing only between two renames, never half written.

    Returns:
      Whether an existing folder was replaced.
    """
    replaced = os.path.exists(target)
    old = None
    if replaced:
        old = tempfile.mkdtemp(prefix=f'.{os.path.basename(target)}-old-',
                               dir=os.path.dirname(os.path.abspath(target)))
        os.rmdir(old)
        os.rename(target, old)
    os.rename(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    return replaced


def discard(staging):
    shutil.rmtree(staging, ignore_errors=True)
