"""Scope rules over variable names: pure functions, no TensorFlow.

Slim semantics: a scope is a prefix matched at '/' boundaries, so 'resnet_v1_50/block1'
matches 'resnet_v1_50/block1/unit_1/...' but not 'resnet_v1_50/block10/...'. A rule
written as 're:<pattern>' is a regular expression searched from the start of the name.
Rules come as a comma-separated string, a list, or None.
"""

import re
from typing import Iterable, List, Sequence, Tuple


def var_name(name: str) -> str:
    """Strips the ':0' output suffix TensorFlow adds to variable names."""
    return name[:-2] if name.endswith(':0') else name


def parse_scopes(spec) -> Tuple[str, ...]:
    """Normalizes None, 'a,b' or ['a', 'b'] to a tuple of non-empty rules."""
    if spec is None:
        return ()
    if isinstance(spec, str):
        items = spec.split(',')
    else:
        items = []
        for item in spec:
            if not isinstance(item, str):
                raise TypeError(f'A scope rule must be a string, got {item!r}.')
            items.extend(item.split(',') if not item.startswith('re:') else [item])
    return tuple(i.strip().rstrip('/') for i in items if i.strip().rstrip('/'))


def rule_matches(rule: str, name: str) -> bool:
    """True when ``rule`` covers the variable ``name``."""
    name = var_name(name)
    if rule.startswith('re:'):
        return re.match(rule[3:], name) is not None
    return name == rule or name.startswith(rule + '/')


def matches_any(name: str, rules: Sequence[str]) -> bool:
    return any(rule_matches(r, name) for r in rules)


def select(names: Iterable[str], rules: Sequence[str]) -> List[str]:
    """The names covered by at least one rule, in input order."""
    return [n for n in names if matches_any(n, rules)]


def unmatched_rules(names: Iterable[str], rules: Sequence[str]) -> List[str]:
    """Rules that cover none of ``names`` (almost always a typo)."""
    names = list(names)
    return [r for r in rules if not any(rule_matches(r, n) for n in names)]


def trainable(names: Iterable[str], *, freeze_scopes=(), trainable_scopes=()) -> List[str]:
    """Names that train: inside trainable_scopes (all when empty), outside freeze_scopes."""
    freeze, allow = parse_scopes(freeze_scopes), parse_scopes(trainable_scopes)
    return [n for n in names
            if (not allow or matches_any(n, allow)) and not matches_any(n, freeze)]


def common_scope(names: Sequence[str], depth: int = 2) -> str:
    """The longest shared '/'-prefix of ``names``, at most ``depth`` levels (for hints)."""
    parts = [var_name(n).split('/') for n in names]
    if not parts:
        return ''
    prefix = []
    for level in zip(*parts):
        if len(set(level)) != 1 or len(prefix) >= depth:
            break
        prefix.append(level[0])
    if not prefix:
        prefix = parts[0][:1]
    return '/'.join(prefix)
