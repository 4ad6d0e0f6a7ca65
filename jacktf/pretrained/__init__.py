"""The pretrained zoo: weights shipped in the package and the official slim checkpoints.

``pretrained(name)`` looks up a backbone's official checkpoint (URL, published accuracy,
classes, size, preprocessing; see zoo.py); ``resolve_checkpoint`` turns a CHECKPOINT_PATH
('builtin://NAME', 'slim://NAME' or a path) into a local checkpoint prefix, fetching and
verifying official checkpoints on first use (fetch.py, cache.py, verify.py).
"""

from jacktf.pretrained.resolve import resolve_checkpoint  # noqa: F401
from jacktf.pretrained.zoo import PretrainedCheckpoint, names, pretrained  # noqa: F401
