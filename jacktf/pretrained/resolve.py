"""One resolver for CHECKPOINT_PATH: 'builtin://NAME', 'slim://NAME' or a path.

- ``builtin://mobilenet_v1_025``: weights shipped inside jacktf (no network).
- ``slim://resnet_v1_50``: the backbone's official TF-Slim checkpoint, downloaded,
  verified and cached on first use (``jacktf pretrained list`` names them).
- anything else: a checkpoint prefix or folder, returned unchanged.
"""

from jacktf.pretrained import builtin

SLIM_SCHEME = 'slim://'


def is_slim(path):
    return isinstance(path, str) and path.startswith(SLIM_SCHEME)


def resolve_checkpoint(path, registry=None):
    """A CHECKPOINT_PATH value -> a checkpoint prefix (or folder) on this machine.

    Args:
      path: 'builtin://NAME', 'slim://NAME', or a path.
      registry: the Registry a downloaded checkpoint is verified against (None: the
        process default).

    Returns:
      The local checkpoint prefix; any other path unchanged.

    Raises:
      RestoreError: unknown name, damaged shipped weights, or a failed download.
    """
    if builtin.is_builtin(path):
        return builtin.resolve(path)
    if is_slim(path):
        from jacktf.pretrained import fetch
        return fetch.fetch(path[len(SLIM_SCHEME):].strip('/'), registry=registry)
    return path
