"""`jacktf --help` and every subcommand's help import neither TensorFlow nor gin, and
every option says what it does and its default."""

import argparse
import json
import subprocess
import sys

import pytest

from conftest import ROOT
from jacktf import cli
from jacktf.commands import common

# Runs a module's main with argv, then reports the exit code and the heavy modules loaded.
PROBE = '''
import json, runpy, sys
sys.argv = {argv!r}
code = 0
try:
    runpy.run_module({module!r}, run_name='__main__', alter_sys=True)
except SystemExit as e:
    code = e.code
heavy = sorted(m for m in ('tensorflow', 'gin', 'tf_slim', 'tf_keras')
               if m in sys.modules)
sys.stderr.write('PROBE ' + json.dumps({{'code': code, 'heavy': heavy}}) + '\\n')
'''


def _subcommands(parser, prefix=()):
    """[(argv prefix, parser)] of every (sub)command, nested ones included."""
    found = [(prefix, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _subcommands(child, prefix + (name,))
    return found


COMMAND_PATHS = [path for path, _ in _subcommands(cli.build_parser())]


def _probe(module, argv):
    r = subprocess.run([sys.executable, '-c', PROBE.format(module=module, argv=argv)],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    line = [x for x in r.stderr.splitlines() if x.startswith('PROBE ')]
    assert line, r.stderr[-2000:]
    return r.stdout, json.loads(line[-1][len('PROBE '):])


def test_every_command_is_listed():
    names = {path[0] for path in COMMAND_PATHS if path}
    assert {'train', 'convert', 'plugins', 'pretrained', 'inspect-checkpoint', 'export',
            'eval', 'predict'} <= names
    assert ('pretrained', 'list') in COMMAND_PATHS
    assert ('pretrained', 'download') in COMMAND_PATHS


@pytest.mark.parametrize('path', COMMAND_PATHS, ids=lambda p: ' '.join(p) or 'jacktf')
def test_help_imports_no_tensorflow(path):
    out, probe = _probe('jacktf.cli', ['jacktf', *path, '--help'])
    assert probe['code'] == 0
    assert out.startswith('usage: jacktf' + ''.join(' ' + p for p in path))
    assert probe['heavy'] == [], f'--help imported {probe["heavy"]}'


def test_run_module_help_imports_no_tensorflow():
    out, probe = _probe('jacktf.run', ['jacktf.run', '--help'])
    assert probe['code'] in (0, 1)  # absl's --help exits with 1
    assert '--gin_file' in out and '--verbose' in out
    assert 'tensorflow' not in probe['heavy'] and 'gin' not in probe['heavy']


@pytest.mark.parametrize('path', COMMAND_PATHS, ids=lambda p: ' '.join(p) or 'jacktf')
def test_every_option_has_help_and_default(path):
    parser = dict(_subcommands(cli.build_parser()))[path]
    assert parser.description, f'{path}: no description'
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        what = f'jacktf {" ".join(path)} {"/".join(action.option_strings) or action.dest}'
        assert action.help and len(action.help) > 8, f'{what}: no help text'
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f'{what} {choice.dest}: no help text'
            continue
        if action.option_strings:
            shown = common.help_with_default(action)
            assert 'default' in shown.lower() or '(required)' in shown, (
                f'{what}: the help does not say its default: {shown!r}')


def test_default_is_rendered():
    parser = dict(_subcommands(cli.build_parser()))[('export',)]
    text = parser.format_help()
    assert '(default: 300)' in text  # --representative_count
    assert '(required)' in text  # --model_dir
    assert '(default: off)' in text  # --onnx


def test_verbose_before_or_after_the_command():
    parser = cli.build_parser()
    assert parser.parse_args(['-v', 'plugins']).verbose is True
    assert parser.parse_args(['plugins', '--verbose']).verbose is True
    assert parser.parse_args(['plugins']).verbose is False
    assert parser.parse_args(['pretrained', 'list', '-v']).verbose is True
    args = parser.parse_args(['inspect-checkpoint', '--checkpoint', 'c', '--gin_file',
                              'g', '--verbose'])
    assert args.verbose is True


def test_a_misspelt_option_gets_the_closest_ones_of_its_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(['train', '--gin_file', 'gin/demo.gin', '--gin_parm', 'X = 1',
                  '--model-dir', 'runs/x'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: jacktf train')
    assert 'unrecognized arguments: --gin_parm X = 1 --model-dir runs/x' in err
    assert '--gin_parm: did you mean --gin_param?' in err
    assert '--model-dir: did you mean --model_dir?' in err
    assert '`jacktf train --help` lists its options.' in err
