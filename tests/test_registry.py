import os
import sys
import textwrap

import pytest

import jacktf
from jacktf.core import plugins
from jacktf.core.registry import Registry


def _net(images, num_classes=None, is_training=True):
    """A fake net."""
    return images, {}


def test_builtins_are_registered_with_provider_builtin(registry):
    assert set(registry.names('backbone')) == {
        'resnet_v1_50', 'resnet_v1_101', 'resnet_v1_152', 'resnet_v1_tiny', 'resnet_v2_50',
        'resnet_v2_101', 'resnet_v2_152', 'inception_v1', 'inception_v2', 'inception_v3',
        'inception_v4', 'inception_resnet_v2', 'vgg_a', 'vgg_16', 'vgg_19', 'mobilenet_v1',
        'mobilenet_v1_075', 'mobilenet_v1_050', 'mobilenet_v1_025', 'mobilenet_v2',
        'mobilenet_v2_140', 'mobilenet_v2_050', 'mobilenet_v2_035', 'mobilenet_v3_large',
        'mobilenet_v3_small', 'nasnet_mobile', 'nasnet_large', 'pnasnet_mobile',
        'pnasnet_large'}
    assert registry.names('head') == ['dropout_logits', 'logits', 'multilabel_logits',
                                      'native']
    assert registry.names('optimizer') == ['adagrad', 'adam', 'adamw', 'momentum',
                                           'rmsprop', 'sgd']
    assert 'exponential_decay' in registry.names('lr_schedule')
    assert registry.names('decoder') == ['image_folder', 'image_list',
                                         'tfexample_classification',
                                         'tfexample_multilabel']
    assert registry.names('preprocessor') == ['inception', 'inception_finetune', 'simple',
                                             'simple_finetune', 'vgg', 'vgg_finetune']
    entry = registry.get('backbone', 'resnet_v1_50')
    assert entry.provider == 'builtin'
    assert entry.card.scope == 'resnet_v1_50'
    assert entry.card.num_classes_official == 1000
    assert registry.get('backbone', 'resnet_v2_50').card.label_offset == 1


def test_registries_are_independent_instances():
    a, b = Registry(), Registry()
    with a.providing('pkg-a==1'):
        a.head('h', _net)
    assert ('head', 'h') in a and ('head', 'h') not in b


def test_duplicate_name_names_both_providers():
    reg = Registry()
    with reg.providing('builtin'):
        reg.head('mine', _net)
    with reg.providing('other-dist==2.0'):
        with pytest.raises(jacktf.DuplicatePluginError) as e:
            reg.head('mine', _net)
    assert 'builtin' in str(e.value) and 'other-dist==2.0' in str(e.value)


def test_unknown_name_says_kind_closest_and_hint(registry):
    with pytest.raises(jacktf.UnknownPluginError) as e:
        registry.get('backbone', 'resnet_v1_5')
    msg = str(e.value)
    assert "Unknown backbone 'resnet_v1_5'" in msg
    assert "'resnet_v1_50'" in msg and 'jacktf plugins --kind backbone' in msg


def test_backbone_card_scope_defaults_from_classifier_scopes():
    reg = Registry()
    entry = reg.backbone('tiny', _net, default_image_size=32, preprocessing='inception',
                         classifier_scopes=['TinyNet/Logits'])
    assert entry.card.scope == 'TinyNet'
    assert entry.summary == 'A fake net.'


def test_bad_registrations_are_rejected():
    reg = Registry()
    with pytest.raises(ValueError, match='identifier'):
        reg.head('bad-name', _net)
    with pytest.raises(ValueError, match='callable'):
        reg.head('h', 3)


class _Third:
    """A third-party plugin object that registers a head under a built-in name."""

    @jacktf.hookimpl
    def jacktf_register_heads(self, registry):
        registry.head('logits', _net)


def test_third_party_cannot_shadow_a_builtin():
    with pytest.raises(jacktf.DuplicatePluginError, match='builtin'):
        plugins.load_registry(autoload=False, extra=[_Third()])


def _fake_dist(root, name, target):
    info = os.path.join(root, f'{name}-1.0.dist-info')
    os.makedirs(info)
    with open(os.path.join(info, 'METADATA'), 'w') as f:
        f.write(f'Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n')
    with open(os.path.join(info, 'entry_points.txt'), 'w') as f:
        f.write(f'[jacktf]\n{name.replace("-", "_")} = {target}\n')


def test_plugin_that_fails_to_import_is_reported_and_others_load(tmp_path, monkeypatch):
    _fake_dist(str(tmp_path), 'broken-plugin', 'no_such_module_xyz.plugin')
    pkg = tmp_path / 'good_plugin_mod.py'
    pkg.write_text(textwrap.dedent('''
        import jacktf
        def extra_head(features, *, num_classes, is_training):
            """A head from an entry point."""
        @jacktf.hookimpl
        def jacktf_register_heads(registry):
            registry.head('extra_head', extra_head)
    '''))
    _fake_dist(str(tmp_path), 'good-plugin', 'good_plugin_mod')
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = plugins.load_registry(autoload=True, disabled=[])
    assert reg.get('head', 'extra_head').provider == 'good-plugin==1.0'
    assert [p for p, _ in reg.failures] == ['broken-plugin==1.0']
    assert 'no_such_module_xyz' in reg.failures[0][1]
    # Blocked by name, and autoload off: neither is loaded.
    assert ('head', 'extra_head') not in plugins.load_registry(disabled=['good_plugin'])
    monkeypatch.setenv('JACKTF_DISABLE_PLUGIN_AUTOLOAD', '1')
    assert ('head', 'extra_head') not in plugins.load_registry()
    sys.modules.pop('good_plugin_mod', None)
