"""NASNet-A and PNASNet-5: checkpoint-exact drop-ins, the aux head's restore rule, and
fine-tuning from an official-format checkpoint."""

import gc
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

import jacktf
from jacktf.backbones.nasnet import family, nasnet, nasnet_utils, pnasnet
from jacktf.core import scopes
from jacktf.core.restore import plan_restore
from conftest import FIXTURES, read_endpoints, read_manifest, run_cli
from nasnet_values import deterministic_values, sample_image
from slim_ckpt import write_net_checkpoint

v1 = tf.compat.v1
NETS = {  # name: (module, input size, aux head scope)
    'nasnet_mobile': (nasnet, 224, 'aux_7'), 'nasnet_large': (nasnet, 331, 'aux_11'),
    'pnasnet_mobile': (pnasnet, 224, 'aux_5'), 'pnasnet_large': (pnasnet, 331, 'aux_7')}
# The large nets take minutes to build in a graph: their checks are 'heavy' (not in CI).
NET_PARAMS = [pytest.param(n, marks=pytest.mark.heavy if n.endswith('large') else
                           pytest.mark.slow) for n in sorted(NETS)]
# Logits of the official research/slim code (nasnet_values.py's variables and image).
OFFICIAL_LOGITS = os.path.join(FIXTURES, 'nasnet_official_logits.npz')


def _official_build(name, size, **kwargs):
    """Builds ``build_<name>`` in a TF1 graph: ({variable: shape}, end_points)."""
    module = NETS[name][0]
    # As the official training does before it builds the net (drop path reads it).
    step = v1.train.get_or_create_global_step()
    images = v1.placeholder(tf.float32, [1, size, size, 3])
    with slim.arg_scope(getattr(module, f'{name}_arg_scope')()):
        out, end_points = getattr(module, f'build_{name}')(images, **kwargs)
    return {v.op.name: v.shape.as_list() for v in v1.global_variables()
            if v is not step}, out, end_points


def test_reduction_layers_and_hparams():
    assert nasnet_utils.calc_reduction_layers(18, 2) == [6, 12]
    assert nasnet_utils.calc_reduction_layers(12, 2) == [4, 8]
    assert nasnet_utils.calc_reduction_layers(9, 2) == [3, 6]
    config = pnasnet.large_imagenet_config()
    config.set_hparam('data_format', 'NCHW')
    assert (config.num_cells, config.num_conv_filters, config.data_format) == \
        (12, 216, 'NCHW')
    assert pnasnet.large_imagenet_config().data_format == 'NHWC'
    with pytest.raises(ValueError, match="Unknown hyperparameter 'num_cell'"):
        config.set_hparam('num_cell', 3)
    assert nasnet.mobile_imagenet_config().values()['num_conv_filters'] == 44


@pytest.mark.parametrize('operation,message', [
    ('min_pool_3x3', "Unknown pooling type 'min' in operation 'min_pool_3x3'; the pooling "
                     "types are 'avg', 'max'"),
    ('max_pool_3x5', "Operation 'max_pool_3x5': the kernel '3x5' is not a square size"),
    ('separable_5x3_2', "Operation 'separable_5x3_2': the kernel '5x3' is not a square"),
    ('separable_5x5_two', "Unknown operation 'separable_5x5_two'; operations are "
                          "'separable_<k>x<k>_<layers>'"),
    ('conv_3x3', "Unknown operation 'conv_3x3'; operations are 'separable_<k>x<k>"),
], ids=lambda value: value if '_' in value and ' ' not in value else '')
def test_an_unknown_cell_operation_is_a_value_error_naming_it(operation, message):
    cell = nasnet_utils.NasNetABaseCell(8, [operation] * 10, [1, 0, 0, 0, 0, 0, 0],
                                        [0] * 10, 1.0, 10, 100)
    cell._filter_size = 8
    with slim.arg_scope([nasnet_utils.get_channel_dim], data_format='NHWC'), \
            pytest.raises(ValueError, match=re.escape(message)):
        cell._apply_conv_operation(tf.zeros([1, 4, 4, 8]), operation, 1, True, None)


def test_an_unknown_data_format_is_a_value_error_naming_it():
    config = nasnet.cifar_config()
    config.set_hparam('data_format', 'nchw')
    with pytest.raises(ValueError, match="Unknown data_format 'nchw' in the configuration"):
        nasnet.build_nasnet_cifar(tf.zeros([1, 32, 32, 3]), 10, config=config)
    with pytest.raises(ValueError, match="Unknown data_format 'NWHC'; use 'NHWC' or 'NCHW'"):
        nasnet_utils.get_channel_dim([1, 2, 3, 4], data_format='NWHC')


def test_a_dict_config_changes_the_default_one():
    """As gin writes it: ``nasnet_large.config = {'num_cells': 3}``."""
    hparams = family._hparams({'num_cells': 3, 'num_conv_filters': 16},
                              nasnet.large_imagenet_config, use_aux_head=True)
    assert (hparams.num_cells, hparams.num_conv_filters, hparams.drop_path_keep_prob) == \
        (3, 16, 0.7)
    with pytest.raises(ValueError, match="Unknown hyperparameter 'num_cell'"):
        family._hparams({'num_cell': 3}, nasnet.large_imagenet_config, use_aux_head=True)


def test_the_cards(default_registry):
    reg = default_registry
    for name, (_, size, aux) in NETS.items():
        card = reg.get('backbone', name).card
        assert (card.default_image_size, card.preprocessing, card.num_classes_official) == \
            (size, 'inception', 1001)
        assert card.classifier_scopes == ('final_layer/FC', aux)
        assert card.restore_together == (aux,)
        assert (card.features_endpoint, card.cam_endpoint) == ('global_pool',
                                                               'final_activation')
        names = read_manifest(f'{name}.vars.tsv')
        assert all(scopes.rule_matches(card.scope, n) for n in names)
        assert not scopes.rule_matches(card.scope, 'Predict/logits/weights')


def _aux_shapes(aux, classes):
    return {f'{aux}/aux_logits/proj/weights': [1, 1, 1056, 128],
            f'{aux}/aux_logits/aux_bn0/beta': [128],
            f'{aux}/aux_logits/Conv/weights': [4, 4, 128, 768],
            f'{aux}/aux_logits/FC/weights': [768, classes],
            f'{aux}/aux_logits/FC/biases': [classes]}


def _plan(model, ckpt, **kwargs):
    return plan_restore(model, ckpt, classifier_scopes=('final_layer/FC', 'aux_7'),
                        backbone_scope=family.SCOPE, restore_together=('aux_7',), **kwargs)


BODY = {'cell_0/1x1/weights': [1, 1, 88, 44], 'final_layer/FC/weights': [1056, 1001],
        'final_layer/FC/biases': [1001]}


def test_an_aux_head_the_checkpoint_lacks_starts_fresh_and_says_so():
    model = dict(BODY, **_aux_shapes('aux_7', 1001))
    report = _plan(model, dict(BODY))
    assert report.ok and report.restored == list(BODY)
    assert sorted(report.auto_excluded) == sorted(_aux_shapes('aux_7', 1001))
    assert report.notes == ['aux_7/ (5 variables) starts from fresh initial values: the '
                            'checkpoint does not hold it; it is restored whole or not at '
                            'all.']
    assert report.lines()[-1].startswith('note: aux_7/ (5 variables) starts from fresh')


def test_an_aux_head_the_checkpoint_holds_restores_whole():
    full = dict(BODY, **_aux_shapes('aux_7', 1001))
    report = _plan(full, full)
    assert report.ok and sorted(report.restored) == sorted(full) and not report.notes


@pytest.mark.parametrize('exclude,why', [
    ([], 'the checkpoint holds other shapes for part of it (another class count)'),
    (['final_layer/FC', 'aux_7/aux_logits/FC'], 'CHECKPOINT_EXCLUDE_SCOPES exclude part '
     'of it'),
])
def test_excluding_the_logits_never_leaves_the_aux_head_half_restored(exclude, why):
    """tensorflow/models#8643: excluding only the two FC layers restored the rest."""
    body = dict(BODY, **{'final_layer/FC/weights': [1056, 5], 'final_layer/FC/biases': [5]})
    model = dict(body, **_aux_shapes('aux_7', 5))
    ckpt = dict(BODY, **_aux_shapes('aux_7', 1001))
    report = _plan(model, ckpt, exclude_scopes=exclude)
    assert report.ok and report.restored == ['cell_0/1x1/weights']
    assert not [n for n in report.restored if n.startswith('aux_7/')]
    assert report.notes == [f'aux_7/ (5 variables) starts from fresh initial values: '
                            f'{why}; it is restored whole or not at all.']
    assert report.unused_in_checkpoint == 7


@pytest.mark.parametrize('name', NET_PARAMS)
def test_official_builders_equal_the_manifests_and_the_official_logits(name):
    """The inference graph of ``build_<name>``: variables and end_points, in order, and
    the logits the official research/slim code computes with the same variables (the
    name-seeded values of nasnet_values.py) for the nets the fixture holds; see
    docs/guides/nasnet.md for every net and end_point compared)."""
    size = NETS[name][1]
    with tf.Graph().as_default():
        shapes, logits, end_points = _official_build(name, size, num_classes=1001,
                                                     is_training=False)
        assert shapes == read_manifest(f'{name}.vars.tsv')
        assert [(k, v.shape.as_list()) for k, v in end_points.items()] == \
            read_endpoints(f'{name}.endpoints.tsv')
        assert logits.op.name == 'final_layer/FC/BiasAdd'
        official = np.load(OFFICIAL_LOGITS)
        if name in official:
            values = deterministic_values(shapes)
            variables = [v for v in v1.global_variables() if v.op.name in values]
            with v1.Session() as sess:  # one run assigns them all
                sess.run([v.initializer for v in variables],
                         {v.initializer.inputs[1]: values[v.op.name] for v in variables})
                got = sess.run(logits, {'Placeholder:0': sample_image(size)})
            np.testing.assert_allclose(got, official[name], rtol=0, atol=1e-5)
    with tf.Graph().as_default():  # training: the aux head, as officially
        shapes, _, end_points = _official_build(name, size, num_classes=1001)
        aux = NETS[name][2]
        assert end_points['AuxLogits'].shape.as_list() == [1, 1001]
        assert sorted(set(shapes) - set(read_manifest(f'{name}.vars.tsv'))) == sorted(
            n for n in shapes if n.startswith(aux + '/'))


def _small(config, **changes):
    """``config`` with three cells (the options below do not depend on the depth)."""
    config.set_hparam('num_cells', 3)
    for name, value in changes.items():
        config.set_hparam(name, value)
    return config


@pytest.mark.slow
def test_official_options_nchw_bounded_final_endpoint_no_aux():
    with tf.Graph().as_default():
        config = _small(nasnet.mobile_imagenet_config(), data_format='NCHW')
        _, _, end_points = _official_build('nasnet_mobile', 224, num_classes=10,
                                           config=config)
        assert end_points['Stem'].shape.as_list() == [1, 88, 28, 28]
    with tf.Graph().as_default() as graph:
        config = _small(pnasnet.mobile_imagenet_config(), use_bounded_activation=True,
                        use_aux_head=0)
        _, _, end_points = _official_build('pnasnet_mobile', 224, num_classes=10,
                                           config=config)
        assert 'AuxLogits' not in end_points and 'Cell_2' in end_points
        relus = {n.op for n in graph.as_graph_def().node if n.op.startswith('Relu')}
        assert relus == {'Relu6'}
    with tf.Graph().as_default():  # stops at Cell_3 of the full net: cheap
        shapes, net, end_points = _official_build('nasnet_mobile', 224, num_classes=10,
                                                  final_endpoint='Cell_3')
        assert list(end_points)[-1] == 'Cell_3' and net.shape.as_list() == [1, 28, 28, 264]
        assert not [n for n in shapes if n.startswith(('cell_4/', 'final_layer'))]
    with tf.Graph().as_default():
        _, net, end_points = _official_build('pnasnet_mobile', 224, num_classes=None,
                                             config=_small(pnasnet.mobile_imagenet_config()))
        assert net.op.name.startswith('final_layer/Mean') and 'AuxLogits' not in end_points


@pytest.mark.slow
def test_drop_path_follows_the_official_schedule():
    """Keep probability 1 - layer * step * (1 - keep): halfway through training, the
    last of 14 cells of a net with keep 0.6 keeps 1 - 0.5 * 0.4 = 0.8 of examples."""
    cell = nasnet_utils.NasNetANormalCell(8, 0.6, 14, 1000)
    cell._cell_num = 13
    net = tf.ones([4000, 1, 1, 1])
    with slim.arg_scope([nasnet_utils.drop_path], is_training=True):
        out = cell._apply_drop_path(net, current_step=tf.constant(500))
        kept = float(tf.reduce_mean(tf.cast(out > 0, tf.float32)))
        assert abs(kept - 0.8) < 0.03
        assert np.allclose(out.numpy()[out.numpy() > 0], 1 / 0.8)
        assert float(tf.reduce_min(cell._apply_drop_path(net, current_step=0))) == 1.0
    with slim.arg_scope([nasnet_utils.drop_path], is_training=False):
        assert float(tf.reduce_min(cell._apply_drop_path(net, current_step=900))) == 1.0


@pytest.mark.slow
def test_registered_backbone_builds_the_aux_head_with_its_own_classifier(default_registry):
    model = jacktf.build_model('nasnet_mobile', head='native', registry=default_registry)
    shapes = {n: v.shape.as_list() for n, v in zip(model.variable_names(), model.variables)}
    manifest = read_manifest('nasnet_mobile.vars.tsv')
    aux = {n: s for n, s in shapes.items() if n.startswith('aux_7/')}
    assert {n: s for n, s in shapes.items() if n not in aux} == manifest
    assert len(aux) == 12 and aux['aux_7/aux_logits/Conv/weights'] == [4, 4, 128, 768]
    out = model.predict(tf.zeros([1, 224, 224, 3]))
    expected = read_endpoints('nasnet_mobile.endpoints.tsv')
    got = [(k, v.shape.as_list()) for k, v in out['end_points'].items()]
    assert got == expected[:10] + [('AuxLogits', [1, 1001])] + expected[10:15] + \
        [('final_activation', [1, 7, 7, 1056])] + expected[15:]
    cam = out['end_points']['final_activation']
    assert np.allclose(tf.reduce_mean(cam, [1, 2]), out['end_points']['global_pool'],
                       atol=1e-5)
    del model, out
    gc.collect()


@pytest.mark.heavy  # 3 minutes on two cores; the builders' logits are checked in the slow set
def test_nasnet_mobile_recipe_finetunes_from_an_official_checkpoint(tmp_path):
    """The recipe with the native head (aux_7 too) from an official-format checkpoint
    of the inference graph (no aux head): aux_7 starts fresh, the rest restores; the
    export at the end passes its parity check, and its CAM reads 'final_activation'."""
    ckpt = str(tmp_path / 'nasnet' / 'model.ckpt')
    write_net_checkpoint(ckpt, nasnet.build_nasnet_mobile, nasnet.nasnet_mobile_arg_scope,
                         num_classes=1001, size=96)
    recipe = tmp_path / 'recipe.gin'
    recipe.write_text(
        "include 'gin/nasnet_mobile_finetune.gin'\n"
        f"CHECKPOINT_PATH = '{ckpt}'\nMODEL_DIR = '{tmp_path / 'model'}'\n"
        "TRAIN_STEPS = 3\nBATCH_SIZE = 4\nIMAGE_SIZE = 96\nNUM_CLASSES = 2\n"
        "Model.head = 'native'\nTrainer.eval_every_steps = None\n"
        "cosine.warmup_steps = 1\n")
    r = run_cli(['jacktf.run', f'--gin_file={recipe}', '--mode=train'], timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    assert '1124 restored, 0 excluded, 14 auto-excluded, 0 missing' in r.stdout
    assert 'aux_7/ (12 variables) starts from fresh initial values: the checkpoint ' \
           'does not hold it' in r.stdout + r.stderr
    report = json.loads((tmp_path / 'model' / 'restore_report.json').read_text())
    assert report['ok'] and not [n for n in report['restored'] if n.startswith('aux_7/')]
    assert 'Exported SavedModel to' in r.stdout + r.stderr
    assert 'parity max |diff| not checked' not in r.stdout + r.stderr
    export = tf.saved_model.load(str(tmp_path / 'model' / 'export' / '3'))
    images = tf.constant(np.random.default_rng(0).integers(0, 255, [2, 120, 100, 3]),
                         tf.uint8)
    explained = export.signatures['explain_images'](images=images)
    served = export.signatures['predict_images'](images=images)
    assert explained['cam'].shape.as_list() == [2, 3, 3]  # 96 -> 47 -> 24 -> 12 -> 6 -> 3
    np.testing.assert_allclose(explained['probabilities'], served['probabilities'],
                               atol=1e-6)
