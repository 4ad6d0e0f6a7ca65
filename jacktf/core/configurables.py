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

from jacktf.core.errors import ConfigError
from jacktf.core.experiment import Experiment
from jacktf.core.model import Model
from jacktf.core.trainer import Trainer

RECIPES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           'recipes')
_CORE = {'Model': Model, 'Trainer': Trainer, 'Experiment': Experiment}
_known = {}  # configurable name -> the function or class behind it
_wrappers = {}


def _external(fn, name, module):
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
    close = difflib.get_close_matches(name, sorted(options), n=3, cutoff=0.5)
    return f' Did you mean {" or ".join(close)}?' if close else ''


def explain_gin_error(error):
    """Rewrites a gin parse error with the closest configurable or parameter."""
    text = str(error)
    m = re.search(r"No configurable matching (?:reference )?'@?([\w.]+)'", text)
    if m:
        name = m.group(1).split('.')[-1]
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
    """Parses recipes and bindings strictly; --model_dir overrides MODEL_DIR."""
    gin.clear_config()
    gin.add_config_file_search_path(RECIPES_DIR)
    bindings = list(gin_params or [])
    if model_dir:
        bindings.append(f'MODEL_DIR = {model_dir!r}')
    files = [resolve_gin_file(f) for f in gin_files]
    from absl import logging as absl_logging
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.FATAL)  # gin logs include look-ups as errors
    try:
        with _quiet_include_lookups():
            gin.parse_config_files_and_bindings(files, bindings, skip_unknown=False)
    except (ValueError, TypeError, KeyError, SyntaxError, IOError) as e:
        raise ConfigError(explain_gin_error(e)) from None
    finally:
        absl_logging.set_verbosity(verbosity)
    return files


def operative_config():
    return gin.operative_config_str()
