"""Gin is strict and user mistakes exit with code 2 and a message, never a traceback."""

import json
import pytest

from conftest import run_cli


def _write(tmp_path, text):
    path = tmp_path / 'recipe.gin'
    path.write_text("include 'gin/tiny_from_scratch.gin'\n" + text)
    return str(path)


def test_misspelt_backbone_gives_did_you_mean_and_exit_2(tmp_path):
    recipe = _write(tmp_path, 'BACKBONE = @resnet_v1_5O\n')
    r = run_cli(['jacktf.run', f'--gin_file={recipe}', f'--model_dir={tmp_path}/m'])
    assert r.returncode == 2
    assert 'Traceback' not in r.stderr
    assert "No configurable matching reference '@resnet_v1_5O'" in r.stderr
    assert 'Did you mean resnet_v1_50' in r.stderr and 'jacktf plugins' in r.stderr
    assert 'recipe.gin' in r.stderr and 'line 2' in r.stderr


def test_misspelt_parameter_names_file_line_and_nearest(tmp_path):
    recipe = _write(tmp_path, 'Trainer.log_evry_steps = 5\n')
    r = run_cli(['jacktf.run', f'--gin_file={recipe}'])
    assert r.returncode == 2
    assert "doesn't have a parameter named 'log_evry_steps'" in r.stderr
    assert 'Did you mean log_every_steps' in r.stderr
    assert 'line 2' in r.stderr


@pytest.mark.slow
def test_missing_gin_file_and_missing_data_exit_2(tmp_path):
    r = run_cli(['jacktf.run', '--gin_file=gin/nope.gin'])
    assert r.returncode == 2 and 'demo.gin' in r.stderr  # lists the shipped recipes
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={tmp_path}/m',
                 f"--gin_param=TRAIN_FILES = '{tmp_path}/none-*.tfrecord'"])
    assert r.returncode == 2 and 'No files match' in r.stderr and 'Traceback' not in r.stderr


@pytest.mark.slow
def test_plugins_command_lists_builtins():
    r = run_cli(['jacktf.cli', 'plugins', '--json'])
    assert r.returncode == 0, r.stderr
    rows = {(p['kind'], p['name']): p for p in json.loads(r.stdout)['plugins']}
    card = rows[('backbone', 'resnet_v1_50')]
    assert card['provider'] == 'builtin'
    assert card['card']['scope'] == 'resnet_v1_50'
    assert card['card']['default_image_size'] == 224
    assert ('optimizer', 'momentum') in rows and ('head', 'logits') in rows
    table = run_cli(['jacktf.cli', 'plugins', '--kind', 'backbone'])
    assert table.returncode == 0
    assert 'resnet_v2_152' in table.stdout and 'momentum' not in table.stdout


@pytest.mark.slow
def test_jacktf_train_from_any_folder_warns_when_eval_reads_training_files(tmp_path):
    r = run_cli(['jacktf.cli', 'train', '--gin_file', 'gin/tiny_from_scratch.gin',
                 '--gin_param', 'TRAIN_STEPS = 2', '--gin_param', 'IMAGE_SIZE = 32',
                 '--gin_param', "EVAL_FILES = 'demo://train'",
                 '--gin_param', 'Experiment.export_at_end = False',
                 '--model_dir', str(tmp_path / 'm')], cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Done at step 2' in r.stdout
    assert 'EVAL_FILES and TRAIN_FILES share 4 file(s)' in r.stdout


def _older_recipe(tmp_path, drop):
    """tiny_from_scratch.gin as written before some lines existed (``drop``: prefixes)."""
    from jacktf.app.configurables import RECIPES_DIR
    import os
    lines = open(os.path.join(RECIPES_DIR, 'tiny_from_scratch.gin')).read().splitlines()
    kept = [line for line in lines if not line.startswith(tuple(drop))]
    path = tmp_path / 'older.gin'
    path.write_text('\n'.join(kept) + '\n')
    return str(path)


@pytest.mark.slow
def test_recipe_written_before_train_epochs_still_runs(tmp_path):
    recipe = _older_recipe(tmp_path, ['TRAIN_EPOCHS'])
    r = run_cli(['jacktf.run', f'--gin_file={recipe}', f'--model_dir={tmp_path}/m',
                 "--gin_param=TRAIN_STEPS = 2", "--gin_param=BATCH_SIZE = 4",
                 "--gin_param=periodic_eval.every_steps = None"], timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / 'm' / 'checkpoints' / 'ckpt-2.index').exists()
    assert 'TRAIN_EPOCHS = None' in (tmp_path / 'm' / 'operative_config.gin').read_text()


def test_required_parameter_left_out_names_the_binding(tmp_path):
    recipe = _older_recipe(tmp_path, ['Trainer.optimizer', 'momentum.'])
    r = run_cli(['jacktf.run', f'--gin_file={recipe}', f'--model_dir={tmp_path}/m'])
    assert r.returncode == 2
    assert 'Traceback' not in r.stderr
    assert 'Trainer needs optimizer' in r.stderr
    assert 'Trainer.optimizer = ...' in r.stderr
    assert not (tmp_path / 'm').exists()


@pytest.mark.slow
def test_run_module_from_the_folder_holding_a_clone_named_jacktf(tmp_path):
    # The working directory holds a folder named jacktf (a clone: the package is one
    # level down), which Python would import as an empty namespace package.
    (tmp_path / 'jacktf' / 'jacktf').mkdir(parents=True)
    r = run_cli(['jacktf.run', '--gin_file=gin/tiny_from_scratch.gin',
                 f'--model_dir={tmp_path}/m', '--mode=train', '--gin_param=TRAIN_STEPS = 1',
                 '--gin_param=BATCH_SIZE = 2', '--gin_param=IMAGE_SIZE = 32',
                 '--gin_param=Experiment.export_at_end = False'],
                cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / 'm' / 'checkpoints' / 'ckpt-1.index').exists()
