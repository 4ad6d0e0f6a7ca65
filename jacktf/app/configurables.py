"""Gin at the edge: every registered factory becomes a gin configurable under its name.

``register(registry)`` makes ``@resnet_v1_50``, ``@logits``, ``@momentum``, ... and the
framework's own ``Model``, ``Trainer`` and ``Experiment`` available to gin files, so a
recipe binds ``resnet_v1_50.output_stride = 16`` without the plugin importing gin.
``parse`` reads recipes strictly (unknown names, macros set but unused or used but
unset) and turns gin's errors into messages with the file, the line and the closest
names (``gin_messages``).
"""

import contextlib
import logging
import os

import gin
from gin import config_parser as gin_config_parser

from jacktf.core import recipe_safety
from jacktf.core.errors import ConfigError
from jacktf.app.gin_messages import explain_gin_error, label_bindings, suggest
from jacktf.app.experiment import Experiment
from jacktf.core.model import Model
from jacktf.train.callbacks import CONFIGURABLE as CALLBACKS
from jacktf.train.stages import Stage
from jacktf.train.trainer import Trainer

RECIPES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           'recipes')
_CORE = {'Model': Model, 'Trainer': Trainer, 'Experiment': Experiment, 'stage': Stage,
         **CALLBACKS}
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


def callback_factories():
    """{gin name: gin-configured class} of the built-in callbacks with options."""
    return {name: _wrappers[name] for name in CALLBACKS}


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


# Macros a recipe may leave out (recipes written before them keep working): their value
# when no file or binding sets them. A default nothing uses is not reported as unused.
DEFAULT_MACROS = {'TRAIN_EPOCHS': 'None'}


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
    unused = [name for name in unused if name not in DEFAULT_MACROS or where.get(name)]
    if not unused and not undefined:
        return
    live_defined = sorted(live & defined)
    problems = []
    for name in undefined:
        problems.append(
            f'Macro %{name} is used by {", ".join(sorted(set(used[name])))} but never '
            f'set.{suggest(name, defined)} Set it (e.g. {name} = ...) before using it, '
            'or correct the name.')
    for name in unused:
        places = ', '.join(where.get(name, [])) or 'the configuration'
        problems.append(
            f'Macro {name} is set ({places}) but nothing uses it: no binding refers to '
            f'%{name}, so its value would be ignored.{suggest(name, live_defined)} '
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


def _check_safe(files, labelled):
    """Before gin runs anything: no imports, dynamic registration or module paths in
    the files, their includes and the bindings (``recipe_safety``)."""
    registered = [name for name, _ in gin.config._REGISTRY.items()]
    recipe_safety.check_files(files, _resolve_include, registered)
    for label, text in labelled:
        recipe_safety.check_text(text, label, registered)


def parse(gin_files, gin_params=(), model_dir=None):
    """Parses recipes and bindings strictly; --model_dir overrides MODEL_DIR.

    Strict means: unknown configurables and parameters, macros that are set but never
    used and macros used but never set all raise ConfigError with the closest names.
    """
    gin.clear_config()
    gin.add_config_file_search_path(RECIPES_DIR)
    labelled = label_bindings(gin_params, model_dir)
    bindings = [text for _, text in labelled]
    files = [resolve_gin_file(f) for f in gin_files]
    _check_safe(files, labelled)
    from absl import logging as absl_logging
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.FATAL)  # gin logs include look-ups as errors
    try:
        with _quiet_include_lookups():
            gin.parse_config([f'{name} = {value}' for name, value in DEFAULT_MACROS.items()])
            gin.parse_config_files_and_bindings(files, bindings, finalize_config=False,
                                                skip_unknown=False)
        check_macros(files, labelled)
        gin.finalize()
    except (ValueError, TypeError, KeyError, SyntaxError, IOError) as e:
        raise ConfigError(explain_gin_error(e, labelled, _known)) from None
    finally:
        absl_logging.set_verbosity(verbosity)
    return files


def operative_config():
    return gin.operative_config_str()
