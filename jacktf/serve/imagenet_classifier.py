"""An official checkpoint as an ImageNet classifier (``jacktf predict --pretrained NAME``).

The backbone runs with its own classifier (the native head, the official class count)
and its card's eval preprocessing, and is exported once as a SavedModel with the
ImageNet class names into the cache (``$JACKTF_CACHE_DIR/pretrained/exports/NAME/1``);
later calls load that export, so predictions equal what a TF Serving server returns for
the same file.
"""

import logging
import os

from jacktf.pretrained.cache import cache_root
from jacktf.pretrained import builtin

log = logging.getLogger('jacktf')
VERSION = 1


def checkpoint_uri(name):
    """'builtin://NAME' for shipped weights, else the official 'slim://NAME'."""
    return f'{builtin.SCHEME}{name}' if name in builtin.BUILTIN else f'slim://{name}'


def imagenet_saved_model(name, registry=None):
    """The path of a SavedModel classifying ImageNet with backbone ``name``.

    Args:
      name: a registered backbone with an official checkpoint (`jacktf pretrained list`).
      registry: the Registry to build the backbone from (default: the process default).

    Returns:
      The export folder (``.../exports/NAME/1``), written on first use.

    Raises:
      UnknownPluginError: ``name`` is not a registered backbone.
      RestoreError: no checkpoint could be had for ``name`` (the message says why).
    """
    target = os.path.join(cache_root(), 'pretrained', 'exports', name)
    path = os.path.join(target, str(VERSION))
    if os.path.exists(os.path.join(path, 'saved_model.pb')):
        return path
    from jacktf.serve import export
    from jacktf.core.model import Model
    from jacktf.core.restore import restore_from_checkpoint
    model = Model(backbone=name, head='native', registry=registry).build()
    from jacktf.pretrained import resolve_checkpoint
    restore_from_checkpoint(model, checkpoint_uri(name), resolve_uri=resolve_checkpoint)
    names = builtin.official_class_names(model.num_classes) or \
        [str(i) for i in range(model.num_classes)]
    log.info('Exporting %s with its ImageNet classifier to %s (once).', name, target)
    path, _ = export.export_saved_model(model, target, class_names=names, version=VERSION,
                                        parity_encoded=_parity_images())
    return path


def _parity_images(count=2, size=97, seed=0):
    """PNG-encoded random images: the export's parity check needs no dataset."""
    import io
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (size, size + 20, 3), np.uint8)).save(
            buffer, format='PNG')
        images.append(buffer.getvalue())
    return images
