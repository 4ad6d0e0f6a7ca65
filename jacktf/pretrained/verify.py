"""Does a checkpoint hold a backbone? Names and shapes, compared with the built net.

The backbone's network function is called as jacktf's Model calls it (under its card's
arg_scope, with its own classifier at the official class count) inside a throw-away
``tf.Graph``: variables are declared, never allocated, so even VGG costs no memory, and
no Keras layer is made (a Keras layer made in a graph would break the process's eager
models). Every backbone variable must be in the checkpoint with the same shape; the
checkpoint may hold more (``global_step``, ...).
"""

import contextlib

import tensorflow as tf

from jacktf.core import checkpoint_diagnosis
from jacktf.core.errors import RestoreError

_MAX_CANDIDATES = 6


def backbone_shapes(name, registry):
    """{variable name: shape} of the registered backbone with its own classifier (built
    once per process by the restore diagnosis, in a throw-away graph)."""
    return checkpoint_diagnosis.backbone_shapes(registry.get('backbone', name))


def checkpoint_shapes(prefix):
    """{variable name: shape} of a checkpoint (V1 or V2).

    Raises:
      RestoreError: the files are not a readable checkpoint.
    """
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
        raise RestoreError(f'{prefix} is not a readable checkpoint '
                           f'({str(e).splitlines()[0][:200]}).') from None
    return {n: list(s) for n, s in reader.get_variable_to_shape_map().items()}


def compare(expected, found):
    """(missing names, [(name, expected shape, found shape)]) of ``expected`` in ``found``."""
    missing = sorted(n for n in expected if n not in found)
    mismatched = sorted((n, expected[n], found[n]) for n in expected
                        if n in found and list(found[n]) != list(expected[n]))
    return missing, mismatched


def root_scopes(shapes):
    """The first name components of a checkpoint's variables, by count, largest first."""
    counts = {}
    for name in shapes:
        root = name.split('/', 1)[0]
        counts[root] = counts.get(root, 0) + 1
    return sorted(counts, key=lambda r: (-counts[r], r))


def identify(found, registry):
    """The registered backbones whose variables ``found`` holds (same root scope only)."""
    roots = set(root_scopes(found))
    candidates = [e.name for e in registry.entries('backbone')
                  if e.card is not None and e.card.scope in roots][:_MAX_CANDIDATES]
    matches = []
    for name in candidates:
        with contextlib.suppress(Exception):  # a candidate that cannot build is no match
            if compare(backbone_shapes(name, registry), found) == ([], []):
                matches.append(name)
    return matches


def describe(found, registry):
    """One sentence on what a checkpoint holds, naming the backbone it fits if any."""
    roots = root_scopes(found)
    shown = ', '.join(roots[:4]) + (f' and {len(roots) - 4} more' if len(roots) > 4 else '')
    text = f'{len(found)} variables under {shown or "no scope"}'
    matches = identify(found, registry)
    if matches:
        return f"{text}: the variables of the backbone {' / '.join(map(repr, matches))}"
    return f'{text}, matching no registered backbone'


def check_backbone(prefix, name, registry):
    """Checks that the checkpoint at ``prefix`` holds the backbone ``name``.

    Returns:
      The number of backbone variables found with their shapes.

    Raises:
      RestoreError: a variable is missing or has another shape; the message says what
        the checkpoint holds instead.
    """
    expected = backbone_shapes(name, registry)
    found = checkpoint_shapes(prefix)
    missing, mismatched = compare(expected, found)
    if not missing and not mismatched:
        return len(expected)
    problems = []
    if mismatched:
        problems.append(f'{len(mismatched)} variables have other shapes (first: '
                        + ', '.join(f'{n} {e} vs {f}' for n, e, f in mismatched[:2]) + ')')
    if missing:
        problems.append(f'{len(missing)} of its {len(expected)} variables are missing '
                        f'(first: {", ".join(missing[:2])})')
    raise RestoreError(f'The checkpoint does not hold the backbone {name!r}: '
                       f'{"; ".join(problems)}. It holds {describe(found, registry)}.')
