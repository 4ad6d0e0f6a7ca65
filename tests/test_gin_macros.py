"""Gin macros and names: a macro set but never used, or used but never set, and every
unknown name in a file or a --gin_param stop the run (exit 2) with the closest names."""

import glob
import os

import gin
import pytest

from conftest import ROOT, run_cli
from jacktf.app import configurables
from jacktf.core.errors import ConfigError


@pytest.fixture
def parse(default_registry):
    def _parse(files, params=(), model_dir='/tmp/jacktf-test-unused'):
        return configurables.parse(files, list(params), model_dir)
    yield _parse
    gin.clear_config()


def _error(parse, files, params=()):
    with pytest.raises(ConfigError) as info:
        parse(files, params)
    return str(info.value)


def test_unused_macro_on_the_command_line_stops_the_run_with_exit_2(tmp_path):
    r = run_cli(['jacktf.run', '--gin_file=gin/demo.gin', f'--model_dir={tmp_path}/m',
                 '--gin_param=LEARNING_RAT = 0.5', '--gin_param=TRAIN_STEPS = 3'],
                timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'Traceback' not in r.stderr
    assert 'jacktf: error: Macro LEARNING_RAT is set (--gin_param "LEARNING_RAT = 0.5")' \
        in r.stderr
    assert 'nothing uses it' in r.stderr and 'Did you mean LEARNING_RATE?' in r.stderr
    assert not os.path.exists(tmp_path / 'm')  # stopped before anything was written


def test_unused_macro_in_an_override_file_names_the_file_and_line(tmp_path):
    override = tmp_path / 'override.gin'
    override.write_text("include 'gin/demo.gin'\n# faster\nLEARNING_RAT = 0.5\n")
    r = run_cli(['jacktf.run', f'--gin_file={override}', f'--model_dir={tmp_path}/m'],
                timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert f'Macro LEARNING_RAT is set ({override} line 3)' in r.stderr
    assert 'Did you mean LEARNING_RATE?' in r.stderr


def test_macro_case_and_several_unused_macros_are_all_named(parse):
    text = _error(parse, ['gin/demo.gin'], ['learning_rate = 0.5', 'TRAIN_STEP = 3'])
    assert 'Macro learning_rate is set' in text and 'Did you mean LEARNING_RATE?' in text
    assert 'Macro TRAIN_STEP is set' in text and 'Did you mean TRAIN_STEPS' in text


def test_macro_used_only_by_an_unused_macro_is_unused(parse):
    text = _error(parse, ['gin/demo.gin'], ['MY_RATE = 0.5', 'LR2 = %MY_RATE'])
    assert 'Macro LR2 is set' in text and 'Macro MY_RATE is set' in text


def test_macro_used_but_never_set_names_the_binding_and_the_closest_macro(parse):
    text = _error(parse, ['gin/demo.gin'], ['Trainer.learning_rate = %LEARNING_RAT'])
    assert 'Macro %LEARNING_RAT is used by Trainer.learning_rate but never set' in text
    assert 'Did you mean LEARNING_RATE?' in text
    assert 'config string' not in text  # not gin's dump of the whole configuration


def test_model_dir_flag_without_a_model_dir_macro_is_named(parse, tmp_path):
    recipe = tmp_path / 'r.gin'
    recipe.write_text(open(os.path.join(ROOT, 'gin', 'demo.gin')).read().replace(
        "MODEL_DIR = 'runs/demo'\n", '').replace(
        "include 'base/experiment.gin'", "include 'base/experiment.gin'\n"
        "Experiment.model_dir = '/tmp/elsewhere'").replace('%MODEL_DIR', "'/x'"))
    text = _error(parse, [str(recipe)])
    assert 'Macro MODEL_DIR is set (--model_dir=/tmp/jacktf-test-unused)' in text


@pytest.mark.parametrize('where', ['file', 'flag'])
def test_unknown_names_get_did_you_mean_in_files_and_flags(parse, tmp_path, where):
    lines = {'Trainer.log_evry_steps = 5': ("parameter named 'log_evry_steps'",
                                            'Did you mean log_every_steps'),
             'Modle.head = @logits': ("No configurable matching 'Modle'",
                                      'Did you mean Model?'),
             'BACKBONE = @resnet_v1_5O': ("'@resnet_v1_5O'", 'Did you mean resnet_v1_50'),
             'Model.head = @logitz': ("'@logitz'", 'Did you mean logits')}
    for line, (gin_says, we_say) in lines.items():
        if where == 'file':
            recipe = tmp_path / 'recipe.gin'
            recipe.write_text(f"include 'gin/demo.gin'\n{line}\n")
            text = _error(parse, [str(recipe)])
            assert 'recipe.gin' in text and 'line 2' in text, text
        else:
            text = _error(parse, ['gin/demo.gin'], ['TRAIN_STEPS = 3', line])
            assert f'In --gin_param "{line}"' in text, text
        assert gin_says in text and we_say in text, text


def test_every_shipped_recipe_uses_every_macro_it_sets(parse):
    recipes = sorted(glob.glob(os.path.join(ROOT, 'gin', '*.gin')))
    assert len(recipes) >= 6
    for recipe in recipes:
        parse([recipe])  # raises on a macro set but never used
