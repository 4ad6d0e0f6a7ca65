"""The zoo: the official TF-Slim ImageNet checkpoint of every backbone, by backbone name.

Each entry records the archive's URL and the checkpoint inside it as the official
READMEs publish them (tensorflow/models research/slim/README.md "Pre-trained Models",
research/slim/nets/mobilenet_v1.md and research/slim/nets/mobilenet/README.md), with the
published single-crop ImageNet validation accuracy, the class count of the checkpoint's
own classifier, the input size the accuracy was measured at and the preprocessing.

``CHECKPOINT_PATH = 'slim://NAME'`` downloads, verifies and caches the entry ``NAME``
(see ``jacktf.pretrained.fetch``); ``jacktf pretrained list`` prints the table.

To add a checkpoint: add an entry keyed by the registered backbone name whose variables
the checkpoint holds (``fetch`` checks names and shapes against that backbone).
"""

import dataclasses
import difflib
import os
import urllib.parse
from typing import Optional

from jacktf.core.errors import RestoreError

SLIM_README = 'tensorflow/models research/slim/README.md'
MOBILENET_V1_README = 'tensorflow/models research/slim/nets/mobilenet_v1.md'
MOBILENET_README = 'tensorflow/models research/slim/nets/mobilenet/README.md'


@dataclasses.dataclass(frozen=True)
class PretrainedCheckpoint:
    """One official checkpoint.

    Attributes:
      name: the registered backbone whose variables the checkpoint holds.
      url: the official archive (.tar.gz / .tgz).
      checkpoint: the checkpoint prefix inside the extracted archive (V2:
        ``<checkpoint>.index`` + ``.data-*``; older archives: one V1 file of that name).
      top1 / top5: published ImageNet validation accuracy in percent (top5 None where the
        README publishes none).
      num_classes: classes of the checkpoint's classifier (1001: background at index 0).
      image_size: the input size the published accuracy was measured at.
      preprocessing: the preprocessor the checkpoint was trained with.
      sha256: the archive's sha256 where its publisher states one (None: unknown; the
        extracted checkpoint is still checked against the backbone's variables).
      fingerprint: {variable name: CRC-32 of its float32 bytes} of a few variables
        of the published checkpoint where known (``jacktf.pretrained.values``); a
        download whose values differ is refused. Every download is also checked for
        untrained values (batch-norm statistics still at 0/1).
      source: the README the row comes from.
      note: anything a user should know about the row.
    """
    name: str
    url: str
    checkpoint: str
    top1: float
    top5: Optional[float]
    num_classes: int
    image_size: int
    preprocessing: str
    sha256: Optional[str] = None
    fingerprint: Optional[dict] = None
    source: str = SLIM_README
    note: str = ''

    @property
    def archive(self):
        """The archive's file name, e.g. 'resnet_v1_50_2016_08_28.tar.gz'."""
        return os.path.basename(urllib.parse.urlparse(self.url).path)

    def to_dict(self):
        row = dataclasses.asdict(self)
        row['archive'] = self.archive
        return row


_TF = 'https://download.tensorflow.org/models/'
_V1 = _TF + 'mobilenet_v1_2018_02_22/'
_V2 = 'https://storage.googleapis.com/mobilenet_v2/checkpoints/'
_V3 = 'https://storage.googleapis.com/mobilenet_v3/checkpoints/'
_RESNET_V2_NOTE = ('The README measures ResNet v2 at 299x299 with inception preprocessing; '
                   "the backbone's default input stays slim's 224.")
_NAS = 'https://storage.googleapis.com/download.tensorflow.org/models/'
_NAS_NOTE = ('Variables at the graph root (cell_<n>/..., final_layer/...), no net scope. ')
_AUX_IN = 'The auxiliary head ({}) restores when the archive holds it; otherwise it starts fresh.'
_V3_NOTE = ('The archive holds ema/ (the averaged weights, the published accuracy) and '
            'pristine/ checkpoints; the zoo uses ema/. No top-5 is published.')


def _slim(name, archive, checkpoint, top1, top5, classes, size, prep, note=''):
    return PretrainedCheckpoint(name=name, url=_TF + archive, checkpoint=checkpoint,
                                top1=top1, top5=top5, num_classes=classes, image_size=size,
                                preprocessing=prep, note=note)


def _nasnet(name, archive, top1, top5, size, aux):
    return PretrainedCheckpoint(name=name, url=_NAS + archive, checkpoint='model.ckpt',
                                top1=top1, top5=top5, num_classes=1001, image_size=size,
                                preprocessing='inception',
                                note=_NAS_NOTE + _AUX_IN.format(aux))


def _mobilenet(name, url, checkpoint, top1, top5, source, note='', fingerprint=None):
    return PretrainedCheckpoint(name=name, url=url, checkpoint=checkpoint, top1=top1,
                                top5=top5, num_classes=1001, image_size=224,
                                preprocessing='inception', source=source, note=note,
                                fingerprint=fingerprint)


# The classifier of MobileNet v1 0.25 has no batch norm, so Google's .tflite (the source
# of the shipped weights, PROVENANCE.md) holds its values unchanged: the official
# checkpoint's Logits equal the shipped ones (tests/test_zoo.py recomputes these).
_MOBILENET_V1_025_FINGERPRINT = {
    'MobilenetV1/Logits/Conv2d_1c_1x1/weights': '170bfca9',
    'MobilenetV1/Logits/Conv2d_1c_1x1/biases': 'a5c000da',
}


_ENTRIES = [
    _slim('inception_v1', 'inception_v1_2016_08_28.tar.gz', 'inception_v1.ckpt',
          69.8, 89.6, 1001, 224, 'inception'),
    _slim('inception_v2', 'inception_v2_2016_08_28.tar.gz', 'inception_v2.ckpt',
          73.9, 91.8, 1001, 224, 'inception'),
    _slim('inception_v3', 'inception_v3_2016_08_28.tar.gz', 'inception_v3.ckpt',
          78.0, 93.9, 1001, 299, 'inception'),
    _slim('inception_v4', 'inception_v4_2016_09_09.tar.gz', 'inception_v4.ckpt',
          80.2, 95.2, 1001, 299, 'inception'),
    _slim('inception_resnet_v2', 'inception_resnet_v2_2016_08_30.tar.gz',
          'inception_resnet_v2_2016_08_30.ckpt', 80.4, 95.3, 1001, 299, 'inception'),
    _slim('resnet_v1_50', 'resnet_v1_50_2016_08_28.tar.gz', 'resnet_v1_50.ckpt',
          75.2, 92.2, 1000, 224, 'vgg'),
    _slim('resnet_v1_101', 'resnet_v1_101_2016_08_28.tar.gz', 'resnet_v1_101.ckpt',
          76.4, 92.9, 1000, 224, 'vgg'),
    _slim('resnet_v1_152', 'resnet_v1_152_2016_08_28.tar.gz', 'resnet_v1_152.ckpt',
          76.8, 93.2, 1000, 224, 'vgg'),
    _slim('resnet_v2_50', 'resnet_v2_50_2017_04_14.tar.gz', 'resnet_v2_50.ckpt',
          75.6, 92.8, 1001, 299, 'inception', _RESNET_V2_NOTE),
    _slim('resnet_v2_101', 'resnet_v2_101_2017_04_14.tar.gz', 'resnet_v2_101.ckpt',
          77.0, 93.7, 1001, 299, 'inception', _RESNET_V2_NOTE),
    _slim('resnet_v2_152', 'resnet_v2_152_2017_04_14.tar.gz', 'resnet_v2_152.ckpt',
          77.8, 94.1, 1001, 299, 'inception', _RESNET_V2_NOTE),
    _slim('vgg_16', 'vgg_16_2016_08_28.tar.gz', 'vgg_16.ckpt', 71.5, 89.8, 1000, 224, 'vgg'),
    _slim('vgg_19', 'vgg_19_2016_08_28.tar.gz', 'vgg_19.ckpt', 71.1, 89.8, 1000, 224, 'vgg'),
    _nasnet('nasnet_mobile', 'nasnet-a_mobile_04_10_2017.tar.gz', 74.0, 91.6, 224, 'aux_7'),
    _nasnet('nasnet_large', 'nasnet-a_large_04_10_2017.tar.gz', 82.7, 96.2, 331, 'aux_11'),
    _nasnet('pnasnet_mobile', 'pnasnet-5_mobile_2017_12_13.tar.gz', 74.2, 91.9, 224,
            'aux_5'),
    _nasnet('pnasnet_large', 'pnasnet-5_large_2017_12_13.tar.gz', 82.9, 96.2, 331, 'aux_7'),
    _mobilenet('mobilenet_v1', _V1 + 'mobilenet_v1_1.0_224.tgz', 'mobilenet_v1_1.0_224.ckpt',
               70.9, 89.9, MOBILENET_V1_README),
    _mobilenet('mobilenet_v1_075', _V1 + 'mobilenet_v1_0.75_224.tgz',
               'mobilenet_v1_0.75_224.ckpt', 68.4, 88.2, MOBILENET_V1_README),
    _mobilenet('mobilenet_v1_050', _V1 + 'mobilenet_v1_0.5_224.tgz',
               'mobilenet_v1_0.5_224.ckpt', 63.3, 84.9, MOBILENET_V1_README),
    _mobilenet('mobilenet_v1_025', _V1 + 'mobilenet_v1_0.25_224.tgz',
               'mobilenet_v1_0.25_224.ckpt', 49.8, 74.2, MOBILENET_V1_README,
               fingerprint=_MOBILENET_V1_025_FINGERPRINT),
    _mobilenet('mobilenet_v2', _V2 + 'mobilenet_v2_1.0_224.tgz', 'mobilenet_v2_1.0_224.ckpt',
               71.8, 91.0, MOBILENET_README),
    _mobilenet('mobilenet_v2_140', _V2 + 'mobilenet_v2_1.4_224.tgz',
               'mobilenet_v2_1.4_224.ckpt', 75.0, 92.5, MOBILENET_README),
    _mobilenet('mobilenet_v2_035', _V2 + 'mobilenet_v2_0.35_224.tgz',
               'mobilenet_v2_0.35_224.ckpt', 60.3, 82.9, MOBILENET_README),
    _mobilenet('mobilenet_v3_large', _V3 + 'v3-large_224_1.0_float.tgz',
               'v3-large_224_1.0_float/ema/model-540000', 75.2, None, MOBILENET_README,
               _V3_NOTE),
    _mobilenet('mobilenet_v3_small', _V3 + 'v3-small_224_1.0_float.tgz',
               'v3-small_224_1.0_float/ema/model-388500', 67.5, None, MOBILENET_README,
               _V3_NOTE),
]

ZOO = {entry.name: entry for entry in _ENTRIES}


def names():
    """The backbone names that have an official checkpoint, sorted."""
    return sorted(ZOO)


def pretrained(name):
    """The official checkpoint of a registered backbone, or None when it has none.

    For backbone cards and commands: ``pretrained('resnet_v1_50').top1`` -> 75.2.
    """
    return ZOO.get(name)


def get(name):
    """Like ``pretrained`` but strict.

    Raises:
      RestoreError: ``name`` has no official checkpoint (with the closest names).
    """
    entry = ZOO.get(name)
    if entry is None:
        close = difflib.get_close_matches(str(name), names(), n=3, cutoff=0.5)
        hint = f' Did you mean {" or ".join(repr(c) for c in close)}?' if close else ''
        raise RestoreError(
            f'No official slim checkpoint is known for {name!r}.{hint} `jacktf pretrained '
            f'list` prints the {len(ZOO)} names; for another checkpoint give its path '
            "(CHECKPOINT_PATH = '/path/model.ckpt').")
    return entry


def listing():
    """One dict a checkpoint, in name order, with ``builtin`` (the shipped prefix or
    None) and ``cached`` (the cached prefix or None) added."""
    from jacktf.pretrained import builtin, cache
    rows = []
    for name in names():
        row = ZOO[name].to_dict()
        row['builtin'] = builtin.BUILTIN[name].prefix if name in builtin.BUILTIN else None
        row['cached'] = cache.cached_prefix(name)
        rows.append(row)
    return rows


def format_listing(rows):
    """The table `jacktf pretrained list` prints (accuracies in percent, size in px)."""
    width = max(len(r['name']) for r in rows)
    lines = [f'{"NAME":<{width}}  TOP-1  TOP-5  SIZE  PREPROCESSING  CLASSES  '
             f'{"STATUS":<14}  ARCHIVE']
    for r in rows:
        status = ','.join(s for s in ('builtin', 'cached') if r[s]) or '-'
        top5 = f"{r['top5']:.1f}" if r['top5'] is not None else '-'
        lines.append(f"{r['name']:<{width}}  {r['top1']:>5.1f}  {top5:>5}  "
                     f"{r['image_size']:>4}  {r['preprocessing']:<13}  "
                     f"{r['num_classes']:>7}  {status:<14}  {r['url']}")
    return '\n'.join(lines)
