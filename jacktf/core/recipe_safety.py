"""Recipes and run folders are data: a gin text may set values, never run Python.

gin executes ``import x.y`` / ``from x import y`` statements as it reads them (the
imported module's code runs), and ``from __gin__ import dynamic_registration`` lets a
file bind any Python function (``os.system``) by its module path. A recipe from a
colleague or a shared run's ``operative_config.gin`` must not be able to do either, so
every text jacktf hands to gin is checked here first, at the token level, without
importing gin: each file, each file it includes (recursively) and each --gin_param.

Refused, with the file (or flag) and line:
  * any statement that starts with ``import`` or ``from`` (this covers dynamic
    registration, ``import x.y as z`` and ``from x import y``);
  * a reference ``@a.b.c`` or a binding ``a.b.c.param = ...`` whose dotted name is not
    one jacktf registered (a module path to an arbitrary Python callable);
  * a file that is not a regular file or is larger than ``MAX_RECIPE_BYTES``.

Plugins stay the way to add code to jacktf (docs/guides/security.md).
"""

import ast
import io
import os
import stat
import tokenize

from jacktf.core.errors import ConfigError

MAX_RECIPE_BYTES = 1 << 20  # a recipe is a page of text; 1 MiB is generous
_STATEMENT_START = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, None)
_IMPORT_WORDS = ('import', 'from')
_FIX = ('A recipe is read as data: it may set values and refer to registered names '
        '(see `jacktf plugins`). To add code, write a plugin (docs/guides/security.md).')


def read_recipe(path):
    """The text of a gin file, refusing anything but a regular file of sane size."""
    try:
        info = os.stat(path)
    except OSError as e:
        raise ConfigError(f'Gin file {path}: cannot read it ({e.strerror}).') from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f'Gin file {path} is not a regular file (a FIFO, device or '
                          'folder); give the path of a .gin text file.')
    if info.st_size > MAX_RECIPE_BYTES:
        raise ConfigError(f'Gin file {path} is {info.st_size} bytes, more than a recipe '
                          f'can be ({MAX_RECIPE_BYTES} bytes); is it the right file?')
    with open(path, 'rb') as f:
        data = f.read(MAX_RECIPE_BYTES + 1)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        raise ConfigError(f'Gin file {path} is not UTF-8 text; give a .gin text '
                          'file.') from None


def _tokens(text):
    """Python tokens of ``text`` (gin tokenizes the same way); stops at an error."""
    try:
        yield from tokenize.generate_tokens(io.StringIO(text).readline)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return


def _significant(text):
    """The tokens gin's parser looks at (it skips comments, blank lines and the
    stray whitespace error tokens some symbols cause)."""
    return [t for t in _tokens(text)
            if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING) and
            not (t.type == tokenize.ERRORTOKEN and t.string in ' \t')]


def _dotted_name(tokens, i):
    """(name 'a.b.c' starting at tokens[i], index after it); scopes 'x/y' kept."""
    parts, j = [], i
    while j < len(tokens) and tokens[j].type == tokenize.NAME:
        parts.append(tokens[j].string)
        if j + 1 < len(tokens) and tokens[j + 1].string in ('.', '/'):
            parts.append(tokens[j + 1].string)
            j += 2
        else:
            j += 1
            break
    return ''.join(parts), j


def _registered(name, registered):
    """True when dotted ``name`` (scope removed) names a registered configurable:
    equal to, or a '.'-boundary suffix of, one of the full registered names."""
    name = name.rpartition('/')[2]
    return any(full == name or full.endswith('.' + name) for full in registered)


def _problems(text, registered):
    """[(line number, what is wrong)] in one gin text."""
    tokens = _significant(text)
    found, previous = [], None
    for i, tok in enumerate(tokens):
        line = tok.start[0]
        at_start = previous in _STATEMENT_START
        previous = tok.type
        if tok.type != tokenize.NAME and tok.string != '@':
            continue
        if at_start and tok.string in _IMPORT_WORDS:
            found.append((line, f'{tok.line.strip()!r} is an import statement: gin would '
                          'import (run) Python code'))
        elif at_start and registered is not None:
            name, after = _dotted_name(tokens, i)
            selector = name.rpartition('.')[0]
            assign = after < len(tokens) and tokens[after].string in ('=', ':')
            if assign and '.' in selector.rpartition('/')[2] and \
                    not _registered(selector, registered):
                found.append((line, f'binds {selector!r}, a Python module path jacktf '
                              'does not register'))
        elif tok.string == '@' and registered is not None:
            name, _ = _dotted_name(tokens, i + 1)
            if '.' in name.rpartition('/')[2] and not _registered(name, registered):
                found.append((line, f'refers to @{name}, a Python module path jacktf '
                              'does not register'))
    if not tokens or tokens[-1].type != tokenize.ENDMARKER:
        # gin would stop at the same error, but only after running what came before:
        # fall back to the lines themselves.
        for number, raw in enumerate(text.splitlines(), 1):
            words = raw.strip().split()
            if words and words[0] in _IMPORT_WORDS:
                found.append((number, f'{raw.strip()!r} looks like an import statement'))
    return sorted(set(found))


def _includes(text):
    """The file names of ``include '...'`` statements in a gin text."""
    tokens = _significant(text)
    previous = None
    for i, tok in enumerate(tokens):
        if previous in _STATEMENT_START and tok.string == 'include' and \
                i + 1 < len(tokens) and tokens[i + 1].type == tokenize.STRING:
            try:
                name = ast.literal_eval(tokens[i + 1].string)
            except (ValueError, SyntaxError):
                name = None
            if isinstance(name, str):
                yield name
        previous = tok.type


def _raise(where, problems):
    lines = [f'{where} line {line}: {what}.' for line, what in problems]
    raise ConfigError('\n'.join(lines + [_FIX]))


def check_text(text, where, registered=None):
    """Raises ConfigError naming ``where`` and the line if ``text`` could run code.

    Args:
      text: gin text (a file's content or a --gin_param binding).
      where: how to name it in the message ('recipe.gin', '--gin_param "..."').
      registered: full names of the registered configurables
        ('jacktf.backbones.resnet_v1_50', 'gin.macro'); None skips the check of dotted
        names (imports are always refused).
    """
    problems = _problems(text, registered)
    if problems:
        _raise(where, problems)


def check_files(paths, resolve_include, registered=None):
    """Checks each gin file and, recursively, every file it includes.

    Args:
      paths: gin file paths as gin will read them.
      resolve_include: include name -> the path gin reads for it, or None (gin then
        reports the missing file itself).
      registered: as for ``check_text``.

    Raises:
      ConfigError: the first file holding an import, a dynamic registration or an
        unregistered module path, with its line(s); or a file that is not a regular
        text file of sane size.
    """
    seen = set()
    pending = list(paths)
    while pending:
        path = pending.pop(0)
        key = os.path.realpath(path)
        if key in seen:
            continue
        seen.add(key)
        text = read_recipe(path)
        check_text(text, path, registered)
        for name in _includes(text):
            included = resolve_include(name)
            if included is None and os.path.lexists(name):
                included = name  # exists but is no regular file: read_recipe refuses it
            if included is not None:
                pending.append(included)
