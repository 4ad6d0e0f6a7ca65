"""Where the generated reference pages read jacktf: the ONE place that names its modules.

Each entry is ``'module:attribute'`` (or a bare module). Where a module is being moved
(core/configurables.py -> app/, ``jacktf.Callback`` made public), the entry lists the
new place first and the old one after it; ``load`` takes the first that exists. When a
module moves again, fix the entry here: every other file of the generator goes through
``load``, and nothing else in docs/hooks imports jacktf.

``load`` fails loudly (``SourceError``, which stops ``mkdocs build``): a moved name must
break the docs build, never yield an empty reference page.
"""

import importlib

# Hides TensorFlow's start-up lines before it is imported (quiet_startup(verbose)).
QUIET_STARTUP = ('jacktf.core.compat:quiet_startup',)
# `jacktf` and `jacktf COMMAND` (argparse): a function returning the whole parser.
CLI_PARSER = ('jacktf.cli:build_parser',)
# The registry of plugins: built-ins + installed entry points, a fresh instance.
LOAD_REGISTRY = ('jacktf:load_registry',)
# register(registry) -> {configurable name: gin-wrapped callable} (every gin name).
GIN_REGISTER = ('jacktf.app.configurables:register', 'jacktf.core.configurables:register')
# The shipped recipes: the folder holding demo.gin and base/experiment.gin.
RECIPES_DIR = ('jacktf.app.configurables:RECIPES_DIR',
               'jacktf.core.configurables:RECIPES_DIR')
# {backbone name: PretrainedCheckpoint} of the official slim checkpoints.
ZOO = ('jacktf.pretrained.zoo:ZOO',)
# Shipped weights: {backbone name: BuiltinWeights(prefix=...)}.
BUILTIN_WEIGHTS = ('jacktf.pretrained.builtin:BUILTIN',)
# The pluggy hook specifications and {plugin kind: hook name}.
HOOKSPECS = ('jacktf.core.hookspecs',)
# The Registry class (its registrar methods document each kind's factory signature).
REGISTRY_CLASS = ('jacktf.core.registry:Registry',)
# The callback base class: its on_* methods are the Controller's events.
CALLBACK_BASE = ('jacktf:Callback', 'jacktf.train.callbacks:Callback')
# The package holding the built-in callbacks (one job each).
CALLBACK_PACKAGES = ('jacktf.train.callbacks',)
# The package whose module docstrings make the code-layout page.
PACKAGE = ('jacktf',)


class SourceError(RuntimeError):
    """A place named above does not exist (any more)."""


def _missing_module(error, module):
    """True when ``error`` says ``module`` (or a parent of it) does not exist, not that
    something inside it failed to import."""
    name = getattr(error, 'name', None) or ''
    return isinstance(error, ModuleNotFoundError) and (
        module == name or module.startswith(name + '.'))


def load(candidates):
    """The first of ``candidates`` ('module:attribute' or 'module') that exists.

    Raises:
      SourceError: none exists; says what was tried and where to fix it. An error
        raised while importing an existing module is not hidden behind a fallback.
    """
    tried = []
    for spec in candidates:
        module_name, _, attribute = spec.partition(':')
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if not _missing_module(e, module_name):
                raise
            tried.append(f'{spec} (no module {e.name})')
            continue
        if not attribute:
            return module
        if hasattr(module, attribute):
            return getattr(module, attribute)
        tried.append(f'{spec} (no attribute {attribute})')
    raise SourceError(f'The docs reference cannot find {" / ".join(candidates)}: '
                      f'{"; ".join(tried)}. Fix the entry in docs/hooks/refsources.py.')
