"""Long lists of variable names as a few lines: grouped by scope, with counts.

Pure functions over names (no TensorFlow); the restore report and
`jacktf inspect-checkpoint` print their long sections this way.
"""

import re


def group_by_scope(names, max_groups=30):
    """[(scope, [names])]: ``names`` grouped by scope, level by level, into <= max_groups.

    Starting from the root scopes, every group is split into its sub-scopes (a chain of
    single sub-scopes is followed to its end) as long as the result has at most
    ``max_groups`` groups; a layer (a scope holding variables directly) is never split.
    When even the root scopes are more, the last group counts the rest as
    ``'... N more scopes'``.
    """
    groups = _split('', list(names))
    while True:
        finer = []
        for scope, members in groups:
            finer += [(scope, members)] if _is_layer(scope, members) else \
                _split(scope, members)
        if len(finer) == len(groups) or len(finer) > max_groups:
            break
        groups = finer
    groups.sort(key=lambda item: _natural(item[0]))
    if len(groups) > max_groups:
        rest = [n for _, members in groups[max_groups - 1:] for n in members]
        groups = groups[:max_groups - 1] + [
            (f'... {len(groups) - max_groups + 1} more scopes', rest)]
    return groups


def _is_layer(scope, members):
    return any(n == scope or '/' not in n[len(scope) + 1:] for n in members)


def _split(prefix, members):
    children = {}
    for name in members:
        rest = name[len(prefix) + 1:] if prefix else name
        head = rest.split('/')[0]
        children.setdefault(f'{prefix}/{head}' if prefix else head, []).append(name)
    out = []
    for scope, group in children.items():
        while not _is_layer(scope, group):
            below = {n[len(scope) + 1:].split('/')[0] for n in group}
            if len(below) != 1:
                break
            scope = f'{scope}/{below.pop()}'
        out.append((scope, group))
    return out


def _natural(text):
    return [(0, int(t), '') if t.isdigit() else (1, 0, t) for t in re.split(r'(\d+)', text)]
