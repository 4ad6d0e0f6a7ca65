"""Loading plugins into a fresh Registry, in a fixed order.

1. the hook specifications; 2. the built-in plugins (an explicit tuple, no privilege a
third party lacks); 3. names blocked by ``JACKTF_DISABLED_PLUGINS`` (comma-separated
plugin names: entry-point names or built-in module names); 4. third-party plugins from
the entry-point group ``jacktf`` unless ``JACKTF_DISABLE_PLUGIN_AUTOLOAD`` is set;
5. ``check_pending``. Then every plugin's registrar hooks fill the registry.

A third-party plugin that fails to import or to register is reported with its
distribution name; the others still load.
"""

import importlib
import importlib.metadata
import logging
import os

import pluggy

from jacktf.core import hookspecs
from jacktf.core.errors import DuplicatePluginError
from jacktf.core.registry import KINDS, Registry

log = logging.getLogger('jacktf')

ENTRY_POINT_GROUP = 'jacktf'
BUILTIN_PLUGINS = (
    'jacktf.backbones.resnet',
    'jacktf.backbones.inception',
    'jacktf.backbones.vgg',
    'jacktf.backbones.mobilenet_v1',
    'jacktf.backbones.mobilenet.mobilenet_v2',
    'jacktf.backbones.mobilenet.mobilenet_v3',
    'jacktf.backbones.nasnet.family',
    'jacktf.heads.linear',
    'jacktf.optim.optimizers',
    'jacktf.optim.schedules',
    'jacktf.data.decoders',
    'jacktf.data.preprocessing',
    'jacktf.data.finetune_preprocessing',
    'jacktf.data.augment',
    'jacktf.train.callbacks.plugin',
)


def _env_list(name):
    return [v.strip() for v in os.environ.get(name, '').split(',') if v.strip()]


def _truthy(name):
    return os.environ.get(name, '').strip().lower() not in ('', '0', 'false', 'no')


def _load_entry_points(pm, providers, failures):
    seen = set()
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata['Name'] or '?'
        provider = f'{dist_name}=={dist.version}'
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or ep.name in seen:
                continue
            seen.add(ep.name)
            if pm.is_blocked(ep.name) or pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as e:  # A broken plugin must not take the others down.
                failures.append((provider, f'could not import {ep.value}: '
                                           f'{type(e).__name__}: {e}'))
                continue
            pm.register(plugin, name=ep.name)
            providers[id(plugin)] = provider


def make_plugin_manager(*, builtins=BUILTIN_PLUGINS, autoload=None, disabled=None):
    """Returns (plugin manager, {id(plugin): provider}, failures)."""
    pm = pluggy.PluginManager('jacktf')
    pm.add_hookspecs(hookspecs)
    providers, failures = {}, []
    for module_name in builtins:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
        providers[id(module)] = 'builtin'
    for name in (_env_list('JACKTF_DISABLED_PLUGINS') if disabled is None else disabled):
        pm.set_blocked(name)
    if autoload is None:
        autoload = not _truthy('JACKTF_DISABLE_PLUGIN_AUTOLOAD')
    if autoload:
        _load_entry_points(pm, providers, failures)
    pm.check_pending()
    return pm, providers, failures


def load_registry(*, builtins=BUILTIN_PLUGINS, autoload=None, disabled=None, extra=()):
    """Builds a fresh Registry from the built-ins, entry points and ``extra`` plugins.

    Args:
      builtins: module names of the built-in plugins.
      autoload: load entry points; None reads JACKTF_DISABLE_PLUGIN_AUTOLOAD.
      disabled: plugin names to block; None reads JACKTF_DISABLED_PLUGINS.
      extra: plugin objects (modules or instances) registered after the entry points,
        as ``extra:<i>`` (for tests and embedding).

    Returns:
      A Registry whose ``failures`` lists (provider, message) of plugins that failed.

    Raises:
      DuplicatePluginError: two plugins registered one name for the same kind.
    """
    pm, providers, failures = make_plugin_manager(
        builtins=builtins, autoload=autoload, disabled=disabled)
    for i, plugin in enumerate(extra):
        pm.register(plugin, name=f'extra:{i}')
        providers[id(plugin)] = getattr(plugin, '__name__', f'extra:{i}')
    registry = Registry()
    for kind in KINDS:
        hook = getattr(pm.hook, hookspecs.KIND_HOOKS[kind])
        for impl in hook.get_hookimpls():
            provider = providers.get(id(impl.plugin), impl.plugin_name)
            with registry.providing(provider):
                try:
                    impl.function(registry=registry)
                except DuplicatePluginError:
                    raise
                except Exception as e:
                    if provider == 'builtin':
                        raise
                    failures.append((provider, f'{hookspecs.KIND_HOOKS[kind]} failed: '
                                               f'{type(e).__name__}: {e}'))
    for provider, message in failures:
        log.warning('Plugin %s was not loaded: %s', provider, message)
    registry.failures = failures
    return registry


_default = None


def default_registry():
    """The process's registry (loaded on first use); set by run.py and the CLI."""
    global _default
    if _default is None:
        _default = load_registry()
    return _default


def set_default_registry(registry):
    """Makes ``registry`` the one Model and the pipeline resolve names in."""
    global _default
    _default = registry
    return registry
