"""Pretrained weights shipped inside the package (no download, no network).

``CHECKPOINT_PATH = 'builtin://mobilenet_v1_025'`` (or the name alone through
``resolve``) points at Google's MobileNet v1 0.25 224 ImageNet weights in slim's variable
names, 1.9 MB, shipped with jacktf (provenance and licence: PROVENANCE.md beside this
file). ``imagenet_labels()`` gives the 1001 class names of the slim checkpoints
(index 0 = background).
"""

import dataclasses
import hashlib
import os

from jacktf.core.errors import RestoreError

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEME = 'builtin://'
IMAGENET_LABELS = os.path.join(HERE, 'imagenet_labels.txt')


@dataclasses.dataclass(frozen=True)
class BuiltinWeights:
    """One shipped checkpoint.

    Attributes:
      backbone: the registered backbone the weights belong to.
      prefix: the checkpoint prefix (path without .index / .data-*).
      num_classes: classes of the checkpoint's own classifier (1001: background first).
      image_size: the input size the weights were trained at.
      top1 / top5: published ImageNet validation accuracy in percent (TF-Slim README,
        research/slim/nets/mobilenet_v1.md, MobileNet_v1_0.25_224).
      sha256: {file name: sha256 hex digest} of the shipped files.
    """
    backbone: str
    prefix: str
    num_classes: int
    image_size: int
    top1: float
    top5: float
    sha256: dict


BUILTIN = {
    'mobilenet_v1_025': BuiltinWeights(
        backbone='mobilenet_v1_025',
        prefix=os.path.join(HERE, 'weights', 'mobilenet_v1_0.25_224',
                            'mobilenet_v1_0.25_224.ckpt'),
        num_classes=1001, image_size=224, top1=49.8, top5=74.2,
        sha256={
            'mobilenet_v1_0.25_224.ckpt.index':
                'd01be90156e4a72c35daef69772e2f9af33b7dde37caa9fa4ae54c7f61209e7d',
            'mobilenet_v1_0.25_224.ckpt.data-00000-of-00001':
                '9688b300ae0de6a20af4072cec82a3fda0fd4a533075e336d8c15897ebf6c683',
        }),
}


def is_builtin(path):
    return isinstance(path, str) and path.startswith(SCHEME)


def get(name):
    """The BuiltinWeights of a backbone name.

    Raises:
      RestoreError: no weights are shipped for ``name`` (lists the ones that are).
    """
    if name not in BUILTIN:
        raise RestoreError(
            f'No weights are shipped for {name!r}; shipped: {", ".join(sorted(BUILTIN))}. '
            f"Other official checkpoints: CHECKPOINT_PATH = 'slim://NAME' (see `jacktf "
            'pretrained list`).')
    return BUILTIN[name]


def resolve(path):
    """'builtin://NAME' -> the shipped checkpoint prefix; any other path unchanged.

    Raises:
      RestoreError: unknown name, or the shipped files are missing or altered.
    """
    if not is_builtin(path):
        return path
    weights = get(path[len(SCHEME):].strip('/'))
    verify(weights)
    return weights.prefix


def verify(weights):
    """Checks the shipped files against their sha256 (1.9 MB: a few milliseconds).

    Raises:
      RestoreError: a file is missing or its digest differs (a damaged install).
    """
    folder = os.path.dirname(weights.prefix)
    for name, digest in weights.sha256.items():
        path = os.path.join(folder, name)
        try:
            with open(path, 'rb') as f:
                actual = hashlib.sha256(f.read()).hexdigest()
        except OSError as e:
            raise RestoreError(f'Shipped weights {path} cannot be read ({e.strerror}): '
                               'reinstall jacktf (pip install -e .).') from None
        if actual != digest:
            raise RestoreError(f'Shipped weights {path} are damaged (sha256 {actual[:12]}... '
                               f'instead of {digest[:12]}...): reinstall jacktf.')


def imagenet_labels():
    """The 1001 class names of the slim ImageNet checkpoints (0 = 'background')."""
    with open(IMAGENET_LABELS, encoding='utf-8') as f:
        return [line.rstrip('\n') for line in f if line.strip()]


def official_class_names(num_classes):
    """ImageNet class names for an official classifier of ``num_classes`` outputs.

    Returns:
      1001 names (index 0 'background') for 1001-class checkpoints (Inception, MobileNet,
      ResNet v2), the 1000 without it for 1000-class ones (ResNet v1, VGG); None for any
      other count.
    """
    names = imagenet_labels()
    if num_classes == len(names):
        return names
    if num_classes == len(names) - 1:
        return names[1:]
    return None
