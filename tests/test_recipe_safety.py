"""Recipes and run folders are data: no gin text jacktf reads may import or bind Python.

The attack module below writes a marker file when imported: every test checks both the
ConfigError (file and line) and that the marker was never written.
"""

import os

import pytest

from conftest import run_cli
from jacktf.core import recipe_safety
from jacktf.core.errors import ConfigError

EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\ndef run(): pass\n"


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """(module name, marker path): a module on sys.path that leaves a marker on import."""
    marker = tmp_path / 'MARKER'
    (tmp_path / 'evil_gin_mod.py').write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    return 'evil_gin_mod', marker


@pytest.fixture
def parse(default_registry):
    from jacktf.app import configurables
    return configurables.parse


def _recipe(tmp_path, text, name='recipe.gin'):
    path = tmp_path / name
    path.write_text("include 'gin/tiny_from_scratch.gin'\n" + text)
    return str(path)


@pytest.mark.parametrize('statement', [
    'import {mod}',
    'from {mod} import run',
    'import {mod} as alias',
    'from __gin__ import dynamic_registration\nimport {mod}',
    'import \\\n  {mod}',
])
def test_import_in_a_recipe_is_refused_before_gin_runs_it(tmp_path, evil, parse,
                                                          statement):
    mod, marker = evil
    recipe = _recipe(tmp_path, 'TRAIN_STEPS = 3\n' + statement.format(mod=mod) + '\n')
    with pytest.raises(ConfigError) as info:
        parse([recipe])
    text = str(info.value)
    assert f'{recipe} line 3' in text and 'import' in text and 'plugin' in text
    assert not marker.exists()


def test_dynamic_registration_of_os_system_is_refused(tmp_path, parse):
    marker = tmp_path / 'MARKER'
    recipe = _recipe(tmp_path, (
        'from __gin__ import dynamic_registration\nimport os\n'
        f"os.system.command = 'touch {marker}'\nTrainer.log_every_steps = @os.system()\n"))
    with pytest.raises(ConfigError) as info:
        parse([recipe])
    assert f'{recipe} line 2' in str(info.value) and f'{recipe} line 3' in str(info.value)
    assert not marker.exists()


def test_an_included_file_two_levels_down_is_checked(tmp_path, evil, parse):
    mod, marker = evil
    (tmp_path / 'inner.gin').write_text(f'# harmless\nTRAIN_STEPS = 3\nimport {mod}\n')
    (tmp_path / 'middle.gin').write_text(f"include '{tmp_path / 'inner.gin'}'\n")
    recipe = _recipe(tmp_path, f"include '{tmp_path / 'middle.gin'}'\n")
    with pytest.raises(ConfigError) as info:
        parse([recipe])
    assert f'{tmp_path / "inner.gin"} line 3' in str(info.value)
    assert not marker.exists()


def test_gin_param_binding_with_an_import_is_refused(tmp_path, evil, parse):
    mod, marker = evil
    with pytest.raises(ConfigError) as info:
        parse(['gin/tiny_from_scratch.gin'], ['TRAIN_STEPS = 3', f'import {mod}'])
    assert f'--gin_param "import {mod}" line 1' in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize('text,name', [
    ('Trainer.optimizer = @os.system\n', '@os.system'),
    ('Trainer.optimizer = @scope/subprocess.run()\n', '@scope/subprocess.run'),
    ("os.system.command = 'ls'\n", "'os.system'"),
])
def test_module_paths_that_jacktf_does_not_register_are_refused(tmp_path, parse, text,
                                                                 name):
    recipe = _recipe(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        parse([recipe])
    assert f'{recipe} line 2' in str(info.value) and name in str(info.value)
    assert 'does not register' in str(info.value)


def test_data_that_only_mentions_import_still_parses(tmp_path, parse):
    recipe = _recipe(tmp_path, (
        "# import os  (a comment)\nTRAIN_FILES = 'import os'\n"
        'Trainer.optimizer = @jacktf.optimizer.momentum\n'
        'optimizer.momentum.momentum = 0.8\n'))
    assert parse([recipe]) == [recipe]


def test_a_fifo_as_recipe_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / 'recipe.gin'
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match='not a regular file'):
        recipe_safety.check_files([str(fifo)], lambda name: None)


def test_an_include_of_a_device_or_fifo_is_refused_without_reading(tmp_path):
    fifo = tmp_path / 'fifo.gin'
    os.mkfifo(fifo)
    for target in ('/dev/zero', str(fifo)):
        recipe = tmp_path / 'recipe.gin'
        recipe.write_text(f"TRAIN_STEPS = 3\ninclude '{target}'\n")
        with pytest.raises(ConfigError, match=f'{target} is not a regular file'):
            recipe_safety.check_files([str(recipe)], lambda name: None)


def test_text_gin_cannot_tokenize_is_still_checked_line_by_line():
    with pytest.raises(ConfigError, match='line 2'):
        recipe_safety.check_text("X = 1\nimport os\nY = '''unterminated\n", 'f.gin')


def test_model_dir_operative_config_is_checked_in_process(tmp_path, evil,
                                                         default_registry):
    from jacktf.commands.common import experiment_for
    mod, marker = evil
    run = tmp_path / 'run'
    run.mkdir()
    config = run / 'operative_config.gin'
    config.write_text(f"include 'tiny_from_scratch.gin'\nfrom {mod} import run\n")
    with pytest.raises(ConfigError, match=f'{config} line 2'):
        experiment_for(str(run))
    assert not marker.exists()


@pytest.mark.slow
def test_operative_config_of_a_shared_run_cannot_run_code(tmp_path):
    """`jacktf export/eval --model_dir` read the run's operative_config.gin."""
    marker = tmp_path / 'MARKER'
    (tmp_path / 'evil_gin_mod.py').write_text(EVIL.format(marker=str(marker)))
    run = tmp_path / 'run'
    run.mkdir()
    config = run / 'operative_config.gin'
    config.write_text("include 'tiny_from_scratch.gin'\nimport evil_gin_mod\n")
    env = {'PYTHONPATH': os.pathsep.join([str(tmp_path), os.environ.get('PYTHONPATH', '')])}
    for command in (['export'], ['eval']):
        r = run_cli(['jacktf.cli'] + command + ['--model_dir', str(run)], env=env)
        assert r.returncode == 2, r.stderr
        assert 'Traceback' not in r.stderr
        assert f'{config} line 2' in r.stderr and 'import statement' in r.stderr
        assert not marker.exists()
