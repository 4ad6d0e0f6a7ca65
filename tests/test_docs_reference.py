"""The docs site's generated reference pages (docs/hooks): complete, and loud when the
code they read has moved."""

import argparse
import os
import sys
import textwrap

import pytest

HOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     'docs', 'hooks')
sys.path.insert(0, HOOKS)

import refcli  # noqa: E402
import refmd  # noqa: E402
import refsources  # noqa: E402


def _parsers(parser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_cli_page_has_every_command_and_option():
    from jacktf.cli import build_parser
    page = refcli.cli_page()
    parsers = list(_parsers(build_parser()))
    assert len(parsers) >= 12  # jacktf, 10 commands, pretrained list/download
    for path, parser in parsers:
        if path:
            assert f'## jacktf {" ".join(path)}\n' in page
        section = page.split(f'## jacktf {" ".join(path)}\n', 1)[-1].split('\n## ', 1)[0]
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ('-h', '--help'):
                    assert option in section, (path, option)
    # The defaults come from the parser's own help formatter.
    assert '(default: train_and_eval)' in page
    assert '| `--eval_timeout` | EVAL_TIMEOUT |' in page


def test_layout_page_reads_module_docstrings():
    page = refcli.layout_page()
    assert '## jacktf.commands\n' in page
    assert '| `cli.py` | The `jacktf` command:' in page


def test_a_moved_name_fails_with_the_place_to_fix():
    with pytest.raises(refsources.SourceError, match=r'docs/hooks/refsources\.py') as e:
        refsources.load(('jacktf.no_such_module:register', 'jacktf.cli:no_such_name'))
    assert 'no module jacktf.no_such_module' in str(e.value)
    assert 'no attribute no_such_name' in str(e.value)
    assert refsources.load(('jacktf.gone:x', 'jacktf.cli:build_parser')).__name__ == \
        'build_parser'


def test_a_broken_import_is_not_hidden_by_the_fallback(tmp_path, monkeypatch):
    (tmp_path / 'jacktf_docs_broken.py').write_text('import no_such_dependency_xyz\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match='no_such_dependency_xyz'):
        refsources.load(('jacktf_docs_broken:register', 'jacktf.cli:build_parser'))


def test_arg_docs_reads_google_style_args():
    def fn(a, b, c=(1, 2), *, d=None):
        """Does it.

        Args:
          a / b: the two inputs,
            on two lines.
          c (tuple): a pair.

        Returns:
          d: not a parameter.
        """
    assert refmd.arg_docs(fn) == {'a': 'the two inputs, on two lines.',
                                  'b': 'the two inputs, on two lines.', 'c': 'a pair.'}
    assert [n for n, _ in refmd.parameters(fn)] == ['a', 'b', 'c', 'd']
    assert refmd.value(object()) == '(unset)'
    assert refmd.value(textwrap.dedent) == '`textwrap.dedent`'
    assert refmd.table(['x'], [('a|b',)]).endswith('| a\\|b |')


@pytest.mark.slow
def test_plugin_pages_cover_the_registry_and_the_zoo():
    import inspect

    import jacktf
    import refplugins
    from jacktf.core import hookspecs
    from jacktf.pretrained import zoo
    src = refplugins.Sources()
    bindings = refplugins.bindings_page(src)
    trainer = src.configurables['Trainer']
    for name in inspect.signature(trainer.__init__).parameters:
        if name != 'self':
            assert f'`Trainer.{name}`' in bindings
    assert '| `progress.every_steps` | `20` | steps between progress lines' in bindings
    for entry in jacktf.load_registry().entries():
        assert f'\n### {entry.name}\n' in bindings
    backbones = refplugins.backbones_page(src)
    for name in zoo.ZOO:
        assert f'| `{name}` |' in backbones.split('## Official checkpoints')[1]
    callbacks = refplugins.callbacks_page(src)
    for hook in hookspecs.KIND_HOOKS.values():
        assert f'`{hook}(registry)`' in callbacks
    assert '`on_step_end(ctl, step, logs)`' in callbacks


def test_long_defaults_and_rest_roles_stay_readable():
    assert refmd.value(list(range(100))) == 'a list of 100 entries (see the source)'

    def fn():
        """Fills the :class:`BackboneCard`."""
    assert refmd.summary(fn) == 'Fills the `BackboneCard`.'
