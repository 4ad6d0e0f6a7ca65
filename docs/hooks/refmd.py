"""Markdown helpers of the reference generator: tables, values, Google-style docstrings."""

import inspect
import re

_SECTION = re.compile(r'^(Args|Arguments|Attributes|Returns|Raises|Yields|Example|Examples|'
                      r'Note|Notes|Warning|See Also):\s*$')
_ARG = re.compile(r'^\*{0,2}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$')
_ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+')
_ROLE = re.compile(r':\w+:`([^`]+)`')  # reST roles (:class:`X`) -> `X`
LONG_DEFAULT = 80


def cell(text):
    """Text made safe for one markdown table cell."""
    return ' '.join(str(text).split()).replace('|', '\\|')


def table(header, rows):
    """A markdown table; every row has len(header) cells."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(cell(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def code(text):
    """Inline code that survives backticks inside."""
    text = str(text)
    fence = '``' if '`' in text else '`'
    pad = ' ' if fence == '``' else ''
    return f'{fence}{pad}{text}{pad}{fence}'


def value(default):
    """A parameter default as a recipe would write it (no memory addresses)."""
    if default is inspect.Parameter.empty:
        return '(required)'
    if callable(default) and hasattr(default, '__name__'):
        return code(f'{getattr(default, "__module__", "") or ""}.{default.__name__}'
                    .lstrip('.'))
    if type(default) is object:
        return '(unset)'
    text = _ADDRESS.sub('', repr(default))
    if len(text) > LONG_DEFAULT:
        return f'a {type(default).__name__} of {len(default)} entries (see the source)' \
            if hasattr(default, '__len__') else f'a {type(default).__name__} (see the source)'
    return code(text)


def _doc(obj):
    return _ROLE.sub(r'`\1`', inspect.cleandoc(inspect.getdoc(obj) or ''))


def summary(obj):
    """The first paragraph of a docstring, joined into one line."""
    doc = _doc(obj)
    return ' '.join(doc.split('\n\n')[0].split())


def body(obj):
    """A docstring without its Args/Returns/Raises sections."""
    doc = _doc(obj)
    kept, skipping = [], False
    for line in doc.splitlines():
        if _SECTION.match(line):
            skipping = True
            continue
        if skipping and line and not line[0].isspace():
            skipping = False
        if not skipping:
            kept.append(line)
    return '\n'.join(kept).strip()


def arg_docs(obj):
    """{parameter: description} from the ``Args:`` section of a Google-style docstring.

    ``a / b: text`` documents both a and b.
    """
    doc = _doc(obj)
    docs, current, indent, inside = {}, [], None, False
    for line in doc.splitlines():
        stripped = line.strip()
        if _SECTION.match(line):
            inside = line.strip().rstrip(':') in ('Args', 'Arguments')
            indent = None
            continue
        if not inside or not stripped:
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:
            inside = False
            continue
        names, _, text = stripped.partition(': ')
        heads = [n.strip() for n in names.split('/')]
        if (indent is None or depth <= indent) and text and all(
                _ARG.match(h + ': x') for h in heads):
            indent = depth
            current = [_ARG.match(h + ': x').group(1) for h in heads]
            for name in current:
                docs[name] = text
        elif current:
            for name in current:
                docs[name] += ' ' + stripped
    return docs


def parameters(fn):
    """[(name, inspect.Parameter)] a gin binding can set (no self, *args, **kwargs)."""
    target = fn.__init__ if inspect.isclass(fn) else fn
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(fn) and params and params[0].name == 'self':
        params = params[1:]
    return [(p.name, p) for p in params
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
