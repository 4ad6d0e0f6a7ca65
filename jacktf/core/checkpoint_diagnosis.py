"""Which net a checkpoint belongs to, read from its own variable names and shapes.

When a checkpoint does not fit the model, ``diagnose`` says what it holds: its root
scopes, its class count, the registered backbones whose variables it matches (building
only backbones whose card scope occurs in the checkpoint, in a TF1 graph, to get their
variable names and shapes without running anything), and, when the names equal the
model's under an extra or missing outer prefix, the ``Experiment.scope_map`` binding
that fixes it.
"""

import collections
import contextlib
import dataclasses
import inspect
import logging
from typing import Dict, List, Optional

import tensorflow as tf
import tf_slim as slim

from jacktf.core import scopes

log = logging.getLogger('jacktf')
_IGNORED = ('global_step',)
_MAX_WRAPPER_DEPTH = 3  # outer scopes a wrapper may add (tower_0/, model/, ...)
_shape_cache: Dict[tuple, Dict[str, list]] = {}


@dataclasses.dataclass
class Candidate:
    """A registered backbone compared with a checkpoint."""
    name: str
    scope: str
    prefix: str  # the outer scope the checkpoint puts around the backbone's names
    matched: int  # variables with the same name and shape
    named: int  # variables with the same name
    total: int  # backbone variables outside the classifier
    depth_multiplier: Optional[float] = None

    @property
    def exact(self):
        return self.total > 0 and self.matched == self.total


def root_scopes(ckpt_shapes) -> List[tuple]:
    """[(root scope, variable count)], most variables first."""
    counts = collections.Counter(n.split('/')[0] for n in ckpt_shapes if n not in _IGNORED)
    return counts.most_common()


def _describe_roots(ckpt_shapes, limit=5):
    scoped = {n.split('/')[0] for n in ckpt_shapes if '/' in n}
    roots = root_scopes(ckpt_shapes)
    shown = ', '.join(f'{r}{"/" if r in scoped else ""} ({c} variable{"s" * (c != 1)})'
                      for r, c in roots[:limit])
    return shown + (f' and {len(roots) - limit} more' if len(roots) > limit else '')


def backbone_shapes(entry):
    """{variable name: shape} of a registered backbone with its official classifier.

    Built once per backbone and process, in a private TF1 graph: nothing runs.
    """
    card = entry.card
    num_classes = card.num_classes_official
    key = (entry.name, id(entry.factory))
    if key not in _shape_cache:
        size = card.default_image_size
        with tf.Graph().as_default():
            images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3])
            with slim.arg_scope(card.arg_scope()) if card.arg_scope else \
                    contextlib.nullcontext():
                entry.factory(images, num_classes=num_classes, is_training=False)
            _shape_cache[key] = {v.op.name: v.shape.as_list()
                                 for v in tf.compat.v1.global_variables()}
    return _shape_cache[key]


def _prefixes_of(ckpt_shapes, scope):
    """Outer prefixes ('' or 'tower_0/') under which ``scope``/ occurs in the checkpoint."""
    found = set()
    for name in ckpt_shapes:
        parts = name.split('/')
        for i in range(min(_MAX_WRAPPER_DEPTH + 1, len(parts))):
            if '/'.join(parts[i:]).startswith(scope + '/'):
                found.add('/'.join(parts[:i]) + '/' if i else '')
    return sorted(found, key=len)


def _depth_multiplier(entry):
    try:
        param = inspect.signature(entry.factory).parameters.get('depth_multiplier')
    except (TypeError, ValueError):
        return None
    if param is None or not isinstance(param.default, (int, float)):
        return None
    return float(param.default)


def _compare(entry, ckpt_shapes, prefix):
    shapes = backbone_shapes(entry)
    own = {n: s for n, s in shapes.items()
           if not scopes.matches_any(n, entry.card.classifier_scopes)}
    named = [n for n in own if prefix + n in ckpt_shapes]
    matched = [n for n in named if list(ckpt_shapes[prefix + n]) == list(own[n])]
    return Candidate(name=entry.name, scope=entry.card.scope, prefix=prefix,
                     matched=len(matched), named=len(named), total=len(own),
                     depth_multiplier=_depth_multiplier(entry))


def candidates(ckpt_shapes, registry) -> List[Candidate]:
    """Registered backbones whose card scope occurs in the checkpoint, best first.

    Only those backbones are built, and no more of one scope once one matches exactly
    (depth multipliers share their names); one that fails to build is left out.
    """
    found, settled = [], set()
    for entry in registry.entries('backbone'):
        if entry.card is None:
            continue
        for prefix in _prefixes_of(ckpt_shapes, entry.card.scope):
            if (prefix, entry.card.scope) in settled:
                continue
            try:
                candidate = _compare(entry, ckpt_shapes, prefix)
            except Exception as e:  # a plugin net that cannot build in a TF1 graph
                log.debug('diagnosis: cannot build %s: %s', entry.name, e)
                continue
            found.append(candidate)
            if candidate.exact:
                settled.add((prefix, entry.card.scope))
    return sorted(found, key=lambda c: (not c.exact, -c.matched / max(c.total, 1),
                                        -c.named, c.name))


def class_count(ckpt_shapes, card=None, prefix='') -> Optional[int]:
    """Classes of the checkpoint's classifier (its logits bias), or None."""
    for scope in (card.classifier_scopes if card else ()):
        for name, shape in ckpt_shapes.items():
            if name.startswith(prefix + scope + '/') and name.endswith('biases') and shape:
                return int(shape[-1])
    for name, shape in sorted(ckpt_shapes.items()):
        parts = [p.lower() for p in name.split('/')]
        if 'logits' in parts and parts[-1] == 'biases' and shape:
            return int(shape[-1])
    return None


def scope_map_fix(model_shapes, ckpt_shapes, backbone_scope, classifier_scopes=()):
    """The ``{model scope: checkpoint scope}`` under which the backbone's names fit.

    Finds the outer prefix the checkpoint adds to (or lacks from) the model's backbone
    names: ``tower_0/MobilenetV1/...`` for ``MobilenetV1/...`` gives
    ``{'MobilenetV1': 'tower_0/MobilenetV1'}``; a checkpoint without the root gives
    ``{'MobilenetV1': ''}``; another root gives ``{'resnet_v1_50': 'old_root'}``.
    Returns (scope_map, variables it restores) or (None, 0) when no prefix fits at least
    half of the backbone and more of it than the names as they are.
    """
    if not backbone_scope:
        return None, 0
    own = {n: s for n, s in model_shapes.items()
           if scopes.rule_matches(backbone_scope, n) and
           not scopes.matches_any(n, classifier_scopes)}
    index = collections.defaultdict(list)
    for name, shape in ckpt_shapes.items():
        parts = name.split('/')
        for k in range(min(_MAX_WRAPPER_DEPTH, len(parts) - 2) + 1):
            index['/'.join(parts[k:])].append(('/'.join(parts[:k]), list(shape)))
    pairs = collections.defaultdict(set)  # mapping -> model names it fits
    for name, shape in own.items():
        parts = name.split('/')
        for j in range(min(_MAX_WRAPPER_DEPTH, len(parts) - 2) + 1):
            model_prefix = '/'.join(parts[:j])
            for ckpt_prefix, ckpt_shape in index.get('/'.join(parts[j:]), ()):
                if ckpt_shape == list(shape):
                    pairs[_as_map(model_prefix, ckpt_prefix, backbone_scope)].add(name)
    direct = sum(1 for n, s in own.items() if list(ckpt_shapes.get(n, [None])) == list(s))
    best = [(len(fit), m) for m, fit in pairs.items() if m is not None]
    if not best:
        return None, 0
    count, mapping = max(best, key=lambda x: (x[0], -len(repr(x[1]))))
    if count * 2 < len(own) or count <= direct:
        return None, 0
    return dict(mapping), count


def _as_map(model_prefix, ckpt_prefix, backbone_scope):
    if model_prefix == ckpt_prefix:
        return None
    if not model_prefix:
        root = backbone_scope.split('/')[0]
        return ((root, f'{ckpt_prefix}/{root}'),)
    return ((model_prefix, ckpt_prefix),)


def _net_phrase(c, num_classes):
    parts = []
    if c.depth_multiplier is not None:
        parts.append(f'depth multiplier {c.depth_multiplier:g}')
    parts.append(f'{num_classes} classes' if num_classes else 'no classifier')
    return f'{c.prefix}{c.scope}/ with {" and ".join(parts)}'


def diagnose(model_shapes, ckpt_shapes, *, card, registry, backbone_name,
             scope_map=None) -> str:
    """A paragraph saying what the checkpoint holds and the binding that fits it.

    Args:
      model_shapes: {model variable name: shape}.
      ckpt_shapes: {checkpoint variable name: shape}.
      card: the model backbone's BackboneCard.
      registry: the Registry whose backbones are compared.
      backbone_name: the model's registered backbone name.
      scope_map: the scope_map in use, if any.

    Returns:
      The diagnosis, one or a few sentences.
    """
    names = [n for n in ckpt_shapes if n not in _IGNORED]
    if not names:
        return 'The checkpoint holds no variables.'
    mapping, count = scope_map_fix(model_shapes, ckpt_shapes, card.scope,
                                   card.classifier_scopes)
    if mapping and mapping != (scope_map or None):
        return (f'Its names equal the model\'s under another outer scope ({count} '
                f'backbone variables fit): add `Experiment.scope_map = {mapping!r}` to the '
                f'recipe (or --gin_param="Experiment.scope_map = {mapping!r}").')
    found = candidates(ckpt_shapes, registry)
    exact = [c for c in found if c.exact]
    classes = class_count(ckpt_shapes, registry.get('backbone', exact[0].name).card
                          if exact else card, exact[0].prefix if exact else '')
    head = f'The checkpoint\'s root scopes: {_describe_roots(ckpt_shapes)}.'
    if exact:
        best = exact[0]
        fix = f'BACKBONE = @{best.name}'
        if best.prefix:
            fix += (f' and Experiment.scope_map = '
                    f'{{{best.scope!r}: {best.prefix + best.scope!r}}}')
        if best.name == backbone_name:
            return (f'{head} It is a checkpoint of {best.name} with its default options '
                    f'({_net_phrase(best, classes)}); the model\'s options change its '
                    f'variables: drop the {best.name}.* / Model.backbone_kwargs bindings '
                    'that differ (depth multiplier, ...), or use a checkpoint trained '
                    'with them.')
        return (f'{head} This checkpoint holds {_net_phrase(best, classes)}: {fix}. The '
                f'recipe builds {_model_phrase(registry, backbone_name, card)}: set that '
                f'in the recipe, or give a checkpoint of {backbone_name}.')
    own = [c for c in found if c.name == backbone_name and c.matched]
    if own and own[0].matched >= found[0].matched:
        return (f'{head} It holds {own[0].matched} of the {own[0].total} variables of '
                f'@{backbone_name} with their shapes: a partial checkpoint, or one of '
                'another version of the net. Exclude only the layers you replace.')
    if found and found[0].matched * 2 >= found[0].total:
        best = found[0]
        return (f'{head} Closest registered backbone: @{best.name} ({best.matched} of '
                f'{best.total} variables match in name and shape). The recipe builds '
                f'{_model_phrase(registry, backbone_name, card)}.')
    return (f'{head} No registered backbone matches them'
            f'{" (classes: %d)" % classes if classes else ""}; the recipe builds '
            f'{_model_phrase(registry, backbone_name, card)}. Run `jacktf plugins --kind '
            'backbone` to list the backbones (a plugin may provide this net), or give a '
            'checkpoint of the recipe\'s backbone.')


def _model_phrase(registry, backbone_name, card):
    multiplier = (_depth_multiplier(registry.get('backbone', backbone_name))
                  if ('backbone', backbone_name) in registry else None)
    extra = f', depth multiplier {multiplier:g}' if multiplier is not None else ''
    return f'@{backbone_name} ({card.scope}/{extra})'

