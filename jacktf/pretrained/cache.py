"""Where downloaded checkpoints live, and finding the checkpoint in an extracted archive.

Layout under ``$JACKTF_CACHE_DIR`` (default ``~/.cache/jacktf``)::

    pretrained/downloads/<archive>     an archive being fetched, or put there by hand
    pretrained/<name>/                 the extracted, verified archive of zoo entry <name>
    pretrained/<name>/jacktf-pretrained.json   what was fetched from where, and checked

A ``pretrained/<name>/`` folder appears only complete and verified (extracted in a
temporary folder beside it, then renamed), so its presence is the cache hit.
"""

import json
import os

METADATA = 'jacktf-pretrained.json'


def cache_root():
    """``$JACKTF_CACHE_DIR``, else ``~/.cache/jacktf``."""
    return os.environ.get('JACKTF_CACHE_DIR') or os.path.join(
        os.path.expanduser('~'), '.cache', 'jacktf')


def pretrained_dir():
    return os.path.join(cache_root(), 'pretrained')


def downloads_dir():
    return os.path.join(pretrained_dir(), 'downloads')


def entry_dir(name):
    """The folder of zoo entry ``name``'s extracted checkpoint."""
    return os.path.join(pretrained_dir(), name)


def archive_path(entry):
    """Where ``entry``'s archive is downloaded to (or may be put by hand)."""
    return os.path.join(downloads_dir(), entry.archive)


def checkpoint_exists(prefix):
    """True for a V2 checkpoint (``prefix.index``) or a V1 one (a file named ``prefix``)."""
    return os.path.isfile(prefix + '.index') or os.path.isfile(prefix)


def find_prefixes(folder):
    """Every checkpoint prefix under ``folder``, relative to it, sorted.

    V2 checkpoints are found by their ``.index`` file, V1 ones (a single file, as in the
    2016 slim archives) by a name ending in ``.ckpt``.
    """
    found = set()
    for root, _, files in os.walk(folder):
        for f in files:
            path = os.path.relpath(os.path.join(root, f), folder)
            if f.endswith('.index'):
                found.add(path[:-len('.index')])
            elif f.endswith('.ckpt'):
                found.add(path)
    return sorted(found)


def locate_checkpoint(folder, expected):
    """The checkpoint prefix of an extracted archive, whichever its layout.

    Args:
      folder: the extracted archive.
      expected: the prefix the zoo names, relative to ``folder``.

    Returns:
      (prefix relative to ``folder``, every prefix found). The prefix is ``expected``
      when it exists, else the only checkpoint found, else the one in ``expected``'s
      folder or with its file name; None when none fits.
    """
    found = find_prefixes(folder)
    if checkpoint_exists(os.path.join(folder, expected)):
        return expected, found
    if len(found) == 1:
        return found[0], found
    for same in (lambda p: os.path.dirname(p) == os.path.dirname(expected),
                 lambda p: os.path.basename(p) == os.path.basename(expected)):
        matches = [p for p in found if same(p)]
        if len(matches) == 1:
            return matches[0], found
    return None, found


def read_metadata(name):
    """The metadata of a cached entry, or None when it is not (completely) cached."""
    try:
        with open(os.path.join(entry_dir(name), METADATA), encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if not checkpoint_exists(os.path.join(entry_dir(name), meta.get('checkpoint', ''))):
        return None
    return meta


def cached_prefix(name):
    """The absolute checkpoint prefix of a cached entry, or None."""
    meta = read_metadata(name)
    return os.path.join(entry_dir(name), meta['checkpoint']) if meta else None
