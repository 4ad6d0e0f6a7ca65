"""Registry: the named factories of every plugin kind, one instance per loaded set.

Plugins receive a Registry in their ``jacktf_register_*`` hook and call the registrar
method of their kind. Registries are plain instances: each test can build its own.
"""

import contextlib
import dataclasses
import difflib
import logging
from typing import Any, Callable, Dict, List, Optional

from jacktf.core.card import BackboneCard
from jacktf.core.errors import DuplicatePluginError, UnknownPluginError

log = logging.getLogger('jacktf')

KINDS = ('backbone', 'head', 'optimizer', 'lr_schedule', 'decoder', 'preprocessor',
         'callback', 'augmentation')


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered factory."""
    kind: str
    name: str
    factory: Callable
    provider: str
    summary: str
    card: Optional[Any] = None


def _first_line(fn):
    doc = (getattr(fn, '__doc__', None) or '').strip()
    return doc.splitlines()[0] if doc else ''


class Registry:
    """Named factories of each kind, with the provider that registered them."""

    def __init__(self):
        self._entries: Dict[str, Dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._provider = 'unknown'
        self.failures = []  # (provider, message) of plugins that failed to load

    @contextlib.contextmanager
    def providing(self, provider):
        """Attributes registrations made inside the block to ``provider``."""
        previous, self._provider = self._provider, provider
        try:
            yield self
        finally:
            self._provider = previous

    def add(self, kind, name, factory, *, summary=None, card=None):
        """Registers ``factory`` under ``name`` for ``kind``.

        Raises:
          DuplicatePluginError: the name is taken for that kind; names both providers.
          ValueError: unknown kind, a bad name, or a factory that is not callable.
        """
        if kind not in self._entries:
            raise ValueError(f'Unknown plugin kind {kind!r}; kinds are {", ".join(KINDS)}.')
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f'A {kind} name must be a Python identifier (used in gin '
                             f'files), got {name!r}.')
        if not callable(factory):
            raise ValueError(f'The {kind} {name!r} must be registered with a callable, '
                             f'got {factory!r}.')
        existing = self._entries[kind].get(name)
        if existing is not None:
            raise DuplicatePluginError(
                f'The {kind} name {name!r} is registered twice: by {existing.provider} and '
                f'by {self._provider}. Uninstall or disable one of them '
                f'(JACKTF_DISABLED_PLUGINS), or register under another name.')
        entry = Entry(kind=kind, name=name, factory=factory, provider=self._provider,
                      summary=summary or _first_line(factory), card=card)
        self._entries[kind][name] = entry
        return entry

    def backbone(self, name, net_fn, *, default_image_size, preprocessing, scope=None,
                 arg_scope=None, classifier_scopes=(), num_classes_official=1000,
                 input_range=(-1.0, 1.0), features_endpoint=None, cam_endpoint=None,
                 native_logits_endpoint=None, restore_together=(), summary=None):
        """Registers a slim network function ``net_fn(images, num_classes, is_training)``.

        ``net_fn`` returns ``(net, end_points)``; called with ``num_classes=None`` it
        returns pooled features, called with a class count it returns logits. The
        other arguments fill the backbone's :class:`BackboneCard`.
        """
        classifier_scopes = tuple(classifier_scopes)
        if scope is None:
            scope = classifier_scopes[0].split('/')[0] if classifier_scopes else name
        card = BackboneCard(
            name=name, scope=scope, default_image_size=int(default_image_size),
            preprocessing=preprocessing, input_range=tuple(input_range),
            features_endpoint=features_endpoint, cam_endpoint=cam_endpoint,
            num_classes_official=int(num_classes_official),
            classifier_scopes=classifier_scopes, arg_scope=arg_scope,
            native_logits_endpoint=native_logits_endpoint,
            restore_together=tuple(restore_together))
        return self.add('backbone', name, net_fn, summary=summary, card=card)

    def head(self, name, head_fn, *, summary=None):
        """Registers ``head_fn(features, *, num_classes, is_training, context) -> logits``."""
        return self.add('head', name, head_fn, summary=summary)

    def optimizer(self, name, factory, *, summary=None):
        """Registers ``factory(learning_rate, **options) -> tf.keras optimizer``."""
        return self.add('optimizer', name, factory, summary=summary)

    def lr_schedule(self, name, factory, *, summary=None):
        """Registers ``factory(learning_rate, **options) -> schedule(step) -> lr``."""
        return self.add('lr_schedule', name, factory, summary=summary)

    def decoder(self, name, factory, *, summary=None):
        """Registers ``factory(**options) -> decode(record) -> dict(image, label, ...)``."""
        return self.add('decoder', name, factory, summary=summary)

    def preprocessor(self, name, card, *, summary=None):
        """Registers a :class:`~jacktf.core.preprocessing_card.PreprocessingCard`.

        The entry's factory is ``fn(image_uint8, *, image_size, is_training, seed=None)
        -> float32 model input``, derived from the card; ``entry.card`` is the card. A
        bare function (the form before cards) still works for this release, with a
        deprecation warning: it has no exact inverse and no client steps.
        """
        from jacktf.core.preprocessing_card import LegacyPreprocessing, PreprocessingCard
        if not isinstance(card, PreprocessingCard):
            if not callable(card):
                raise ValueError(f'The preprocessor {name!r} must be registered with a '
                                 f'jacktf.PreprocessingCard, got {card!r}.')
            log.warning('Deprecated: the preprocessor %r (%s) is registered as a bare '
                        'function; register a jacktf.PreprocessingCard instead (see '
                        'docs/guides/preprocessing.md). Functions stop working in the '
                        'next release.', name, self._provider)
            card = LegacyPreprocessing(card)

        def preprocess(image, *, image_size, is_training, seed=None):
            return card.preprocess(image, image_size=image_size, is_training=is_training,
                                   seed=seed)

        preprocess.__name__ = preprocess.__qualname__ = name
        preprocess.__doc__ = card.summary
        return self.add('preprocessor', name, preprocess, summary=summary, card=card)

    def callback(self, name, factory, *, summary=None):
        """Registers ``factory(**options) -> Callback`` (jacktf.train.callbacks.Callback:
        methods named after the Controller's events); recipes add it with
        ``Trainer.callbacks = [@name()]``."""
        return self.add('callback', name, factory, summary=summary)

    def augmentation(self, name, factory, *, summary=None):
        """Registers ``factory(**options) -> augmentation`` (see jacktf.data.augment: an
        object with ``stage`` 'image', 'example' or 'batch' and ``augment``); recipes
        add it with ``Experiment.augmentations = [@name()]``."""
        return self.add('augmentation', name, factory, summary=summary)

    def get(self, kind, name) -> Entry:
        """Returns the entry for ``name``.

        Raises:
          UnknownPluginError: naming the kind, the closest names and `jacktf plugins`.
        """
        if kind not in self._entries:
            raise ValueError(f'Unknown plugin kind {kind!r}; kinds are {", ".join(KINDS)}.')
        try:
            return self._entries[kind][name]
        except KeyError:
            pass
        names = sorted(self._entries[kind])
        close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
        hint = f' Did you mean {" or ".join(repr(c) for c in close)}?' if close else ''
        raise UnknownPluginError(
            f'Unknown {kind} {name!r}.{hint} Run `jacktf plugins --kind {kind}` to list '
            f'the {len(names)} registered {kind} names.')

    def names(self, kind) -> List[str]:
        return sorted(self._entries[kind])

    def entries(self, kind=None) -> List[Entry]:
        kinds = KINDS if kind is None else (kind,)
        return [self._entries[k][n] for k in kinds for n in sorted(self._entries[k])]

    def __contains__(self, kind_and_name):
        kind, name = kind_and_name
        return name in self._entries.get(kind, {})
