"""A checkpoint that does not belong to the net is an error that says which net it is.

Covers: the real MobileNet v1 0.25 checkpoint with MobileNet v1 1.0 and v2 models, an
official-format resnet_v2_50 checkpoint with a resnet_v1_50 model, wrapped and bare
names (the printed scope_map is applied and restores every value), a fully excluded
backbone, exclusion advice that never names the backbone root, and long lists grouped.
"""

import ast
import os
import re

import numpy as np
import pytest
from tf_slim.nets import resnet_v1, resnet_v2

import jacktf
from jacktf.backbones import resnet
from jacktf.core.restore import plan_restore
from jacktf.core.restore_report import _suggest
from jacktf.core.scope_groups import group_by_scope
from conftest import ROOT, run_cli
from slim_ckpt import write_checkpoint, write_net_checkpoint

REAL = os.environ.get('JACKTF_REAL_FIXTURES') or os.path.join(
    os.path.dirname(ROOT), 'shared', 'fixtures', 'real')
REAL_CKPT = os.path.join(REAL, 'mobilenet_v1_0.25_224.ckpt')
needs_real = pytest.mark.skipif(not os.path.exists(REAL_CKPT + '.index'),
                                reason='no ../shared/fixtures/real here')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp('ckpts')
    values = write_net_checkpoint(str(folder / 'tiny.ckpt'), resnet.resnet_v1_tiny,
                                  resnet_v1.resnet_arg_scope, num_classes=1000)
    return folder, values


def _model(registry, backbone='resnet_v1_tiny', size=32):
    return jacktf.build_model(backbone, num_classes=2, registry=registry, image_size=size)


def _error(model, path, **kwargs):
    with pytest.raises(jacktf.RestoreError) as e:
        jacktf.restore_from_checkpoint(model, path, **kwargs)
    return str(e.value)


@needs_real
@pytest.mark.parametrize('backbone,scope,count', [('mobilenet_v1', 'MobilenetV1', 135),
                                                  ('mobilenet_v2', 'MobilenetV2', 260)])
def test_real_mobilenet_v1_025_names_its_backbone(default_registry, backbone, scope, count):
    model = _model(default_registry, backbone, size=64)
    msg = _error(model, REAL_CKPT)
    assert f'Not one of the {count} variables of the backbone {scope}/ would be ' \
           'restored' in msg
    assert 'This checkpoint holds MobilenetV1/ with depth multiplier 0.25 and 1001 ' \
           'classes: BACKBONE = @mobilenet_v1_025.' in msg
    assert f'The recipe builds @{backbone} ({scope}/, depth multiplier 1)' in msg
    assert 'CHECKPOINT_EXCLUDE_SCOPES' not in msg  # never "exclude the backbone"
    report = jacktf.restore_from_checkpoint(model, REAL_CKPT, strict=False, dry_run=True)
    assert not report.ok and report.backbone_restored == 0
    assert report.backbone_total == count and 'mobilenet_v1_025' in report.diagnosis
    # The named backbone restores every variable.
    fixed = jacktf.build_model('mobilenet_v1_025', num_classes=2, registry=default_registry,
                               image_size=64)
    report = jacktf.restore_from_checkpoint(fixed, REAL_CKPT)
    assert report.ok and report.backbone_restored == report.backbone_total == 135


@pytest.mark.slow
def test_resnet_v2_50_checkpoint_with_the_resnet_v1_50_recipe(tmp_path):
    path = str(tmp_path / 'resnet_v2_50.ckpt')  # official names and shapes, ~100 MB
    write_net_checkpoint(path, resnet_v2.resnet_v2_50, resnet_v2.resnet_arg_scope,
                         num_classes=1001, size=64)
    r = run_cli(['jacktf.cli', 'inspect-checkpoint', '--checkpoint', path, '--gin_file',
                 'gin/resnet50_2cls.gin', '--gin_param=IMAGE_SIZE = 64'], timeout=600)
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'Not one of the 265 variables of the backbone resnet_v1_50/' in r.stderr
    assert 'root scopes: resnet_v2_50/ (272 variables)' in r.stderr
    assert 'This checkpoint holds resnet_v2_50/ with 1001 classes: BACKBONE = ' \
           '@resnet_v2_50.' in r.stderr
    assert 'CHECKPOINT_EXCLUDE_SCOPES' not in r.stderr
    assert len(r.stdout.splitlines()) < 45  # 265 missing names grouped


def _scope_map_in(msg):
    match = re.search(r'`Experiment\.scope_map = (\{.*?\})`', msg)
    assert match, msg
    return ast.literal_eval(match.group(1))


@pytest.mark.parametrize('rename,expect', [
    (lambda n: 'tower_0/' + n, {'resnet_v1_tiny': 'tower_0/resnet_v1_tiny'}),
    (lambda n: 'model/replica/' + n, {'resnet_v1_tiny': 'model/replica/resnet_v1_tiny'}),
    (lambda n: n.split('/', 1)[1], {'resnet_v1_tiny': ''}),  # the model's root is missing
    (lambda n: n.replace('resnet_v1_tiny/', 'old_root/'), {'resnet_v1_tiny': 'old_root'}),
])
def test_other_outer_scopes_print_the_scope_map_that_fixes_them(default_registry, tiny,
                                                                tmp_path, rename, expect):
    _, values = tiny
    path = str(tmp_path / 'renamed.ckpt')
    write_checkpoint(path, {rename(n): v for n, v in values.items()})
    model = _model(default_registry)
    msg = _error(model, path)
    assert 'Not one of the 80 variables of the backbone resnet_v1_tiny/' in msg
    assert _scope_map_in(msg) == expect
    assert '80 backbone variables fit' in msg
    report = jacktf.restore_from_checkpoint(model, path, scope_map=_scope_map_in(msg))
    assert report.ok and len(report.restored) == 80
    got = dict(zip(model.variable_names(), model.variables))
    for name in ('resnet_v1_tiny/conv1/weights',
                 'resnet_v1_tiny/block4/unit_1/bottleneck_v1/conv3/BatchNorm/moving_mean'):
        np.testing.assert_array_equal(got[name].numpy(), values[name])


def test_a_wrapped_checkpoint_of_another_net_names_backbone_and_scope_map(
        default_registry, tiny, tmp_path):
    _, values = tiny
    path = str(tmp_path / 'wrapped.ckpt')
    write_checkpoint(path, {'tower_0/' + n: v for n, v in values.items()})
    msg = _error(_model(default_registry, 'resnet_v1_50'), path)
    assert "BACKBONE = @resnet_v1_tiny and Experiment.scope_map = {'resnet_v1_tiny': " \
           "'tower_0/resnet_v1_tiny'}" in msg


def test_excluding_the_whole_backbone_is_training_from_scratch(default_registry, tiny):
    folder, _ = tiny
    msg = _error(_model(default_registry), str(folder / 'tiny.ckpt'),
                 exclude_scopes=['resnet_v1_tiny'])
    assert "CHECKPOINT_EXCLUDE_SCOPES ['resnet_v1_tiny'] exclude all 80 variables of the " \
           'backbone resnet_v1_tiny/' in msg
    assert 'that is training from scratch' in msg and 'CHECKPOINT_PATH = None' in msg
    report = plan_restore({'net/a': [1], 'net/logits/w': [2], 'Predict/w': [2]},
                          {'net/a': [1], 'net/logits/w': [2]}, exclude_scopes='net',
                          classifier_scopes=['net/logits'], backbone_scope='net')
    assert not report.ok and report.backbone_all_excluded
    assert report.to_dict()['backbone_restored'] == 0


def test_a_checkpoint_with_no_variables_is_never_ok(default_registry, tmp_path):
    path = str(tmp_path / 'other.ckpt')
    write_checkpoint(path, {'global_step': np.zeros([], np.int64),
                            'my_net/conv/weights': np.zeros([3, 3, 3, 8], np.float32)})
    msg = _error(_model(default_registry), path)
    assert "root scopes: my_net/ (1 variable). No registered backbone matches them" in msg
    assert 'jacktf plugins --kind backbone' in msg


def test_exclusion_advice_never_names_the_backbone_root(default_registry, tiny, tmp_path):
    _, values = tiny
    assert _suggest(['net/a/w', 'net/b/w', 'net/c/w', 'net/d/w', 'net/e/w', 'net/f/w'],
                    'net') is None
    assert _suggest(['net/w'], 'net') is None
    assert _suggest(['net/block3/u1/w', 'net/block3/u2/w'], 'net') == \
        "['net/block3/u1', 'net/block3/u2']"
    path = str(tmp_path / 'partial.ckpt')  # conv1 and block1 only: most of the net missing
    write_checkpoint(path, {n: v for n, v in values.items()
                            if n.startswith(('resnet_v1_tiny/conv1/',
                                             'resnet_v1_tiny/block1/'))})
    msg = _error(_model(default_registry), path)
    assert "['resnet_v1_tiny']" not in msg
    assert 'It holds 20 of the 80 variables of @resnet_v1_tiny with their shapes' in msg
    path = str(tmp_path / 'spread.ckpt')  # every scope lacks its moving averages
    write_checkpoint(path, {n: v for n, v in values.items() if 'moving_' not in n})
    msg = _error(_model(default_registry), path)
    assert "['resnet_v1_tiny']" not in msg and 'CHECKPOINT_EXCLUDE_SCOPES' not in msg
    assert 'They spread over the backbone, so they are not new layers' in msg


def test_long_lists_are_grouped_by_scope():
    names = [f'MobilenetV1/Conv2d_{i}_{kind}/{v}' for i in range(1, 14)
             for kind in ('depthwise', 'pointwise') for v in ('weights', 'BatchNorm/beta')]
    names += ['MobilenetV1/Conv2d_0/weights', 'MobilenetV1/Conv2d_0/BatchNorm/beta']
    groups = group_by_scope(names, max_groups=30)
    assert [g for g, _ in groups][:3] == ['MobilenetV1/Conv2d_0',
                                          'MobilenetV1/Conv2d_1_depthwise',
                                          'MobilenetV1/Conv2d_1_pointwise']
    assert len(groups) == 27 and all(len(m) == 2 for _, m in groups)
    assert [g for g, _ in group_by_scope(names, max_groups=5)] == ['MobilenetV1']
    many = group_by_scope([f'root_{i}/w' for i in range(50)], max_groups=10)
    assert len(many) == 10 and many[-1][0] == '... 41 more scopes'
    assert sum(len(m) for _, m in many) == 50


def test_report_lines_group_long_sections_and_verbose_lists_all():
    from jacktf.core.restore import RestoreReport
    missing = [f'MobilenetV1/Conv2d_{i}/{v}' for i in range(14) for v in
               ('weights', 'BatchNorm/beta', 'BatchNorm/gamma', 'BatchNorm/moving_mean')]
    report = RestoreReport(checkpoint='x.ckpt', missing=missing,
                           shape_mismatched=[(f'net_{i}/w', [3], [4]) for i in range(40)])
    lines = report.lines()
    assert 'missing (56):' in lines and '  MobilenetV1/Conv2d_2/ (4)' in lines
    assert lines.index('  MobilenetV1/Conv2d_2/ (4)') < \
        lines.index('  MobilenetV1/Conv2d_10/ (4)')  # natural order
    assert '  ... 11 more scopes (11 variables)' in lines  # 40 roots in 30 lines
    assert '  net_0/ (1), e.g. w model [3] checkpoint [4]' in lines
    assert len(lines) == 1 + 1 + 14 + 1 + 30 + 1
    verbose = report.lines(verbose=True)
    assert '  MobilenetV1/Conv2d_13/BatchNorm/moving_mean' in verbose
    assert '  net_39/w model [3] checkpoint [4]' in verbose and len(verbose) == 1 + 2 + 96
