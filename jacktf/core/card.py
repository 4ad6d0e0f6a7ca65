"""BackboneCard: what a backbone needs besides its network function to be used well."""

import dataclasses
import logging
from typing import Callable, Optional, Tuple

log = logging.getLogger('jacktf')
_NOTED = set()

# The fields a plugin must give; every other field is optional everywhere: a feature
# that needs a missing one is skipped with one line (``skipped``), the rest works.
REQUIRED_FIELDS = ('name', 'default_image_size', 'preprocessing')


@dataclasses.dataclass(frozen=True)
class BackboneCard:
    """Facts about one registered backbone (the analogue of timm's pretrained config).

    Attributes:
      name: the registered name, e.g. 'resnet_v1_50'.
      scope: the root variable scope of the official checkpoint, e.g. 'resnet_v1_50'.
      default_image_size: input height and width the official checkpoint was trained at.
      preprocessing: name of the default preprocessor plugin ('vgg' or 'inception').
      input_range: (low, high) of the preprocessed pixels the net expects.
      features_endpoint: the endpoint that feeds heads (pooled features).
      cam_endpoint: the last convolutional endpoint, read by class activation maps.
      num_classes_official: class count of the official checkpoint (1000 or 1001).
      classifier_scopes: scopes of the net's own classifier; a new head excludes them.
      arg_scope: a function returning the slim arg_scope the net is built under.
      native_logits_endpoint: the endpoint of the net's own logits.
      restore_together: scopes restored whole or not at all (auxiliary heads: when a
        checkpoint cannot fill one of their variables, none is restored).
    """
    name: str
    scope: str
    default_image_size: int
    preprocessing: str
    input_range: Tuple[float, float] = (-1.0, 1.0)
    features_endpoint: Optional[str] = None
    cam_endpoint: Optional[str] = None
    num_classes_official: int = 1000
    classifier_scopes: Tuple[str, ...] = ()
    arg_scope: Optional[Callable] = None
    native_logits_endpoint: Optional[str] = None
    restore_together: Tuple[str, ...] = ()

    @property
    def label_offset(self):
        """1 when the official checkpoint has a background class at index 0."""
        return 1 if self.num_classes_official == 1001 else 0

    def summary(self):
        """One line with the card's main fields, for `jacktf plugins`."""
        return (f'scope={self.scope} size={self.default_image_size} '
                f'preprocessing={self.preprocessing} classes={self.num_classes_official}')


def skipped(card, field, feature):
    """Says once per process that ``feature`` is skipped because ``card`` leaves the
    optional ``field`` unset (e.g. no ``cam_endpoint``: no class activation maps)."""
    key = (card.name, field, feature)
    if key in _NOTED:
        return
    _NOTED.add(key)
    log.info('%s skipped: the backbone %s declares no %s (an optional card field; '
             'registry.backbone(..., %s=ENDPOINT) adds it).', feature, card.name, field,
             field)
