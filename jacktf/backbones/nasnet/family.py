"""NASNet-A and PNASNet-5 as jacktf backbones: ``nasnet_mobile``, ``nasnet_large``,
``pnasnet_mobile``, ``pnasnet_large`` (the names of research/slim's nets_factory).

Each is the official builder under a plain slim network signature, with two choices
made for fine-tuning in TF2:

- The auxiliary head (``use_aux_head``, on by default as in the official configs) is
  built whenever the net's own classifier is (``num_classes`` given), at inference too,
  so its variables exist when the model is built and restored: restored from an
  official archive that holds them, initialised fresh (and reported so) from one that
  does not. The official builders add it only when training; the heads of jacktf
  (``num_classes=None``) never build it.
- The end_points add 'final_activation', the ReLU'd last cell whose mean is
  'global_pool': class activation maps read it (the cells' own outputs come before
  that ReLU).
- Drop path (the large nets) follows the official schedule over ``current_step``; the
  jacktf trainer passes its step. Without a step (a bare call in TF2) drop path stays
  at the start of its schedule, i.e. off.

The official checkpoints' variables sit at the root of the graph (``conv0``,
``cell_stem_0``, ``cell_<n>``, ``reduction_cell_<n>``, ``aux_<n>``, ``final_layer``), so
the backbone's scope is the rule ``SCOPE`` covering exactly those.
"""

import tensorflow as tf

import jacktf
from jacktf.backbones.nasnet import nasnet, pnasnet

__all__ = ['nasnet_mobile', 'nasnet_large', 'pnasnet_mobile', 'pnasnet_large', 'SCOPE']

CAM_ENDPOINT = 'final_activation'  # the ReLU'd last cell, whose mean is global_pool
SCOPE = r're:(conv0|conv0_bn|cell_stem_\d+|cell_\d+|reduction_cell_\d+|aux_\d+|final_layer)(/|$)'


def _hparams(config, default, use_aux_head):
    """The net's configuration: ``config`` (an HParams), or the default one with the
    changes of ``config`` (a dict, e.g. ``{'num_cells': 6}``, as gin can write it)."""
    if isinstance(config, dict):
        hparams = default()
        for name, value in config.items():
            hparams.set_hparam(name, value)
    else:
        hparams = default() if config is None else config
    hparams = nasnet.make_config(**hparams.values())
    hparams.set_hparam('use_aux_head', int(bool(use_aux_head)))
    return hparams


def _step(current_step, is_training):
    """The step drop path reads: given, the TF1 graph's global step, or 0 in TF2."""
    if current_step is not None or not is_training:
        return current_step
    if not tf.compat.v1.executing_eagerly_outside_functions():
        return tf.compat.v1.train.get_or_create_global_step()
    return tf.constant(0, tf.int64)


def _nasnet(images, num_classes, is_training, *, default, use_aux_head, final_endpoint,
            config, current_step):
    hparams = _hparams(config, default, use_aux_head)
    return nasnet.build(images, num_classes, hparams=hparams, is_training=is_training,
                        cells=nasnet._CELLS, total_num_cells=hparams.num_cells + 4,
                        base=nasnet._build_nasnet_base, stem_type='imagenet',
                        final_endpoint=final_endpoint,
                        current_step=_step(current_step, is_training),
                        aux_head=bool(num_classes), activation_endpoint=CAM_ENDPOINT)


def _pnasnet(images, num_classes, is_training, *, default, use_aux_head, final_endpoint,
             config, current_step):
    hparams = _hparams(config, default, use_aux_head)
    return pnasnet._build(images, num_classes, hparams, is_training, final_endpoint,
                          current_step=_step(current_step, is_training),
                          aux_head=bool(num_classes), activation_endpoint=CAM_ENDPOINT)


def nasnet_mobile(images, num_classes=1001, is_training=True, use_aux_head=True,
                  final_endpoint=None, config=None, current_step=None):
    """NASNet-A Mobile 4@1056 (224x224; pooled features: 'global_pool').

    Args:
      images: [batch, 224, 224, 3], Inception preprocessing.
      num_classes: classes of the own classifier; None returns the pooled features.
      is_training: batch norm, dropout and drop-path mode.
      use_aux_head: build the auxiliary classifier (aux_7) with the own classifier.
      final_endpoint: stop at this endpoint ('Stem', 'Cell_3', ...).
      config: an HParams (``nasnet.mobile_imagenet_config()`` with changes), or a
        dict of changes to the default one (``{'num_cells': 6}``; in gin
        ``nasnet_mobile.config = {'num_cells': 6}``). Another shape of the net no
        longer restores the official checkpoint.
      current_step: the training step drop path ramps over (None: see the module).

    Returns:
      (logits or features, end_points).
    """
    return _nasnet(images, num_classes, is_training, default=nasnet.mobile_imagenet_config,
                   use_aux_head=use_aux_head, final_endpoint=final_endpoint,
                   config=config, current_step=current_step)


def nasnet_large(images, num_classes=1001, is_training=True, use_aux_head=True,
                 final_endpoint=None, config=None, current_step=None):
    """NASNet-A Large 6@4032 (331x331; aux head aux_11; drop path 0.7). Arguments as
    ``nasnet_mobile``."""
    return _nasnet(images, num_classes, is_training, default=nasnet.large_imagenet_config,
                   use_aux_head=use_aux_head, final_endpoint=final_endpoint,
                   config=config, current_step=current_step)


def pnasnet_mobile(images, num_classes=1001, is_training=True, use_aux_head=True,
                   final_endpoint=None, config=None, current_step=None):
    """PNASNet-5 Mobile (224x224; 1080 features; aux head aux_5). Arguments as
    ``nasnet_mobile``."""
    return _pnasnet(images, num_classes, is_training,
                    default=pnasnet.mobile_imagenet_config, use_aux_head=use_aux_head,
                    final_endpoint=final_endpoint, config=config,
                    current_step=current_step)


def pnasnet_large(images, num_classes=1001, is_training=True, use_aux_head=True,
                  final_endpoint=None, config=None, current_step=None):
    """PNASNet-5 Large (331x331; 4320 features; aux head aux_7; drop path 0.6).
    Arguments as ``nasnet_mobile``."""
    return _pnasnet(images, num_classes, is_training,
                    default=pnasnet.large_imagenet_config, use_aux_head=use_aux_head,
                    final_endpoint=final_endpoint, config=config,
                    current_step=current_step)


for _fn, _size in ((nasnet_mobile, 224), (nasnet_large, 331), (pnasnet_mobile, 224),
                   (pnasnet_large, 331)):
    _fn.default_image_size = _size

# name, arg_scope, aux head scope
_NETS = (
    (nasnet_mobile, nasnet.nasnet_mobile_arg_scope, 'aux_7'),
    (nasnet_large, nasnet.nasnet_large_arg_scope, 'aux_11'),
    (pnasnet_mobile, pnasnet.pnasnet_mobile_arg_scope, 'aux_5'),
    (pnasnet_large, pnasnet.pnasnet_large_arg_scope, 'aux_7'),
)


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    """Registers nasnet_mobile, nasnet_large, pnasnet_mobile and pnasnet_large."""
    for fn, arg_scope, aux in _NETS:
        registry.backbone(fn.__name__, fn, scope=SCOPE, arg_scope=arg_scope,
                          default_image_size=fn.default_image_size,
                          preprocessing='inception', num_classes_official=1001,
                          classifier_scopes=['final_layer/FC', aux],
                          restore_together=[aux], features_endpoint='global_pool',
                          cam_endpoint=CAM_ENDPOINT, native_logits_endpoint='Logits')
