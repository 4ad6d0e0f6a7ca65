"""The layers of DESIGN.md, kept honest: no module imports a module of a higher layer.

Layers, lowest first: core < data, backbones, heads, optim, pretrained < train,
evaluation, serve < app < commands, cli < run, __init__. Every import counts, also one
inside a function (a lazy import is still a dependency). One exception: a built-in
plugin may import ``jacktf`` for the names the package binds from core when it is
imported (``@jacktf.hookimpl``, ``jacktf.ConfigError``, ...), as a third-party plugin
does; jacktf/__init__.py itself imports nothing above core at import time (checked
below), so that import stays in core.
"""

import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       'jacktf')
LAYERS = {'core': 0, 'data': 1, 'backbones': 1, 'heads': 1, 'optim': 1, 'pretrained': 1,
          'train': 2, 'evaluation': 2, 'serve': 2, 'app': 3, 'commands': 4, 'cli': 4,
          'run': 5, '__init__': 5}


def layer_of(module):
    """The layer of a dotted jacktf module name (``jacktf.train.step`` -> 2), or None for
    modules outside jacktf. ``jacktf`` itself is its __init__ (the top)."""
    parts = module.split('.')
    if parts[0] != 'jacktf':
        return None
    if len(parts) == 1:
        return LAYERS['__init__']
    return LAYERS[parts[1]]


def module_name(path, root=PACKAGE):
    rel = os.path.relpath(path, os.path.dirname(root))[:-len('.py')].split(os.sep)
    return '.'.join(rel[:-1] if rel[-1] == '__init__' else rel)


def imported(tree, module, is_package):
    """(line, dotted name) of every jacktf module ``tree`` imports, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split('.')
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            for alias in node.names:
                # `from jacktf.app import runtime` imports jacktf.app.runtime.
                yield node.lineno, f'{name}.{alias.name}' if name == 'jacktf' or \
                    name.count('.') == 1 else name


def core_names(root=PACKAGE):
    """Names jacktf/__init__.py binds at import time from core (and ``hookimpl``)."""
    with open(os.path.join(root, '__init__.py')) as f:
        tree = ast.parse(f.read())
    names = {'hookimpl', '__version__'}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or '').startswith(
                'jacktf.core'):
            names.update(a.asname or a.name for a in node.names)
    return names


def only_core_names(tree, allowed):
    """True when every use of the name ``jacktf`` in ``tree`` is ``jacktf.NAME`` with
    NAME in ``allowed``."""
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == 'jacktf']
    attributes = {id(n.value): n.attr for n in ast.walk(tree)
                  if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    return all(attributes.get(id(n)) in allowed for n in uses)


def upward_imports(root=PACKAGE):
    """['file:line: module (layer) imports name (layer)', ...] for every import that
    runs up the layers."""
    problems, allowed = [], core_names(root)
    for folder, _, files in os.walk(root):
        for filename in sorted(files):
            if not filename.endswith('.py'):
                continue
            path = os.path.join(folder, filename)
            module = module_name(path, root)
            own = module if module.count('.') else f'{module}.__init__'
            if own == 'jacktf.__init__' or module == 'jacktf.__init__':
                continue
            mine = layer_of(own)
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            plugin = only_core_names(tree, allowed)
            for line, name in imported(tree, module, filename == '__init__.py'):
                if name == 'jacktf' and plugin:
                    continue
                theirs = layer_of(name)
                if theirs is not None and theirs > mine:
                    problems.append(f'{os.path.relpath(path, os.path.dirname(root))}:'
                                    f'{line}: {module} (layer {mine}) imports {name} '
                                    f'(layer {theirs})')
    return problems


def test_every_module_has_a_layer():
    for folder, dirs, files in os.walk(PACKAGE):
        for filename in files:
            if filename.endswith('.py'):
                module = module_name(os.path.join(folder, filename))
                assert layer_of(module if module.count('.') else 'jacktf') is not None


def test_no_upward_import():
    problems = upward_imports()
    assert not problems, 'Imports that run up the layers (core < data, backbones, ' \
        'heads, optim, pretrained < train, evaluation, serve < app < commands, cli):\n' + \
        '\n'.join(problems)


def test_the_package_import_loads_only_core():
    """``import jacktf`` (what every plugin does) runs no import above core at import
    time; its functions import what they need when called."""
    with open(os.path.join(PACKAGE, '__init__.py')) as f:
        tree = ast.parse(f.read())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name if isinstance(n, ast.Import) else n.module
             for n in top for a in n.names]
    assert [n for n in names if n.startswith('jacktf') and layer_of(n) > 0] == []


def test_the_checker_finds_an_upward_import(tmp_path):
    """A synthetic package with a core module importing train (in a function) fails."""
    root = tmp_path / 'jacktf'
    (root / 'core').mkdir(parents=True)
    (root / 'train').mkdir()
    for path in (root / '__init__.py', root / 'core' / '__init__.py',
                 root / 'train' / '__init__.py', root / 'train' / 'step.py'):
        path.write_text('')
    (root / 'core' / 'model.py').write_text(
        'import os\nfrom jacktf.core import errors\n\n\ndef f():\n'
        '    from jacktf.train import step\n    return step\n')
    (root / 'core' / 'rel.py').write_text('from ..app import runtime\n')
    problems = upward_imports(str(root))
    assert problems == [
        'jacktf/core/model.py:6: jacktf.core.model (layer 0) imports jacktf.train.step '
        '(layer 2)',
        'jacktf/core/rel.py:1: jacktf.core.rel (layer 0) imports jacktf.app.runtime '
        '(layer 3)'] or sorted(problems) == sorted([
            'jacktf/core/model.py:6: jacktf.core.model (layer 0) imports jacktf.train.step '
            '(layer 2)',
            'jacktf/core/rel.py:1: jacktf.core.rel (layer 0) imports jacktf.app.runtime '
            '(layer 3)'])
    with pytest.raises(AssertionError):
        assert not problems
