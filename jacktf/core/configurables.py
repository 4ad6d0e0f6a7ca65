"""Gin at the edge: every registered factory becomes a gin configurable under its name.

``register(registry)`` makes ``@resnet_v1_50``, ``@logits``, ``@momentum``, ... and the
framework's own ``Model``, ``Trainer`` and ``Experiment`` available to gin files, so a
recipe binds ``resnet_v1_50.output_stride = 16`` without the plugin importing gin.
``parse`` reads recipes strictly and turns gin's errors into messages with the file,
the line and the closest names.
"""

import contextlib
import difflib
import inspect
import logging
import os
import re

import gin
from gin import config_parser as gin_config_parser

from jacktf.core.errors import ConfigError
from jacktf.core.experiment import Experiment
from jacktf.core.model import Model
from jacktf.train.stages import Stage
from jacktf.train.trainer import Trainer

RECIPES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           'recipes')
_CORE = {'Model': Model, 'Trainer': Trainer, 'Experiment': Experiment, 'stage': Stage}
_known = {}  # configurable name -> the function or class behind it
_wrappers = {}


def _external(fn, name, module):
    # A config parsed earlier in this process is locked; registering more names (a
    # second registry, a later command in the same process) must still work.
    with gin.unlock_config():
        try:
            return gin.external_configurable(fn, name=name, module=module)
        except ValueError:
            # A fresh registry registered another factory under a known name (tests):
            # gin allows re-registration only in interactive mode.
            gin.enter_interactive_mode()
            try:
                return gin.external_configurable(fn, name=name, module=module)
            finally:
                gin.exit_interactive_mode()


def register(registry):
    """Registers the core classes and every entry of ``registry`` with gin."""
    for name, cls in _CORE.items():
        if name not in _wrappers:
            _wrappers[name] = _external(cls, name, 'jacktf')
            _known[name] = cls
    for entry in registry.entries():
        wrapper = _external(entry.factory, entry.name, f'jacktf.{entry.kind}')
        wrapper.jacktf_entry = entry
        _wrappers[entry.name] = wrapper
        _known[entry.name] = entry.factory
    return _wrappers


def configured(name):
    """The gin-wrapped callable for a core class or registered name."""
    return _wrappers[name]


def resolve_gin_file(path):
    """A path as given, relative to the working directory, or in the shipped recipes."""
    candidates = [path, os.path.join(RECIPES_DIR, path)]
    if path.startswith('gin/') or path.startswith('gin' + os.sep):
        candidates.append(os.path.join(RECIPES_DIR, path[4:]))
    if not path.endswith('.gin'):
        candidates += [c + '.gin' for c in list(candidates)]
    for c in candidates:
        if os.path.isfile(c):
            return c
    shipped = sorted(f for f in os.listdir(RECIPES_DIR) if f.endswith('.gin'))
    raise ConfigError(f'Gin file {path!r} not found in {os.getcwd()} nor among the '
                      f'shipped recipes: {", ".join(shipped)}.')


def _suggest(name, options):
    """' Did you mean A or B?' for the options closest to ``name`` (any case), or ''."""
    by_lower = {}
    for option in sorted(options):
        by_lower.setdefault(option.lower(), option)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    return f' Did you mean {" or ".join(by_lower[c] for c in close)}?' if close else ''


def _label_bindings(gin_params, model_dir):
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


def explain_gin_error(error, labelled_bindings=()):
    """Rewrites a gin parse error with the closest configurable or parameter.

    Args:
      error: the exception gin raised.
      labelled_bindings: [(label, text)] of the command-line bindings (see
        ``_label_bindings``), so an error in one names the flag instead of gin's
        "bindings string line N".
    """
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
        return (f'{text}\nUnknown configurable {name!r}.{_suggest(name, _known)} Run '
                '`jacktf plugins` to list backbones, heads, optimizers and schedules.')
    m = re.search(r"Configurable '([\w.]+)' doesn't have a parameter named '(\w+)'", text)
    if m:
        target = _known.get(m.group(1).split('.')[-1])
        params = []
        if target is not None:
            fn = target.__init__ if inspect.isclass(target) else target
            params = [p for p in inspect.signature(fn).parameters if p != 'self']
        return (f'{text}\n{m.group(1)} has no parameter {m.group(2)!r}.'
                f'{_suggest(m.group(2), params)} Its parameters: {", ".join(params)}.')
    return text


# -- macros ------------------------------------------------------------------------
class _NullDelegate(gin_config_parser.ParserDelegate):
    """Lets gin's parser read statements without resolving any reference."""

    def configurable_reference(self, scoped_name, evaluate):
        return None

    def macro(self, macro_name):
        return None


def _resolve_include(filename):
    """The path gin reads for ``include 'filename'`` (its search path), or None."""
    prefixes = [''] if os.path.isabs(filename) else ['', RECIPES_DIR]
    for prefix in prefixes:
        path = os.path.join(prefix, filename)
        if os.path.isfile(path):
            return path
    return None


def _macro_definitions(files, labelled_bindings):
    """{macro name: [where it is set]} over the files (and their includes) and flags."""
    where = {}

    def statements(text_or_file):
        try:
            for st in gin_config_parser.ConfigParser(text_or_file, _NullDelegate()):
                yield st
        except (SyntaxError, ValueError):  # gin has already accepted it; be lenient
            return

    def visit(path, seen):
        if path is None or path in seen:
            return
        seen.add(path)
        with open(path) as f:
            for st in list(statements(f)):
                if isinstance(st, gin_config_parser.BindingStatement) and not st.arg_name:
                    name = f'{st.scope}/{st.selector}' if st.scope else st.selector
                    where.setdefault(name, []).append(
                        f'{path} line {st.location.line_num}')
                elif isinstance(st, gin_config_parser.IncludeStatement):
                    visit(_resolve_include(st.filename), seen)

    seen = set()
    for path in files:
        visit(path, seen)
    for label, text in labelled_bindings:
        for st in statements(text):
            if isinstance(st, gin_config_parser.BindingStatement) and not st.arg_name:
                name = f'{st.scope}/{st.selector}' if st.scope else st.selector
                where.setdefault(name, []).append(label)
    return where


def _flatten(value):
    if isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _flatten(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(k)
            yield from _flatten(v)
    else:
        yield value


def _binding_key(scope, selector, param):
    """'scope/Trainer.learning_rate': a binding as a recipe writes it."""
    try:
        selector = gin.config._REGISTRY.minimal_selector(selector)
    except KeyError:
        pass
    return f'{scope + "/" if scope else ""}{selector}.{param}'


def _macro_usage():
    """(defined macro names, {referenced macro name: [binding keys that use it]})."""
    macro_fn = gin.config.get_configurable(gin.config.macro)
    defined = {scope for scope, selector in gin.config._CONFIG if selector == 'gin.macro'}
    used = {}
    for (scope, selector), params in gin.config._CONFIG.items():
        for param, value in params.items():
            for ref in _flatten(value):
                if isinstance(ref, gin.config.ConfigurableReference) and \
                        ref.configurable.wrapper == macro_fn:
                    owner = scope if selector == 'gin.macro' else _binding_key(
                        scope, selector, param)
                    used.setdefault(ref.config_key[0], []).append(owner)
    return defined, used


def check_macros(files, labelled_bindings=()):
    """Every macro that is set is used, and every macro that is used is set.

    A macro nothing refers to (``LEARNING_RAT = 0.5`` next to recipes that read
    ``%LEARNING_RATE``) would be silently ignored; one referred to but never set fails
    late inside gin. Both are reported here, with the closest names.

    Raises:
      ConfigError: naming each such macro, where it is set or used, and the closest
        macro names.
    """
    defined, used = _macro_usage()
    # A macro used only by unused macros is still unused: follow uses from bindings.
    live, frontier = set(), [m for m, owners in used.items()
                             if any('.' in o for o in owners)]
    while frontier:
        name = frontier.pop()
        if name in live:
            continue
        live.add(name)
        frontier += [m for m, owners in used.items() if name in owners]
    unused = sorted(defined - live)
    undefined = sorted(set(used) - defined)
    if not unused and not undefined:
        return
    where = _macro_definitions(files, labelled_bindings)
    live_defined = sorted(live & defined)
    problems = []
    for name in undefined:
        problems.append(
            f'Macro %{name} is used by {", ".join(sorted(set(used[name])))} but never '
            f'set.{_suggest(name, defined)} Set it (e.g. {name} = ...) before using it, '
            'or correct the name.')
    for name in unused:
        places = ', '.join(where.get(name, [])) or 'the configuration'
        problems.append(
            f'Macro {name} is set ({places}) but nothing uses it: no binding refers to '
            f'%{name}, so its value would be ignored.{_suggest(name, live_defined)} '
            f'Macros this configuration uses: {", ".join(live_defined) or "none"}. '
            'Set one of those instead, or delete the line.')
    raise ConfigError('\n'.join(problems))


def _is_gin_lookup_noise(record):
    """gin's resource reader logs each include it then finds on the search path as an
    ERROR on the root logger ('Path not found: base/experiment.gin')."""
    return not (record.getMessage().startswith('Path not found:') and
                record.pathname.endswith(os.path.join('gin', 'resource_reader.py')))


@contextlib.contextmanager
def _quiet_include_lookups():
    root = logging.getLogger()
    # Without a handler, logging.error() would install a stderr one (basicConfig).
    spare = None if root.handlers else logging.NullHandler()
    if spare:
        root.addHandler(spare)
    root.addFilter(_is_gin_lookup_noise)
    try:
        yield
    finally:
        root.removeFilter(_is_gin_lookup_noise)
        if spare:
            root.removeHandler(spare)


def parse(gin_files, gin_params=(), model_dir=None):
    """Parses recipes and bindings strictly; --model_dir overrides MODEL_DIR.

    Strict means: unknown configurables and parameters, macros that are set but never
    used and macros used but never set all raise ConfigError with the closest names.
    """
    gin.clear_config()
    gin.add_config_file_search_path(RECIPES_DIR)
    labelled = _label_bindings(gin_params, model_dir)
    bindings = [text for _, text in labelled]
    files = [resolve_gin_file(f) for f in gin_files]
    from absl import logging as absl_logging
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.FATAL)  # gin logs include look-ups as errors
    try:
        with _quiet_include_lookups():
            gin.parse_config_files_and_bindings(files, bindings, finalize_config=False,
                                                skip_unknown=False)
        check_macros(files, labelled)
        gin.finalize()
    except (ValueError, TypeError, KeyError, SyntaxError, IOError) as e:
        raise ConfigError(explain_gin_error(e, labelled)) from None
    finally:
        absl_logging.set_verbosity(verbosity)
    return files


def operative_config():
    return gin.operative_config_str()
