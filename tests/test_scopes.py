from jacktf.core import scopes


def test_prefix_matches_at_slash_boundaries_only():
    assert scopes.rule_matches('resnet_v1_50/block1', 'resnet_v1_50/block1/unit_1/w:0')
    assert scopes.rule_matches('resnet_v1_50/block1', 'resnet_v1_50/block1')
    assert not scopes.rule_matches('resnet_v1_50/block1', 'resnet_v1_50/block10/unit_1/w')
    assert scopes.rule_matches('re:.*BatchNorm', 'a/b/BatchNorm/gamma')
    assert not scopes.rule_matches('re:BatchNorm', 'a/b/BatchNorm/gamma')


def test_parse_scopes_accepts_comma_strings_lists_and_none():
    assert scopes.parse_scopes(None) == ()
    assert scopes.parse_scopes('a/b, c/ ,') == ('a/b', 'c')
    assert scopes.parse_scopes(['a', 'b,c', 're:x,y']) == ('a', 'b', 'c', 're:x,y')


def test_trainable_applies_whitelist_then_freeze():
    names = ['net/block1/w', 'net/block2/w', 'net/block10/w', 'Predict/logits/w']
    assert scopes.trainable(names, freeze_scopes='net/block1') == names[1:]
    assert scopes.trainable(names, trainable_scopes=['net/block2', 'Predict']) == \
        ['net/block2/w', 'Predict/logits/w']
    assert scopes.trainable(names, freeze_scopes=['net'], trainable_scopes=['net']) == []


def test_unmatched_rules_report_typos():
    names = ['net/block1/w']
    assert scopes.unmatched_rules(names, ['net/block1', 'net/blok2']) == ['net/blok2']
