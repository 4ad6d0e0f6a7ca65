"""NASNet-A (Zoph et al. 2017, arXiv:1707.07012), as research/slim's nets/nasnet/nasnet.

The configurations (``cifar_config``, ``mobile_imagenet_config``,
``large_imagenet_config``), arg_scopes and ``build_nasnet_*`` functions take and return
what the official ones do, with the official variable names: the checkpoints' variables
sit at the root (``conv0``, ``cell_stem_0``, ``cell_0`` ... ``reduction_cell_1``,
``aux_<n>``, ``final_layer``), not under one net scope. As officially, the auxiliary
head is built only when ``is_training`` (and ``use_aux_head``, and ``num_classes``);
drop path ramps up over ``total_training_steps`` of ``current_step`` (the global step
when None) and is off when not training.
"""

import copy

import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.nasnet import nasnet_utils
from jacktf.backbones.nasnet.nasnet_utils import HParams

__all__ = ['cifar_config', 'mobile_imagenet_config', 'large_imagenet_config',
           'nasnet_cifar_arg_scope', 'nasnet_mobile_arg_scope', 'nasnet_large_arg_scope',
           'build_nasnet_cifar', 'build_nasnet_mobile', 'build_nasnet_large']


def make_config(**overrides):
    """An HParams of NASNet-A Large's values with ``overrides``."""
    values = dict(stem_multiplier=3.0, dense_dropout_keep_prob=0.5, num_cells=18,
                  filter_scaling_rate=2.0, num_conv_filters=168, drop_path_keep_prob=0.7,
                  use_aux_head=1, num_reduction_layers=2, data_format='NHWC',
                  skip_reduction_layer_input=1, total_training_steps=250000,
                  use_bounded_activation=False)
    values.update(overrides)
    return HParams(**values)


def cifar_config():
    """NASNet-A 6@768 for CIFAR-10 (600 epochs of batch 32 = 937500 steps)."""
    return make_config(drop_path_keep_prob=0.6, num_conv_filters=32,
                   dense_dropout_keep_prob=1.0, skip_reduction_layer_input=0,
                   total_training_steps=937500)


def large_imagenet_config():
    """NASNet-A 6@4032, trained at 331x331."""
    return make_config()


def mobile_imagenet_config():
    """NASNet-A 4@1056, trained at 224x224 (no drop path)."""
    return make_config(stem_multiplier=1.0, num_cells=12, drop_path_keep_prob=1.0,
                   num_conv_filters=44, skip_reduction_layer_input=0)


def _update_hparams(hparams, is_training):
    """Drop path is off when not training."""
    if not is_training:
        hparams.set_hparam('drop_path_keep_prob', 1.0)


def _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon):
    """L2 decay and fan-out variance scaling; no activation or biases on convolutions
    (the cells place ReLU and batch norm themselves); the classifier is scope 'FC'."""
    batch_norm_params = {'decay': batch_norm_decay, 'epsilon': batch_norm_epsilon,
                         'scale': True, 'fused': True}
    layers = [slim.fully_connected, slim.conv2d, slim.separable_conv2d]
    with slim.arg_scope(layers, weights_regularizer=slim.l2_regularizer(weight_decay),
                        weights_initializer=slim.variance_scaling_initializer(
                            mode='FAN_OUT')):
        with slim.arg_scope([slim.fully_connected], activation_fn=None, scope='FC'):
            with slim.arg_scope([slim.conv2d, slim.separable_conv2d], activation_fn=None,
                                biases_initializer=None):
                with slim.arg_scope([slim.batch_norm], **batch_norm_params) as sc:
                    return sc


def nasnet_cifar_arg_scope(weight_decay=5e-4, batch_norm_decay=0.9,
                           batch_norm_epsilon=1e-5):
    """The arg_scope of NASNet-A CIFAR."""
    return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def nasnet_mobile_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                            batch_norm_epsilon=1e-3):
    """The arg_scope of NASNet-A Mobile (ImageNet)."""
    return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def nasnet_large_arg_scope(weight_decay=5e-5, batch_norm_decay=0.9997,
                           batch_norm_epsilon=1e-3):
    """The arg_scope of NASNet-A Large (ImageNet)."""
    return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def _activation(hparams):
    return tf.nn.relu6 if hparams.use_bounded_activation else tf.nn.relu


def _build_aux_head(net, end_points, num_classes, hparams, scope):
    """The auxiliary classifier: 5x5/3 average pool, 1x1 to 128, a full-map conv to
    768, fully connected; end_points['AuxLogits']."""
    activation = _activation(hparams)
    with tf.compat.v1.variable_scope(scope):
        with tf.compat.v1.variable_scope('aux_logits'):
            aux = slim.avg_pool2d(tf.identity(net), [5, 5], stride=3, padding='VALID')
            aux = activation(slim.batch_norm(slim.conv2d(aux, 128, [1, 1], scope='proj'),
                                             scope='aux_bn0'))
            spatial = aux.shape[1:3] if hparams.data_format == 'NHWC' else aux.shape[2:4]
            aux = slim.conv2d(aux, 768, spatial, padding='VALID')
            aux = activation(slim.batch_norm(aux, scope='aux_bn1'))
            end_points['AuxLogits'] = slim.fully_connected(slim.flatten(aux), num_classes)


def _imagenet_stem(inputs, hparams, stem_cell, current_step=None):
    """conv0 (3x3/2 VALID) + batch norm, then two stride-2 stem cells."""
    net = slim.conv2d(inputs, int(32 * hparams.stem_multiplier), [3, 3], stride=2,
                      scope='conv0', padding='VALID')
    net = slim.batch_norm(net, scope='conv0_bn')
    cell_outputs = [None, net]
    filter_scaling = 1.0 / hparams.filter_scaling_rate ** 2
    for cell_num in range(2):
        net = stem_cell(net, scope=f'cell_stem_{cell_num}', filter_scaling=filter_scaling,
                        stride=2, prev_layer=cell_outputs[-2], cell_num=cell_num,
                        current_step=current_step)
        cell_outputs.append(net)
        filter_scaling *= hparams.filter_scaling_rate
    return net, cell_outputs


def _cifar_stem(inputs, hparams):
    net = slim.conv2d(inputs, int(hparams.num_conv_filters * hparams.stem_multiplier), 3,
                      scope='l1_stem_3x3')
    net = slim.batch_norm(net, scope='l1_stem_bn')
    return net, [None, net]


def final_layer(net, end_points, *, num_classes, hparams, add_endpoint,
                activation_endpoint=None):
    """ReLU, global average pool ('global_pool'), dropout and the 'FC' logits.

    ``activation_endpoint`` names an extra endpoint for the ReLU'd last cell (the map
    whose mean is 'global_pool': what class activation maps read).

    Returns the logits; as officially, the pooled features (after dropout once it ran)
    when ``add_endpoint`` reached the final endpoint or there is none.
    """
    with tf.compat.v1.variable_scope('final_layer'):
        net = _activation(hparams)(net)
        if activation_endpoint:
            end_points[activation_endpoint] = net
        net = nasnet_utils.global_avg_pool(net)
        if add_endpoint('global_pool', net) or not num_classes:
            return net
        net = slim.dropout(net, hparams.dense_dropout_keep_prob, scope='dropout')
        logits = slim.fully_connected(net, num_classes)
        if add_endpoint('Logits', logits) or \
                add_endpoint('Predictions', tf.nn.softmax(logits, name='predictions')):
            return net
    return logits


def endpoint_recorder(end_points, final_endpoint):
    """``add(name, tensor)`` records an endpoint and says whether it is the last."""
    def add(name, net):
        end_points[name] = net
        return bool(final_endpoint) and name == final_endpoint
    return add


def _build_nasnet_base(images, normal_cell, reduction_cell, num_classes, hparams,
                       is_training, stem_type, final_endpoint=None, current_step=None,
                       aux_head=None, activation_endpoint=None):
    """The stem, normal cells with reduction cells before the cells of
    ``calc_reduction_layers``, the aux head after the cell before the second reduction,
    and the final layer. ``aux_head`` None: official (only when training);
    ``activation_endpoint``: see ``final_layer``."""
    end_points = {}
    add = endpoint_recorder(end_points, final_endpoint)
    reductions = nasnet_utils.calc_reduction_layers(hparams.num_cells,
                                                    hparams.num_reduction_layers)
    if stem_type == 'imagenet':
        net, cell_outputs = _imagenet_stem(images, hparams, reduction_cell, current_step)
    elif stem_type == 'cifar':
        net, cell_outputs = _cifar_stem(images, hparams)
    else:
        raise ValueError(f"Unknown stem_type {stem_type!r}; use 'imagenet' or 'cifar'.")
    if add('Stem', net):
        return net, end_points
    aux_cells = [reductions[1] - 1] if len(reductions) >= 2 else []
    if aux_head is None:
        aux_head = is_training
    true_cell_num = 2 if stem_type == 'imagenet' else 0
    filter_scaling = 1.0
    for cell_num in range(hparams.num_cells):
        if hparams.skip_reduction_layer_input:
            prev_layer = cell_outputs[-2]
        if cell_num in reductions:
            index = reductions.index(cell_num)
            filter_scaling *= hparams.filter_scaling_rate
            net = reduction_cell(net, scope=f'reduction_cell_{index}',
                                 filter_scaling=filter_scaling, stride=2,
                                 prev_layer=cell_outputs[-2], cell_num=true_cell_num,
                                 current_step=current_step)
            if add(f'Reduction_Cell_{index}', net):
                return net, end_points
            true_cell_num += 1
            cell_outputs.append(net)
        if not hparams.skip_reduction_layer_input:
            prev_layer = cell_outputs[-2]
        net = normal_cell(net, scope=f'cell_{cell_num}', filter_scaling=filter_scaling,
                          stride=1, prev_layer=prev_layer, cell_num=true_cell_num,
                          current_step=current_step)
        if add(f'Cell_{cell_num}', net):
            return net, end_points
        true_cell_num += 1
        if hparams.use_aux_head and cell_num in aux_cells and num_classes and aux_head:
            _build_aux_head(_activation(hparams)(net), end_points, num_classes, hparams,
                            scope=f'aux_{cell_num}')
        cell_outputs.append(net)
    net = final_layer(net, end_points, num_classes=num_classes, hparams=hparams,
                      add_endpoint=add, activation_endpoint=activation_endpoint)
    return net, end_points


def build(images, num_classes, *, hparams, is_training, cells, total_num_cells,
          **base_kwargs):
    """Shared by every builder: NCHW transpose, the cells, the arg_scopes."""
    hparams = copy.deepcopy(hparams)
    if hparams.data_format not in ('NHWC', 'NCHW'):
        raise ValueError(f'Unknown data_format {hparams.data_format!r} in the '
                         "configuration; set_hparam('data_format', 'NHWC' or 'NCHW').")
    _update_hparams(hparams, is_training)
    if hparams.data_format == 'NCHW':
        images = tf.transpose(a=images, perm=[0, 3, 1, 2])
    made = [cell(hparams.num_conv_filters, hparams.drop_path_keep_prob, total_num_cells,
                 hparams.total_training_steps, hparams.use_bounded_activation)
            for cell in cells]
    with slim.arg_scope([slim.dropout, nasnet_utils.drop_path, slim.batch_norm],
                        is_training=is_training):
        with slim.arg_scope([slim.avg_pool2d, slim.max_pool2d, slim.conv2d,
                             slim.batch_norm, slim.separable_conv2d,
                             nasnet_utils.factorized_reduction,
                             nasnet_utils.global_avg_pool,
                             nasnet_utils.get_channel_index,
                             nasnet_utils.get_channel_dim],
                            data_format=hparams.data_format):
            return base_kwargs.pop('base')(images, *made, num_classes=num_classes,
                                           hparams=hparams, is_training=is_training,
                                           **base_kwargs)


_CELLS = (nasnet_utils.NasNetANormalCell, nasnet_utils.NasNetAReductionCell)


def build_nasnet_cifar(images, num_classes, is_training=True, config=None,
                       current_step=None):
    """NASNet-A for CIFAR-10 (32x32)."""
    hparams = cifar_config() if config is None else config
    return build(images, num_classes, hparams=hparams, is_training=is_training,
                 cells=_CELLS, total_num_cells=hparams.num_cells + 2,
                 base=_build_nasnet_base, stem_type='cifar', current_step=current_step)


build_nasnet_cifar.default_image_size = 32


def build_nasnet_mobile(images, num_classes, is_training=True, final_endpoint=None,
                        config=None, current_step=None):
    """NASNet-A Mobile for ImageNet (224x224)."""
    hparams = mobile_imagenet_config() if config is None else config
    return build(images, num_classes, hparams=hparams, is_training=is_training,
                 cells=_CELLS, total_num_cells=hparams.num_cells + 4,
                 base=_build_nasnet_base, stem_type='imagenet',
                 final_endpoint=final_endpoint, current_step=current_step)


build_nasnet_mobile.default_image_size = 224


def build_nasnet_large(images, num_classes, is_training=True, final_endpoint=None,
                       config=None, current_step=None):
    """NASNet-A Large for ImageNet (331x331)."""
    hparams = large_imagenet_config() if config is None else config
    return build(images, num_classes, hparams=hparams, is_training=is_training,
                 cells=_CELLS, total_num_cells=hparams.num_cells + 4,
                 base=_build_nasnet_base, stem_type='imagenet',
                 final_endpoint=final_endpoint, current_step=current_step)


build_nasnet_large.default_image_size = 331
