"""PNASNet-5 (Liu et al. 2017, arXiv:1712.00559), as research/slim's nets/nasnet/pnasnet.

One cell type for the whole net: the stem cells and the cells after each reduction
point are the same PNASNet-5 cell, strided. Variable names, configurations,
arg_scopes and ``build_pnasnet_*`` functions are the official ones; as officially, the
auxiliary head is built only when ``is_training``.
"""

import tensorflow as tf

from jacktf.backbones.nasnet import nasnet, nasnet_utils

__all__ = ['large_imagenet_config', 'mobile_imagenet_config', 'pnasnet_large_arg_scope',
           'pnasnet_mobile_arg_scope', 'build_pnasnet_large', 'build_pnasnet_mobile',
           'PNasNetNormalCell']


def large_imagenet_config():
    """PNASNet-5 Large (4320 features), trained at 331x331."""
    return nasnet.make_config(num_cells=12, num_conv_filters=216, drop_path_keep_prob=0.6)


def mobile_imagenet_config():
    """PNASNet-5 Mobile (1080 features), trained at 224x224 (no drop path)."""
    return nasnet.make_config(stem_multiplier=1.0, num_cells=9, num_conv_filters=54,
                         drop_path_keep_prob=1.0)


def pnasnet_large_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                            batch_norm_epsilon=0.001):
    """The arg_scope of PNASNet-5 Large (NASNet-A Large's, with its own decay)."""
    return nasnet.nasnet_large_arg_scope(weight_decay, batch_norm_decay,
                                         batch_norm_epsilon)


def pnasnet_mobile_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                             batch_norm_epsilon=0.001):
    """The arg_scope of PNASNet-5 Mobile."""
    return nasnet.nasnet_mobile_arg_scope(weight_decay, batch_norm_decay,
                                          batch_norm_epsilon)


def _build_pnasnet_base(images, normal_cell, num_classes, hparams, is_training,
                        final_endpoint=None, current_step=None, aux_head=None,
                        activation_endpoint=None):
    """The ImageNet stem of two strided cells, ``num_cells`` cells (strided, with twice
    the filters, at each reduction point), the aux head after the cell before the second
    reduction, the final layer. ``aux_head`` None: official (only when training);
    ``activation_endpoint``: see ``nasnet.final_layer``."""
    end_points = {}
    add = nasnet.endpoint_recorder(end_points, final_endpoint)
    reductions = nasnet_utils.calc_reduction_layers(hparams.num_cells,
                                                    hparams.num_reduction_layers)
    net, cell_outputs = nasnet._imagenet_stem(images, hparams, normal_cell, current_step)
    if add('Stem', net):
        return net, end_points
    aux_cells = [reductions[1] - 1] if len(reductions) >= 2 else []
    if aux_head is None:
        aux_head = is_training
    activation = tf.nn.relu6 if hparams.use_bounded_activation else tf.nn.relu
    filter_scaling = 1.0
    true_cell_num = 2
    for cell_num in range(hparams.num_cells):
        is_reduction = cell_num in reductions
        if is_reduction:
            filter_scaling *= hparams.filter_scaling_rate
        if hparams.skip_reduction_layer_input or not is_reduction:
            prev_layer = cell_outputs[-2]
        net = normal_cell(net, scope=f'cell_{cell_num}', filter_scaling=filter_scaling,
                          stride=2 if is_reduction else 1, prev_layer=prev_layer,
                          cell_num=true_cell_num, current_step=current_step)
        if add(f'Cell_{cell_num}', net):
            return net, end_points
        true_cell_num += 1
        cell_outputs.append(net)
        if hparams.use_aux_head and cell_num in aux_cells and num_classes and aux_head:
            nasnet._build_aux_head(activation(net), end_points, num_classes, hparams,
                                   scope=f'aux_{cell_num}')
    return nasnet.final_layer(net, end_points, num_classes=num_classes, hparams=hparams,
                              add_endpoint=add,
                              activation_endpoint=activation_endpoint), end_points


def _build(images, num_classes, hparams, is_training, final_endpoint, **kwargs):
    return nasnet.build(images, num_classes, hparams=hparams, is_training=is_training,
                        cells=(PNasNetNormalCell,), total_num_cells=hparams.num_cells + 2,
                        base=_build_pnasnet_base, final_endpoint=final_endpoint, **kwargs)


def build_pnasnet_large(images, num_classes, is_training=True, final_endpoint=None,
                        config=None):
    """PNASNet-5 Large for ImageNet (331x331)."""
    return _build(images, num_classes, config or large_imagenet_config(), is_training,
                  final_endpoint)


build_pnasnet_large.default_image_size = 331


def build_pnasnet_mobile(images, num_classes, is_training=True, final_endpoint=None,
                         config=None):
    """PNASNet-5 Mobile for ImageNet (224x224)."""
    return _build(images, num_classes, config or mobile_imagenet_config(), is_training,
                  final_endpoint)


build_pnasnet_mobile.default_image_size = 224


class PNasNetNormalCell(nasnet_utils.NasNetABaseCell):
    """The PNASNet-5 cell."""

    def __init__(self, num_conv_filters, drop_path_keep_prob, total_num_cells,
                 total_training_steps, use_bounded_activation=False):
        super().__init__(
            num_conv_filters,
            ['separable_5x5_2', 'max_pool_3x3', 'separable_7x7_2', 'max_pool_3x3',
             'separable_5x5_2', 'separable_3x3_2', 'separable_3x3_2', 'max_pool_3x3',
             'separable_3x3_2', 'none'],
            [1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 4, 0, 1, 0],
            drop_path_keep_prob, total_num_cells, total_training_steps,
            use_bounded_activation)

