"""Every shipped recipe runs out of the box on the demo data; Inception's aux loss."""

import os

import numpy as np
import pytest
import tensorflow as tf

import jacktf
from jacktf.app.configurables import RECIPES_DIR
from jacktf.train.trainer import Trainer
from jacktf.optim.optimizers import sgd
from conftest import run_cli

RECIPES = sorted(f for f in os.listdir(RECIPES_DIR) if f.endswith('.gin'))


def test_recipes_share_the_macro_header():
    macros = ['BACKBONE', 'NUM_CLASSES', 'IMAGE_SIZE', 'BATCH_SIZE', 'TRAIN_STEPS', 'TRAIN_EPOCHS',
              'LEARNING_RATE', 'TRAIN_FILES', 'EVAL_FILES', 'CHECKPOINT_PATH',
              'CHECKPOINT_EXCLUDE_SCOPES', 'FREEZE_SCOPES', 'PRECISION', 'MODEL_DIR']
    assert {'demo.gin', 'tiny_from_scratch.gin', 'resnet50_2cls.gin'} <= set(RECIPES)
    for name in RECIPES:
        with open(os.path.join(RECIPES_DIR, name)) as f:
            lines = [l.split('=')[0].strip() for l in f if l[:1].isupper() and '=' in l]
        assert lines[:len(macros)] == macros, name


def test_every_recipe_writes_under_runs_in_the_working_directory_by_default():
    for name in RECIPES:  # not /tmp, which a reboot empties
        with open(os.path.join(RECIPES_DIR, name)) as f:
            assert f"\nMODEL_DIR = 'runs/{name[:-4]}'" in f.read(), name


@pytest.mark.parametrize('recipe', RECIPES)
def test_every_recipe_parses_strictly(recipe):
    """Unknown configurables or parameters and unused or unset macros fail here for every
    recipe, in well under a second each (the slow and heavy sets train them)."""
    import gin
    from jacktf.app import configurables, runtime
    runtime.load_plugins()
    try:
        configurables.parse([f'gin/{recipe}'], ['CHECKPOINT_PATH = None'])
        assert gin.query_parameter('%BATCH_SIZE') > 0
    finally:
        gin.clear_config()


# The slow set (CI) trains the recipes of the demo, the front door, the staged schedule,
# a mobilenet, a resnet and training from scratch; the heavy set trains every recipe (the
# big nets' take 1-3 minutes each even at 96x96). Every recipe is parsed in the default set.
IN_CI = ('demo.gin', 'front_door.gin', 'finetune_staged.gin', 'mobilenet_v1_finetune.gin',
         'resnet50_2cls.gin', 'tiny_from_scratch.gin')


@pytest.mark.parametrize('recipe', [
    pytest.param(r, marks=pytest.mark.slow if r in IN_CI else pytest.mark.heavy)
    for r in RECIPES])
def test_recipe_trains_on_demo_data(recipe, tmp_path):
    with open(os.path.join(RECIPES_DIR, recipe)) as f:
        text = f.read()
    offline = ['--gin_param=CHECKPOINT_PATH = None'] if 'slim://' in text else []
    if '\nTRAIN_EPOCHS = ' in text:  # a recipe given in epochs: the test gives steps
        offline.append('--gin_param=TRAIN_EPOCHS = None')
    if '\nTRAIN_FILES = None' in text:  # the front door's: the data comes from the command
        offline.append("--gin_param=TRAIN_FILES = 'demo://train'")
    steps = 3 if recipe == 'finetune_staged.gin' else 2  # one step per stage
    if recipe.startswith(('nasnet', 'pnasnet')):  # the net's code, 3 narrow cells (not 12-18)
        net = recipe.split('_finetune')[0]
        offline.append(f"--gin_param={net}.config = {{'num_cells': 3, 'num_conv_filters': 16}}")
    r = run_cli(['jacktf.run', f'--gin_file=gin/{recipe}', f'--model_dir={tmp_path}',
                 f'--gin_param=TRAIN_STEPS = {steps}', '--gin_param=BATCH_SIZE = 4',
                 '--gin_param=EVAL_FILES = None', '--gin_param=IMAGE_SIZE = 96',
                 '--gin_param=cosine.warmup_steps = 0', '--mode=train'] + offline)  # no download: tests stay offline
    assert r.returncode == 0, r.stderr[-3000:]
    assert f'Done at step {steps}' in r.stdout
    assert tf.train.latest_checkpoint(os.path.join(tmp_path, 'checkpoints'))


@pytest.mark.slow
def test_inception_v3_aux_logits_enter_the_loss(default_registry):
    model = jacktf.build_model('inception_v3', head='native', num_classes=2,
                               registry=default_registry, create_aux_logits=True)
    aux = [v for v in model.variables if 'AuxLogits/Conv2d_2b_1x1/weights' in v.name][0]
    before = aux.numpy().copy()
    trainer = Trainer(train_steps=1, optimizer=sgd, learning_rate=0.1)
    variables, _ = trainer.split_variables(model)
    optimizer = sgd(0.1)
    step = trainer.make_train_step(model, optimizer, variables, 2,
                                   tf.distribute.get_strategy())
    data = tf.data.Dataset.from_tensors((tf.random.uniform([2, 299, 299, 3], -1, 1),
                                         tf.constant([0, 1]))).repeat()
    step(iter(data))
    assert not np.array_equal(aux.numpy(), before)
