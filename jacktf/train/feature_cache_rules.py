"""When the feature cache may engage: nothing below the head trains (blocker) and the
training input and backbone give one result for every seed (see
jacktf.train.feature_cache)."""

import numpy as np
import tensorflow as tf

from jacktf.core import scopes


def _probe_image():
    """A fixed, textured, non-square uint8 image (random crops and flips change it)."""
    rng = np.random.default_rng(1234)
    return tf.constant(rng.integers(0, 256, [61, 83, 3], dtype=np.uint8))


def _same(tensors):
    return all(np.allclose(tensors[0], t, rtol=0, atol=1e-6) for t in tensors[1:])


def input_is_deterministic(model):
    """True when the training preprocessing gives one image for every seed."""
    image = _probe_image()
    seeds = ([1, 2], [3, 4], [5, 6])
    outs = [model.preprocess(image, True, tf.constant(s, tf.int64)).numpy() for s in seeds]
    return _same(outs)


def blocker(controller):
    """Why the backbone is not frozen for the whole run (None when it is)."""
    model, trainer = controller.model, controller.trainer
    root = model.card.scope
    if model.native:
        return ("the 'native' head is the backbone's own logits layer (a separate head, "
                "e.g. Model.head = @logits, can use the cache)")
    if trainer.stages:
        return 'Trainer.stages change what trains during the run'
    if controller.inputs.sampling:
        return ("Experiment.sampling = 'balanced' resamples the records each epoch (the "
                "cache reads each example once per epoch: use Trainer.class_weight = "
                "'balanced' with it)")
    if controller.strategy.num_replicas_in_sync > 1:
        return 'it runs on one device (this run has ' \
               f'{controller.strategy.num_replicas_in_sync} replicas)'
    training = [scopes.var_name(v.name) for v in controller.all_variables
                if scopes.rule_matches(root, scopes.var_name(v.name))]
    if training:
        return (f'{len(training)} backbone variables train (e.g. {training[0]}); freeze '
                f"the backbone: FREEZE_SCOPES = ['{root}']")
    frozen = model.network.bn_frozen
    moving = [n for n in model.variable_names()
              if n.endswith('moving_mean') and scopes.rule_matches(root, n)]
    trains = [n for n in moving if frozen is None or not frozen(n)]
    if trains:
        return (f'{len(trains)} backbone batch norms train (e.g. '
                f'{trains[0].rsplit("/", 1)[0]}); set Model.train_batch_norm = False')
    return None


def backbone_is_deterministic(model):
    """True when the training-mode backbone gives one output for every seed (no
    dropout or other randomness below the head)."""
    image = model.preprocess(_probe_image(), False)[tf.newaxis]
    outs = [model.network.backbone_features(image, training=True,
                                            seed=tf.constant(s, tf.int64)).numpy()
            for s in ([1, 2], [3, 4])]
    return _same(outs)
