"""Reference pages that need no TensorFlow: the command line and the code layout."""

import argparse
import ast
import os
import pkgutil

import refmd
import refsources


def _subcommands(parser, path=()):
    """(path, help, parser) of every subcommand, depth first, in parser order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield path + (name,), helps.get(name, ''), sub
                yield from _subcommands(sub, path + (name,))


def _option_rows(parser):
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        names = ', '.join(action.option_strings) or action.metavar or action.dest
        if action.choices is not None:
            takes = ' | '.join(str(c) for c in action.choices)
        elif action.nargs == 0:
            takes = '(flag)'
        else:
            takes = action.metavar or action.dest.upper()
            if action.nargs in ('+', '*'):
                takes += ' ...'
            if isinstance(action, argparse._AppendAction):
                takes += ' (repeatable)'
        help_text = formatter._expand_help(action) if action.help else ''
        rows.append((refmd.code(names), takes, help_text))
    return rows


def cli_page():
    """Markdown of `jacktf` and every subcommand: usage, each option, its default."""
    parser = refsources.load(refsources.CLI_PARSER)()
    commands = list(_subcommands(parser))
    if not commands:
        raise refsources.SourceError('The jacktf parser has no subcommands: the CLI '
                                     'reference would be empty.')
    out = ['# Command line', '',
           'Generated from the parser in `jacktf/cli.py` and `jacktf/commands/` when the '
           'site is built: it is what `jacktf COMMAND --help` prints. `python -m '
           'jacktf.run` takes the options of `jacktf train`.', '',
           '```', parser.format_usage().strip(), '```', '',
           refmd.table(['command', 'what it does'],
                       [(refmd.code('jacktf ' + ' '.join(p)), h) for p, h, _ in commands]),
           '', '**Options of every command**', '',
           refmd.table(['option', 'takes', 'what it does'], _option_rows(parser))]
    for path, help_text, sub in commands:
        out += ['', f'## jacktf {" ".join(path)}', '', sub.description or help_text, '',
                '```', sub.format_usage().strip(), '```']
        rows = _option_rows(sub)
        if rows:
            out += ['', refmd.table(['option', 'takes', 'what it does'], rows)]
    return '\n'.join(out) + '\n'


def _docstring_line(path):
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    doc = ast.get_docstring(tree) or ''
    return ' '.join(doc.split('\n\n')[0].split())


def layout_page():
    """Markdown of every package and module of jacktf with its docstring's first lines."""
    package = refsources.load(refsources.PACKAGE)
    root = os.path.dirname(package.__file__)
    out = ['# Where the code is', '',
           'Generated from the module docstrings of the `jacktf` package when the site is '
           'built. Layers, lowest first: core < data, backbones, heads, optim, pretrained '
           '< train, evaluation, serve < app < commands, cli; an import never runs up '
           'this list.']
    packages = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(('_', '.')))
        if '__init__.py' in files:
            rel = os.path.relpath(folder, os.path.dirname(root))
            packages.append((rel.replace(os.sep, '.'), folder))
    for name, folder in sorted(packages):
        modules = sorted(m.name for m in pkgutil.iter_modules([folder]) if not m.ispkg)
        init = os.path.join(folder, '__init__.py')
        out += ['', f'## {name}', '', _docstring_line(init) if os.path.exists(init)
                else '(a namespace package)', '']
        rows = [(refmd.code(m + '.py'), _docstring_line(os.path.join(folder, m + '.py')))
                for m in modules]
        if rows:
            out.append(refmd.table(['module', 'what it holds'], rows))
    if len(packages) < 5:
        raise refsources.SourceError(f'Only {len(packages)} packages found under {root}.')
    return '\n'.join(out) + '\n'
