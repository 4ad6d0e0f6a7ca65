"""gin's errors in the user's words: the file and line (or the --gin_param flag) of
the mistake, the closest configurable, parameter or macro names, and how to write it.

Pure text over the exceptions gin raises; ``configurables.parse`` calls it.
"""

import difflib
import inspect
import re


def suggest(name, options):
    """' Did you mean A or B?' for the options closest to ``name`` (any case), or ''."""
    by_lower = {}
    for option in sorted(options):
        by_lower.setdefault(option.lower(), option)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    return f' Did you mean {" or ".join(by_lower[c] for c in close)}?' if close else ''


def label_bindings(gin_params, model_dir):
    """[(label, text)] for the command-line bindings, in the order gin parses them."""
    labelled = [(f'--gin_param "{b}"', b) for b in gin_params or []]
    if model_dir:
        labelled.append((f'--model_dir={model_dir}', f'MODEL_DIR = {model_dir!r}'))
    return labelled


def _binding_for_line(labelled, line):
    """The label of the command-line binding holding line ``line`` of gin's joined text."""
    first = 1
    for label, text in labelled:
        last = first + text.count('\n')
        if first <= line <= last:
            return label
        first = last + 1
    return None


def _explain_syntax_error(error, labelled_bindings):
    """'Unable to parse value. (line 5)' -> where, what, and how to write it."""
    content = (error.text or '').strip()
    label = None if error.filename else _binding_for_line(labelled_bindings, error.lineno)
    where = (f'{error.filename} line {error.lineno}: {content!r}' if error.filename else
             label or f'binding {content!r}')
    message = f'Cannot parse {where}: {error.msg.rstrip(".")}.'
    name, sep, value = content.partition('=')
    name, value = name.strip(), value.strip()
    if not sep:
        hint = 'A binding reads NAME = VALUE, e.g. TRAIN_STEPS = 500.'
    elif re.fullmatch(r'[\w./~*:\\-]+', value) and not re.fullmatch(
            r'[-+]?[\d.]+([eE][-+]?\d+)?|True|False|None', value):
        hint = (f'Text values need quotes: {name} = {value!r}; on a shell wrap the whole '
                f'binding in double quotes: --gin_param="{name} = {value!r}".')
    else:
        hint = ('Values are Python literals (numbers, \'quoted text\', [lists], '
                '{dicts}, True/False/None), @configurables or %MACROS.')
    return f'{message} {hint}'


def explain_gin_error(error, labelled_bindings=(), known=None):
    """Rewrites a gin parse error with the closest configurable or parameter.

    Args:
      error: the exception gin raised.
      labelled_bindings: [(label, text)] of the command-line bindings (see
        ``label_bindings``), so an error in one names the flag instead of gin's
        "bindings string line N".
      known: {configurable name: the function or class behind it}, for the closest
        names and the parameters of a configurable.

    Returns:
      The message: gin's text, then what is wrong in the user's words and the fix.
    """
    known = known or {}
    if isinstance(error, SyntaxError) and getattr(error, 'lineno', None):
        return _explain_syntax_error(error, labelled_bindings)
    text = str(error)
    m = re.search(r'In bindings string line (\d+)', text)
    label = m and _binding_for_line(labelled_bindings, int(m.group(1)))
    if label:
        text = text.replace(m.group(0), f'In {label}')
    m = re.search(r"No configurable matching (?:reference )?'@?([\w./]+?)(?:\(\))?'", text)
    if m:
        name = m.group(1).split('/')[-1].split('.')[-1]
        return (f'{text}\nUnknown configurable {name!r}.{suggest(name, known)} Run '
                '`jacktf plugins` to list backbones, heads, optimizers and schedules.')
    m = re.search(r"Configurable '([\w.]+)' doesn't have a parameter named '(\w+)'", text)
    if m:
        target = known.get(m.group(1).split('.')[-1])
        params = []
        if target is not None:
            fn = target.__init__ if inspect.isclass(target) else target
            params = [p for p in inspect.signature(fn).parameters if p != 'self']
        return (f'{text}\n{m.group(1)} has no parameter {m.group(2)!r}.'
                f'{suggest(m.group(2), params)} Its parameters: {", ".join(params)}.')
    return text


def missing_argument(error):
    """The user's words for gin's "missing required argument" TypeError, or None.

    A recipe that leaves out a required parameter (``Trainer.optimizer``) fails when gin
    calls the configurable; the TypeError names the parameters and gin appends the
    configurable. Other TypeErrors (bugs) return None and keep their traceback.
    """
    text = str(error)
    m = re.search(r'missing \d+ required (?:keyword-only |positional )?arguments?: (.+)',
                  text.splitlines()[0] if text else '')
    owner = re.search(r"In call to configurable '([\w.]+)'", text)
    if not m or not owner:
        return None
    names = re.findall(r"'(\w+)'", m.group(1))
    configurable = owner.group(1).split('.')[-1]
    bindings = ', '.join(f'{configurable}.{name} = ...' for name in names)
    return (f'{configurable} needs {", ".join(names)}, and no recipe or --gin_param sets '
            f'it: add {bindings} to the recipe (the shipped recipes show values, e.g. '
            f'`jacktf train --gin_file gin/demo.gin`; `jacktf plugins` lists the choices).')
