"""The front door: DATA forms, the split rules, split.json on resume, model_dir
numbering and class-count disagreement (`jacktf train DATA`, jacktf.app.front_door)."""

import json
import os

import numpy as np
import pytest

from jacktf.core.errors import ConfigError, DataError
from jacktf.data import pipeline, sources, split_file
from jacktf.data.decoders import image_list
from jacktf.data.splits import default_fraction, stratified_split
from data_factory import add_litter, bad_image_folder, good_image_folder


# -- the split rules ---------------------------------------------------------------
def test_split_is_stratified_seeded_and_keeps_one_per_class():
    labels = ['a'] * 50 + ['b'] * 10 + ['c'] * 2 + ['d']
    train, val = stratified_split(labels, fraction=0.2, seed=3)
    picked = [labels[i] for i in val]
    assert picked.count('a') == 10 and picked.count('b') == 2
    assert picked.count('c') == 1          # a class of two gives one, keeps one
    assert picked.count('d') == 0          # a class of one stays in training
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(labels)))
    again = stratified_split(labels, fraction=0.2, seed=3)
    assert again[1].tolist() == val.tolist()
    assert stratified_split(labels, fraction=0.2, seed=4)[1].tolist() != val.tolist()


def test_split_default_fraction_follows_the_size():
    assert default_fraction(100) == 0.2 and default_fraction(5000) == 0.1
    assert default_fraction(1100) == 0.15
    _, val = stratified_split([0] * 100 + [1] * 100)
    assert len(val) == 40


def test_split_keeps_each_group_on_one_side():
    labels = [i % 3 for i in range(90)]
    groups = [f'photo{i // 3}' if i < 60 else None for i in range(90)]
    for seed in range(5):
        train, val = stratified_split(labels, fraction=0.25, seed=seed, groups=groups)
        side = {}
        for i in val:
            side.setdefault(groups[i], set()).add('val')
        for i in train:
            side.setdefault(groups[i], set()).add('train')
        assert all(len(s) == 1 for g, s in side.items() if g is not None)
        assert {labels[i] for i in val} == {0, 1, 2}
    with pytest.raises(ConfigError, match='one group per example'):
        stratified_split(labels, groups=groups[:5])


# -- the DATA forms ------------------------------------------------------------------
def test_folder_form_skips_litter_and_bad_files_as_convert_does(tmp_path):
    root = str(tmp_path / 'pets')
    expected = bad_image_folder(root, good_per_class=3)
    add_litter(root)
    source = sources.open_source(root)
    assert (source.form, source.classes, source.name) == ('folder', ['cat', 'dog'], 'pets')
    kept, skipped, turned = sources.checked(source)
    assert turned == []
    assert sorted(rel for rel, _ in skipped) == sorted(
        k for k, v in expected.items() if v == 'skipped')
    assert sorted(rel for rel, _, _ in kept) == sorted(
        k for k, v in expected.items() if v != 'skipped')


def test_split_folders_and_csv_forms(tmp_path):
    root = tmp_path / 'flowers'
    good_image_folder(str(root / 'train'), classes=('rose', 'tulip'), per_class=2)
    good_image_folder(str(root / 'val'), classes=('rose', 'tulip'), per_class=1)
    good_image_folder(str(root / 'test'), classes=('rose',), per_class=1)
    source = sources.open_source(str(root))
    assert source.form == 'split_folders' and source.classes == ['rose', 'tulip']
    assert sorted(s for _, _, s in source.entries) == ['test'] + ['train'] * 4 + \
        ['validation'] * 2
    table = tmp_path / 'list.csv'
    table.write_text('path,label,split\nflowers/train/rose/good_0.jpg,rose,train\n'
                     'flowers/train/tulip/good_0.jpg,tulip,\n'
                     'flowers/val/rose/good_0.jpg,rose,val\n')
    source = sources.open_source(str(table))
    assert (source.form, source.classes, source.root) == ('csv', ['rose', 'tulip'],
                                                          str(tmp_path))
    assert [s for _, _, s in source.entries] == ['train', 'train', 'validation']
    table.write_text('flowers/train/rose/good_0.jpg,rose,holdout\n')
    with pytest.raises(DataError, match=r'list.csv line 1: split .holdout. is not one of'):
        sources.open_source(str(table))


def test_tfrecord_form_reads_convert_output(tmp_path):
    from jacktf.data.converter import convert
    good_image_folder(str(tmp_path / 'img'), per_class=4)
    convert(str(tmp_path / 'img'), str(tmp_path / 'rec'), val_fraction=0.25,
            num_shards=1, workers=1, progress=False)
    source = sources.open_source(str(tmp_path / 'rec'))
    assert source.form == 'tfrecord' and source.classes == ['cat', 'dog']
    assert source.train_files.endswith('train-*.tfrecord')
    assert source.eval_files.endswith('validation-*.tfrecord')


def test_demo_names_the_built_in_records_unless_a_folder_is_called_so(tmp_path,
                                                                     monkeypatch):
    source = sources.open_source('demo')
    assert source.form == 'tfrecord' and source.name == 'demo'
    assert sorted(source.classes) == ['dots', 'stripes']
    assert source.train_files.endswith('train-*.tfrecord')
    assert source.eval_files.endswith('validation-*.tfrecord')
    monkeypatch.chdir(tmp_path)  # a folder named demo is the user's data
    good_image_folder(str(tmp_path / 'demo'), per_class=2)
    assert sources.open_source('demo').form == 'folder'


def test_a_multi_label_csv_names_the_way_through_convert(tmp_path):
    (tmp_path / 'labels.csv').write_text('path,label\na.jpg,cat|dog\n')
    with pytest.raises(DataError, match=r"line 2: 'cat\|dog' names several labels.*"
                                        r'jacktf convert --labels_csv'):
        sources.open_source(str(tmp_path / 'labels.csv'))


def test_not_data_names_the_forms(tmp_path):
    with pytest.raises(DataError, match='does not exist: give a folder with one subfolder'):
        sources.open_source(str(tmp_path / 'nope'))


# -- plan: split.json, resume, model_dir, NUM_CLASSES ---------------------------------
@pytest.fixture
def pets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return good_image_folder(str(tmp_path / 'data' / 'pets'), per_class=5)


def test_plan_writes_the_split_and_the_pipeline_reads_it(pets):
    from jacktf.app import front_door
    plan = front_door.plan(pets, epochs=2, batch_size=4, image_size=32)
    assert plan.model_dir == os.path.join('runs', 'pets')
    assert plan.classes == ['cat', 'dog'] and plan.counts == {
        'train': 8, 'validation': 2, 'test': 0}
    assert 'NUM_CLASSES = 2' in plan.gin_params and 'TRAIN_EPOCHS = 2' in plan.gin_params
    content = json.load(open(plan.split_path))
    assert content['made'] == 'stratified' and content['seed'] == 0
    assert {c for _, c in content['files']['validation']} == {'cat', 'dog'}
    ref = split_file.ref(plan.split_path, 'validation')
    assert pipeline.labels_for(ref) == ['cat', 'dog']
    ds = pipeline.read_dataset(ref, decode_fn=image_list(), batch_size=8,
                               preprocess_fn=lambda im, t, s: im[:8, :8] * 0 + 1,
                               is_training=False, num_classes=2)
    assert sorted(np.concatenate([l.numpy() for _, l in ds]).tolist()) == [0, 1]
    assert 'pets (folder): 2 classes' in plan.describe()


def test_resume_reads_the_same_split_and_refuses_a_changed_folder(pets, capsys):
    from jacktf.app import front_door
    first = front_door.plan(pets, seed=7)
    before = open(first.split_path).read()
    again = front_door.plan(pets, seed=1)  # the run's own split wins over a new seed
    assert open(again.split_path).read() == before
    assert any('the run\'s own' in n for n in again.notes)
    good_image_folder(pets, classes=('cat',), per_class=6, seed=5)  # adds good_5.jpg
    with pytest.raises(DataError, match=r'no longer matches DATA .*1 file\(s\) added \(e\.g\. '
                       r'cat/good_5\.jpg\).*new --model_dir, or remove'):
        front_door.plan(pets)
    with pytest.raises(DataError, match='no longer matches'):  # eval and resume read it
        image_list().check([split_file.ref(first.split_path, 'train')])
    from jacktf import cli
    with pytest.raises(SystemExit) as e:
        cli.main(['train', pets, '--model_dir', first.model_dir])
    assert e.value.code == 2 and 'no longer matches' in capsys.readouterr().err


def test_model_dir_is_numbered_for_other_data(pets, tmp_path):
    from jacktf.app import front_door
    assert front_door.plan(pets).model_dir == os.path.join('runs', 'pets')
    other = good_image_folder(str(tmp_path / 'elsewhere' / 'pets'), per_class=3)
    plan = front_door.plan(other)
    assert plan.model_dir == os.path.join('runs', 'pets-2')
    assert plan.notes[0] == (f'{os.path.join("runs", "pets")} holds a run of other data: '
                             f'this run goes to {os.path.join("runs", "pets-2")}')
    assert front_door.plan(pets).model_dir == os.path.join('runs', 'pets')


def test_num_classes_that_disagrees_is_exit_2(pets, capsys):
    from jacktf.app import front_door
    with pytest.raises(ConfigError, match=r"NUM_CLASSES = 5 in --gin_param 'NUM_CLASSES = "
                       r"5', but the data has 2 classes"):
        front_door.plan(pets, gin_params=['NUM_CLASSES = 5'])
    three = good_image_folder(os.path.join(os.path.dirname(pets), 'three'),
                              classes=('a', 'b', 'c'), per_class=2)
    from jacktf import cli
    with pytest.raises(SystemExit) as e:
        cli.main(['train', three, '--gin_file', 'gin/demo.gin'])
    assert e.value.code == 2
    assert 'NUM_CLASSES = 2 in gin/demo.gin, but the data has 3 classes' in \
        capsys.readouterr().err


def test_backbone_options_need_data(capsys):
    from jacktf import cli
    with pytest.raises(SystemExit) as e:
        cli.main(['train', '--gin_file', 'gin/demo.gin', '--epochs', '3'])
    assert e.value.code == 2
    assert '--epochs sets the front door' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(['train'])
    assert e.value.code == 2 and 'Give DATA' in capsys.readouterr().err


@pytest.mark.slow
def test_train_data_then_eval_and_predict_on_a_labelled_folder(pets, tmp_path, capsys):
    """`jacktf train DATA` end to end (tiny: 32 px, 2 steps), then `jacktf eval
    --model_dir M DATA` and `jacktf predict` on a labelled test folder."""
    from jacktf import cli
    assert cli.main(['train', pets, '--epochs', '1', '--batch_size', '4',
                     '--image_size', '32']) == 0
    out = capsys.readouterr().out
    assert 'validation accuracy' in out and 'on 2 images; lowest recall: ' in out
    assert f'predict: jacktf predict --model {os.path.join("runs", "pets")} IMAGE...' in out
    config = open(os.path.join('runs', 'pets', 'operative_config.gin')).read()
    assert "Experiment.decoder = 'image_list'" in config and 'split.json#train' in config
    test = good_image_folder(str(tmp_path / 'test_pets'), per_class=3, seed=9)
    with open(os.path.join(test, 'cat', '.DS_Store'), 'wb') as f:
        f.write(b'\0Bud1')
    assert cli.main(['eval', '--model_dir', os.path.join('runs', 'pets'), test]) == 0
    assert ' on 6 examples of ' in capsys.readouterr().out
    report = str(tmp_path / 'report')
    assert cli.main(['predict', '--model', os.path.join('runs', 'pets'), test,
                     '--report_dir', report]) == 0
    out = capsys.readouterr().out
    assert 'on 6 labelled images' in out and 'CLASS  RECALL  PRECISION  IMAGES' in out
    assert os.path.exists(os.path.join(report, 'confusion_matrix.png'))


def test_bad_options_and_unknown_backbones_are_named(pets):
    from jacktf.app import front_door
    from jacktf.core.errors import UnknownPluginError
    with pytest.raises(ConfigError, match=r'--epochs must be a number above 0, got 0'):
        front_door.plan(pets, epochs=0)
    with pytest.raises(UnknownPluginError, match='resnet_v1_5'):
        front_door.plan(pets, backbone='resnet_v1_5')
    plan = front_door.plan(pets, backbone='resnet_v1_50')
    assert "CHECKPOINT_PATH = 'slim://resnet_v1_50'" in plan.gin_params
    assert 'BACKBONE = @resnet_v1_50' in plan.gin_params


def test_an_official_checkpoint_that_cannot_be_fetched_names_the_shipped_weights():
    from jacktf.pretrained import fetch, zoo
    message = fetch.offline_message(zoo.get('resnet_v1_50'), 'https://x', 'DNS lookup failed')
    assert message.endswith(
        'To start now without a download, use the weights that ship with jacktf: `jacktf '
        "train DATA` (or --backbone mobilenet_v1_025), or in a recipe BACKBONE = "
        "@mobilenet_v1_025 and CHECKPOINT_PATH = 'builtin://mobilenet_v1_025'.")


def test_the_summary_reads_multi_label_reports():
    from jacktf.app import run_summary
    report = {'per_label': {'red': {'recall': 0.5, 'support': 4},
                            'blue': {'recall': 1.0, 'support': 2}}}
    assert run_summary.worst_classes(report) == [('red', 0.5, 4), ('blue', 1.0, 2)]
    text = run_summary.format_summary({
        'validation': {'accuracy': 0.75, 'mAP': 0.9, 'examples': 6, 'pictures': [],
                       'worst_classes': run_summary.worst_classes(report)},
        'predict_command': 'jacktf predict --model runs/x IMAGE...'})
    assert 'validation mAP 0.9000, exact match 0.7500 on 6 images' in text


def test_small_images_are_fed_at_their_size_not_upscaled(pets, tmp_path):
    """Images smaller than the card's 224 go in at their median shorter side (rounded up
    to 32, at least 128), said in the plan; --image_size and big images keep theirs."""
    from jacktf.app import front_door, input_size
    assert [input_size.data_input_size(side, 224) for side in (32, 150, 200, 224, 500, None)] \
        == [128, 160, None, None, None, None]
    plan = front_door.plan(pets)  # 40x48 JPEGs
    assert json.load(open(plan.split_path))['median_shorter_side'] == 40
    assert 'IMAGE_SIZE = 128' in plan.gin_params
    assert any('median shorter side is 40 px' in n for n in plan.notes)
    again = front_door.plan(pets)  # a resumed run decides the same from split.json
    assert 'IMAGE_SIZE = 128' in again.gin_params
    given = front_door.plan(pets, image_size=64, model_dir=str(tmp_path / 'given'))
    assert [p for p in given.gin_params if p.startswith('IMAGE_SIZE')] == ['IMAGE_SIZE = 64']
    big = good_image_folder(str(tmp_path / 'data' / 'big'), per_class=5, size=(300, 260))
    plan = front_door.plan(big)
    assert not [p for p in plan.gin_params if p.startswith('IMAGE_SIZE')]
