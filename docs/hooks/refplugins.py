"""Reference pages read from the plugin registry and gin: recipe bindings, backbones and
the zoo, callbacks and plugin hooks. Each loads jacktf (and TensorFlow) through
refsources and raises SourceError rather than return a page with nothing on it."""

import inspect
import os
import re

import refmd
import refsources

_KIND_TITLES = {
    'backbone': 'Backbones', 'head': 'Heads', 'optimizer': 'Optimizers',
    'lr_schedule': 'Learning-rate schedules', 'decoder': 'Decoders',
    'preprocessor': 'Preprocessors', 'callback': 'Callbacks',
    'augmentation': 'Augmentations'}


def _require(condition, message):
    if not condition:
        raise refsources.SourceError(message)


class Sources:
    """The registry and the gin configurables, loaded once for all pages."""

    def __init__(self):
        self.registry = refsources.load(refsources.LOAD_REGISTRY)()
        self.configurables = dict(refsources.load(refsources.GIN_REGISTER)(self.registry))
        _require(self.registry.entries(), 'The plugin registry is empty.')
        _require(len(self.configurables) > len(self.registry.entries()),
                 'gin knows no configurable besides the plugins (Model, Trainer, ...).')


def _configurable_section(name, fn, heading='###'):
    docs = refmd.arg_docs(fn)
    rows = [(refmd.code(f'{name}.{p}'), refmd.value(param.default), docs.get(p, ''))
            for p, param in refmd.parameters(fn)]
    out = ['', f'{heading} {name}', '', refmd.summary(fn) or '(no docstring)']
    if rows:
        out += ['', refmd.table(['binding', 'default', 'what it sets'], rows)]
    return out


def _macros(recipes_dir):
    """{macro: [bindings]} of base/experiment.gin: what each recipe macro sets."""
    path = os.path.join(recipes_dir, 'base', 'experiment.gin')
    uses = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'^\s*([\w./]+)\s*=\s*%(\w+)', line)
            if m:
                uses.setdefault(m.group(2), []).append(m.group(1))
    _require(uses, f'{path} binds no macro.')
    return uses


def bindings_page(src):
    """Every gin configurable (core classes, then each plugin kind) and its parameters."""
    recipes_dir = refsources.load(refsources.RECIPES_DIR)
    core = {n: f for n, f in src.configurables.items()
            if getattr(f, 'jacktf_entry', None) is None}
    out = ['# Recipe bindings', '',
           'Generated from the code when the site is built: every name a gin recipe can '
           'bind, with each parameter\'s default and its docstring. A recipe writes '
           '`Name.parameter = value`; `@name` refers to a plugin, `@name()` to an '
           'instance of it. "(required)" parameters are either given by jacktf when it '
           'calls the factory (the images, the learning rate, the class count) or must '
           'be bound by the recipe (`Trainer.optimizer`). `jacktf plugins` lists the '
           'same registry, with third-party plugins.', '',
           '## The macros every recipe sets', '',
           'Recipes set these names at the top and `include \'base/experiment.gin\'`, '
           'which binds them:', '',
           refmd.table(['macro', 'binds'],
                       [(refmd.code(m), ', '.join(refmd.code(b) for b in bs))
                        for m, bs in _macros(recipes_dir).items()]),
           '', '## The framework', '',
           'The run itself: what a recipe binds besides the plugins.']
    for name in sorted(core):
        out += _configurable_section(name, core[name])
    for kind, title in _KIND_TITLES.items():
        entries = src.registry.entries(kind)
        out += ['', f'## {title}', '']
        if not entries:
            out.append(f'No {kind} plugin is registered.')
        for entry in entries:
            out += _configurable_section(entry.name, src.configurables[entry.name])
            out.append(f'\nProvided by {entry.provider}.')
    return '\n'.join(out) + '\n'


def backbones_page(src):
    """The backbone cards of the registry and the zoo of official checkpoints."""
    zoo = refsources.load(refsources.ZOO)
    shipped = refsources.load(refsources.BUILTIN_WEIGHTS)
    cards = [e for e in src.registry.entries('backbone')]
    _require(cards and zoo, f'{len(cards)} backbones and {len(zoo)} zoo rows.')
    names = {e.name for e in cards}
    orphans = sorted(set(zoo) - names)
    _require(not orphans, f'The zoo names checkpoints of unregistered backbones: {orphans}.')
    rows = []
    for e in cards:
        c = e.card
        row = zoo.get(e.name)
        rows.append((refmd.code(e.name), refmd.code(c.scope), c.default_image_size,
                     c.preprocessing, c.num_classes_official,
                     refmd.code(c.features_endpoint or '-'), refmd.code(c.cam_endpoint or '-'),
                     f'`slim://{e.name}`' if row else '-', e.provider))
    zoo_rows = []
    for name in sorted(zoo):
        z = zoo[name]
        where = f'`{z.archive}`' + (f' (also shipped: `builtin://{name}`)'
                                   if name in shipped else '')
        zoo_rows.append((refmd.code(name), z.top1, '-' if z.top5 is None else z.top5,
                         z.image_size, z.preprocessing, z.num_classes, where,
                         z.note or ''))
    return '\n'.join([
        '# Backbones and the zoo', '',
        'Generated from the registry\'s backbone cards and `jacktf/pretrained/zoo.py` '
        'when the site is built. The guide [Backbones and checkpoints]'
        '(../guides/backbones.md) explains how to use them.', '',
        '## Registered backbones', '',
        'Scope: the root variable scope of the official checkpoint. Size and '
        'preprocessing: the defaults a recipe gets with `IMAGE_SIZE = None`. Classes: '
        'the official checkpoint\'s classifier (1001: index 0 is "background"). The '
        'features endpoint feeds the head; class activation maps read the CAM endpoint.',
        '', refmd.table(['name', 'scope', 'size', 'preprocessing', 'classes',
                         'features endpoint', 'CAM endpoint', 'checkpoint', 'provider'],
                        rows), '',
        '## Official checkpoints (the zoo)', '',
        'Top-1/top-5: published single-crop ImageNet validation accuracy in percent; '
        'size: the input size it was measured at. `CHECKPOINT_PATH = \'slim://NAME\'` or '
        '`jacktf pretrained download NAME` fetches, verifies and caches the archive.',
        '', refmd.table(['name', 'top-1', 'top-5', 'size', 'preprocessing', 'classes',
                         'archive', 'note'], zoo_rows)]) + '\n'


def _events(base):
    events = [(n, m) for n, m in inspect.getmembers(base, inspect.isfunction)
              if n.startswith('on_')]
    order = {n: m.__code__.co_firstlineno for n, m in events}
    return sorted(events, key=lambda e: order[e[0]])


def _builtin_callbacks(base):
    import importlib
    import pkgutil
    found = {}
    for package_name in refsources.CALLBACK_PACKAGES:
        package = refsources.load((package_name,))
        for m in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f'{package_name}.{m.name}')
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, base) and cls is not base and \
                        cls.__module__ == module.__name__:
                    found[f'{module.__name__}.{name}'] = cls
    _require(found, 'No built-in callback class found.')
    return found


def callbacks_page(src):
    """The Controller's events, the built-in callbacks, plugin hooks and registrars."""
    base = refsources.load(refsources.CALLBACK_BASE)
    hookspecs = refsources.load(refsources.HOOKSPECS)
    registry_cls = refsources.load(refsources.REGISTRY_CLASS)
    events = _events(base)
    _require(events, f'{base} has no on_* events.')
    base_module = inspect.getmodule(base)
    out = ['# Callbacks and plugin hooks', '',
           'Generated from the code when the site is built.', '',
           '## Callback events', '', refmd.body(base_module), '',
           refmd.table(['event', 'when'],
                       [(refmd.code(f'{n}{inspect.signature(m)}'.replace('(self, ', '(')),
                         refmd.summary(m))
                        for n, m in events]),
           '', '## Built-in callbacks', '',
           'The callbacks jacktf ships, by module; a recipe adds its own with '
           '`Trainer.callbacks`. Events: the ones '
           'each class overrides; order: its `order` attribute, where it declares one.',
           '']
    rows = []
    for path, cls in _builtin_callbacks(base).items():
        own = [n for n, _ in events if n in vars(cls)]
        order = getattr(cls, 'order', None)
        rows.append((refmd.code(cls.__name__), refmd.summary(cls),
                     ', '.join(own) or '-', '-' if order is None else order,
                     refmd.code(path)))
    out += [refmd.table(['callback', 'job', 'events', 'order', 'class'], rows)]
    out += ['', '## Callback plugins', '',
            'Registered callbacks a recipe adds with `Trainer.callbacks = [@name()]` '
            '(their options: [Recipe bindings](bindings.md#callbacks)).', '',
            refmd.table(['name', 'what it does', 'provider'],
                        [(refmd.code(e.name), refmd.summary(e.factory), e.provider)
                         for e in src.registry.entries('callback')])]
    hooks = [(kind, hook, getattr(hookspecs, hook)) for kind, hook in
             hookspecs.KIND_HOOKS.items()]
    _require(hooks, 'No hook specifications.')
    out += ['', '## Plugin hooks', '', refmd.body(hookspecs), '',
            refmd.table(['hook', 'kind', 'what it does', 'registrar'],
                        [(refmd.code(f'{hook}(registry)'), kind, refmd.summary(fn),
                          refmd.code(f'registry.{kind}(...)')) for kind, hook, fn in hooks])]
    out += ['', '## Registrars', '',
            'What each hook calls on the registry it receives:']
    for kind, _, _ in hooks:
        method = getattr(registry_cls, kind)
        out += ['', f'### registry.{kind}', '', '```python',
                f'registry.{kind}{inspect.signature(method)}'.replace('(self, ', '('),
                '```', '', refmd.body(method)]
    return '\n'.join(out) + '\n'
