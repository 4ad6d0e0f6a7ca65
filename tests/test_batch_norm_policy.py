"""Which batch norms train: the warm-start default, the explicit policies, the hint
when eval accuracy trails train accuracy while batch norm trains."""

import logging

import pytest

from jacktf.core.model import Model

MEAN = 'resnet_v1_tiny/block1/unit_1/bottleneck_v1/conv1/BatchNorm/moving_mean'
TOP = 'resnet_v1_tiny/block4/unit_1/bottleneck_v1/conv1/BatchNorm/moving_mean'


def _frozen(default_registry, policy, warm_started, frozen_variable=None):
    model = Model(backbone='resnet_v1_tiny', num_classes=2, registry=default_registry,
                  train_batch_norm=policy)
    model.set_frozen_batch_norm(frozen_variable, warm_started=warm_started)
    predicate = model.network.bn_frozen or (lambda name: False)
    return predicate(MEAN), predicate(TOP), model.batch_norm_trains


def test_warm_started_runs_keep_the_checkpoint_statistics_by_default(default_registry):
    assert _frozen(default_registry, None, warm_started=True) == (True, True, False)
    assert _frozen(default_registry, None, warm_started=False) == (False, False, True)


def test_explicit_policies(default_registry):
    assert _frozen(default_registry, True, warm_started=True) == (False, False, True)
    assert _frozen(default_registry, False, warm_started=False) == (True, True, False)
    only_top = ['resnet_v1_tiny/block4']
    assert _frozen(default_registry, only_top, warm_started=True) == (True, False, True)
    # a frozen scope's batch norm never trains, whatever the policy
    frozen_top = lambda name: name.startswith('resnet_v1_tiny/block4')  # noqa: E731
    assert _frozen(default_registry, True, True, frozen_top) == (False, True, True)


@pytest.mark.parametrize('bn_trains,eval_accuracy,warned', [
    (True, 0.32, True), (True, 0.85, False), (False, 0.32, False)])
def test_eval_gap_hint_names_the_binding(caplog, bn_trains, eval_accuracy, warned):
    from jacktf.train.callbacks.evaluation import BatchNormGapHint
    hint = BatchNormGapHint()
    controller = type('Ctl', (), {'model': type('M', (), {'batch_norm_trains': bn_trains})()})
    hint.on_step_end(controller, 100, {'train': {'accuracy': 0.905}})
    with caplog.at_level(logging.WARNING, logger='jacktf'):
        hint.on_eval_end(controller, 100, {'accuracy': eval_accuracy, 'loss': 3.0})
    assert ('Model.train_batch_norm = False' in caplog.text) == warned
    if warned:
        assert 'eval accuracy 0.320 trails train accuracy 0.905' in caplog.text
