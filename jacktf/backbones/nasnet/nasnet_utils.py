"""The NASNet-A and PNASNet cell machinery, as research/slim's nets/nasnet/nasnet_utils.

A cell reads two hidden states (the previous cell's output and the one before it),
applies one operation to each of two chosen states five times (``comb_iter_<i>``,
``left`` and ``right``), adds each pair, and concatenates the states no combination
consumed (``cell_output``). Operations are named as in the papers: 'separable_5x5_2'
(two stacked ReLU-separable-conv-batch-norm layers), 'max_pool_3x3', 'avg_pool_3x3'
and 'none' (identity, or a strided/projecting 1x1 convolution when it must be one).

Variable scopes, layer order and the drop-path schedule are the official ones, so the
official checkpoints restore by name. ``data_format`` reaches every helper through
``slim.arg_scope`` exactly as in the official code ('NHWC' or 'NCHW').
"""

import tensorflow as tf
import tf_slim as slim

from jacktf.backbones.nasnet.ops import (OPERATIONS, HParams, pooling,
                                        stacked_separable_conv)
from jacktf.core import compat

__all__ = ['HParams', 'calc_reduction_layers', 'get_channel_index', 'get_channel_dim',
           'global_avg_pool', 'factorized_reduction', 'drop_path', 'NasNetABaseCell',
           'NasNetANormalCell', 'NasNetAReductionCell']

DATA_FORMAT_NCHW = 'NCHW'
DATA_FORMAT_NHWC = 'NHWC'
INVALID = 'null'
CLIP_BY_VALUE_CAP = 6  # bounded activations clip convolution outputs to [-6, 6]


def calc_reduction_layers(num_cells, num_reduction_layers):
    """Indexes of the cells preceded by a reduction: evenly spaced over ``num_cells``."""
    return [int(num_cells * pool / (num_reduction_layers + 1))
            for pool in range(1, num_reduction_layers + 1)]


@slim.add_arg_scope
def get_channel_index(data_format=INVALID):
    """The channel axis: 3 for NHWC, 1 for NCHW."""
    assert data_format != INVALID
    return 3 if data_format == 'NHWC' else 1


@slim.add_arg_scope
def get_channel_dim(shape, data_format=INVALID):
    """The number of channels of a 4-D ``shape``."""
    assert data_format != INVALID
    assert len(shape) == 4
    if data_format == 'NHWC':
        return int(shape[3])
    if data_format == 'NCHW':
        return int(shape[1])
    raise ValueError(f'Unknown data_format {data_format!r}; use \'NHWC\' or \'NCHW\'.')


@slim.add_arg_scope
def global_avg_pool(x, data_format=INVALID):
    """Averages away the spatial dimensions: [N, C]."""
    assert data_format in ('NHWC', 'NCHW')
    assert x.shape.ndims == 4
    axes = [1, 2] if data_format == 'NHWC' else [2, 3]
    return tf.reduce_mean(input_tensor=x, axis=axes)


@slim.add_arg_scope
def factorized_reduction(net, output_filters, stride, data_format=INVALID):
    """Halves the resolution without dropping pixels: two offset strided 1x1 paths.

    With ``stride`` 1 it is a 1x1 convolution and batch norm ('path_conv', 'path_bn').
    Otherwise one path samples even pixels, the other (shifted by one pixel, zero
    padded) odd ones; each projects to half the filters (the second takes the odd one
    out), and batch norm runs on their concatenation ('final_path_bn').
    """
    assert data_format != INVALID
    if stride == 1:
        net = slim.conv2d(net, output_filters, 1, scope='path_conv')
        return slim.batch_norm(net, scope='path_bn')
    nhwc = data_format == 'NHWC'
    strides = [1, stride, stride, 1] if nhwc else [1, 1, stride, stride]

    def subsample(x):
        return tf.nn.avg_pool2d(x, ksize=[1, 1, 1, 1], strides=strides, padding='VALID',
                                data_format=data_format)

    half = int(output_filters / 2)
    path1 = slim.conv2d(subsample(net), half, 1, scope='path1_conv')
    if nhwc:
        shifted = tf.pad(net, [[0, 0], [0, 1], [0, 1], [0, 0]])[:, 1:, 1:, :]
    else:
        shifted = tf.pad(net, [[0, 0], [0, 0], [0, 1], [0, 1]])[:, :, 1:, 1:]
    path2 = slim.conv2d(subsample(shifted), half + int(output_filters % 2), 1,
                        scope='path2_conv')
    joined = tf.concat([path1, path2], axis=3 if nhwc else 1)
    return slim.batch_norm(joined, scope='final_path_bn')


@slim.add_arg_scope
def drop_path(net, keep_prob, is_training=True):
    """Zeroes whole examples of ``net`` with probability 1 - ``keep_prob`` (training).

    Kept examples are scaled by 1 / ``keep_prob``. Inside jacktf's seeded dropout
    (a training step) the mask is drawn from stateless random ops seeded by the step
    and the layer's scope, so a resumed run draws the masks it would have drawn.
    """
    if not is_training:
        return net
    noise_shape = [tf.shape(input=net)[0], 1, 1, 1]
    seed = compat.dropout_seed(tf.compat.v1.get_variable_scope().name + '/drop_path')
    if seed is None:
        uniform = tf.random.uniform(noise_shape, dtype=tf.float32)
    else:
        uniform = tf.random.stateless_uniform(noise_shape, seed=seed, dtype=tf.float32)
    mask = tf.cast(tf.floor(keep_prob + uniform), net.dtype)
    return net * tf.cast(1.0 / keep_prob, net.dtype) * mask


class NasNetABaseCell:
    """One NASNet-style cell, called like a layer: ``cell(net, scope=..., ...)``.

    Args:
      num_conv_filters: filters of every operation at ``filter_scaling`` 1.
      operations: ten operation names, two per combination (left, right).
      used_hiddenstates: per hidden state, 1 when a combination consumes it (then it is
        left out of the output concatenation).
      hiddenstate_indices: ten indexes of the states each operation reads (0: this
        cell's input after its 1x1, 1: the previous layer, 2+: earlier combinations).
      drop_path_keep_prob: final keep probability of drop path (1.0: none).
      total_num_cells: cells of the net (with stem and reduction cells), for the
        per-layer drop-path ramp.
      total_training_steps: steps over which drop path ramps up.
      use_bounded_activation: ReLU6 and clipping (for quantized inference).
    """

    def __init__(self, num_conv_filters, operations, used_hiddenstates,
                 hiddenstate_indices, drop_path_keep_prob, total_num_cells,
                 total_training_steps, use_bounded_activation=False):
        self._num_conv_filters = num_conv_filters
        self._operations = operations
        self._used_hiddenstates = used_hiddenstates
        self._hiddenstate_indices = hiddenstate_indices
        self._drop_path_keep_prob = drop_path_keep_prob
        self._total_num_cells = total_num_cells
        self._total_training_steps = total_training_steps
        self._use_bounded_activation = use_bounded_activation

    def _activation(self, net):
        return tf.nn.relu6(net) if self._use_bounded_activation else tf.nn.relu(net)

    def _clip(self, net):
        if self._use_bounded_activation:
            return tf.clip_by_value(net, -CLIP_BY_VALUE_CAP, CLIP_BY_VALUE_CAP)
        return net

    def _reduce_prev_layer(self, prev_layer, curr_layer):
        """Brings the previous layer to this cell's resolution and filter count."""
        if prev_layer is None:
            return curr_layer
        if int(curr_layer.shape[2]) != int(prev_layer.shape[2]):
            return factorized_reduction(self._activation(prev_layer), self._filter_size,
                                        stride=2)
        if self._filter_size != get_channel_dim(prev_layer.shape):
            net = slim.conv2d(self._activation(prev_layer), self._filter_size, 1,
                              scope='prev_1x1')
            return slim.batch_norm(net, scope='prev_bn')
        return prev_layer

    def _cell_base(self, net, prev_layer):
        """The two input states: this input through ReLU-1x1-BN, the previous layer."""
        prev_layer = self._reduce_prev_layer(prev_layer, net)
        net = slim.conv2d(self._activation(net), self._filter_size, 1, scope='1x1')
        net = slim.batch_norm(net, scope='beginning_bn')
        return [net, prev_layer]

    def __call__(self, net, scope=None, filter_scaling=1, stride=1, prev_layer=None,
                 cell_num=-1, current_step=None):
        """Runs the cell; returns the concatenation of its unused hidden states."""
        self._cell_num = cell_num
        self._filter_scaling = filter_scaling
        self._filter_size = int(self._num_conv_filters * filter_scaling)
        with tf.compat.v1.variable_scope(scope):
            states = self._cell_base(net, prev_layer)
            for i in range(5):
                with tf.compat.v1.variable_scope(f'comb_iter_{i}'):
                    pair = []
                    for side, k in (('left', 2 * i), ('right', 2 * i + 1)):
                        index = self._hiddenstate_indices[k]
                        with tf.compat.v1.variable_scope(side):
                            pair.append(self._apply_conv_operation(
                                states[index], self._operations[k], stride, index < 2,
                                current_step))
                    with tf.compat.v1.variable_scope('combine'):
                        combined = pair[0] + pair[1]
                        if self._use_bounded_activation:
                            combined = tf.nn.relu6(combined)
                    states.append(combined)
            with tf.compat.v1.variable_scope('cell_output'):
                return self._combine_unused_states(states)

    def _apply_conv_operation(self, net, operation, stride, is_from_original_input,
                              current_step):
        """One operation; only the cell's two inputs are strided."""
        if stride > 1 and not is_from_original_input:
            stride = 1
        input_filters = get_channel_dim(net.shape)
        filters = self._filter_size
        bounded = self._use_bounded_activation
        if 'separable' in operation:
            activation = tf.nn.relu6 if bounded else tf.nn.relu
            net = self._clip(stacked_separable_conv(net, stride, operation, filters,
                                                     activation))
        elif operation == 'none':
            if bounded:
                net = tf.nn.relu6(net)
            if stride > 1 or input_filters != filters:
                if not bounded:
                    net = tf.nn.relu(net)
                net = slim.conv2d(net, filters, 1, stride=stride, scope='1x1')
                net = self._clip(slim.batch_norm(net, scope='bn_1'))
        elif 'pool' in operation:
            net = pooling(net, stride, operation, bounded)
            if input_filters != filters:
                net = slim.conv2d(net, filters, 1, stride=1, scope='1x1')
                net = slim.batch_norm(net, scope='bn_1')
            net = self._clip(net)
        else:
            raise ValueError(f'Unknown operation {operation!r}; operations are '
                             f'{OPERATIONS}.')
        if operation != 'none':
            net = self._apply_drop_path(net, current_step=current_step)
        return net

    def _combine_unused_states(self, states):
        """Concatenates the unused states, reduced to the last state's shape first."""
        final_height = int(states[-1].shape[2])
        final_filters = get_channel_dim(states[-1].shape)
        assert len(self._used_hiddenstates) == len(states)
        for idx, used in enumerate(self._used_hiddenstates):
            height = int(states[idx].shape[2])
            if not used and (height != final_height or
                             get_channel_dim(states[idx].shape) != final_filters):
                with tf.compat.v1.variable_scope(f'reduction_{idx}'):
                    states[idx] = factorized_reduction(
                        states[idx], final_filters, 2 if height != final_height else 1)
        unused = [s for s, used in zip(states, self._used_hiddenstates) if not used]
        return tf.concat(values=unused, axis=get_channel_index())

    def _apply_drop_path(self, net, current_step=None):
        """Drop path with the official schedule ('v3'): the drop rate grows with depth
        ((cell_num + 1) / total_num_cells) and with training (current_step /
        total_training_steps, capped at 1); ``current_step`` None reads the global step."""
        keep = self._drop_path_keep_prob
        if keep >= 1.0:
            return net
        assert self._cell_num != -1
        layer_ratio = (self._cell_num + 1) / float(self._total_num_cells)
        keep = 1 - layer_ratio * (1 - keep)
        if current_step is None:
            current_step = tf.compat.v1.train.get_or_create_global_step()
        ratio = tf.minimum(1.0, tf.cast(current_step, tf.float32) /
                           self._total_training_steps)
        return drop_path(net, 1 - ratio * (1 - keep))


class NasNetANormalCell(NasNetABaseCell):
    """The NASNet-A normal cell."""

    def __init__(self, num_conv_filters, drop_path_keep_prob, total_num_cells,
                 total_training_steps, use_bounded_activation=False):
        super().__init__(
            num_conv_filters,
            ['separable_5x5_2', 'separable_3x3_2', 'separable_5x5_2', 'separable_3x3_2',
             'avg_pool_3x3', 'none', 'avg_pool_3x3', 'avg_pool_3x3', 'separable_3x3_2',
             'none'],
            [1, 0, 0, 0, 0, 0, 0], [0, 1, 1, 1, 0, 1, 1, 1, 0, 0],
            drop_path_keep_prob, total_num_cells, total_training_steps,
            use_bounded_activation)


class NasNetAReductionCell(NasNetABaseCell):
    """The NASNet-A reduction cell (stride 2)."""

    def __init__(self, num_conv_filters, drop_path_keep_prob, total_num_cells,
                 total_training_steps, use_bounded_activation=False):
        super().__init__(
            num_conv_filters,
            ['separable_5x5_2', 'separable_7x7_2', 'max_pool_3x3', 'separable_7x7_2',
             'avg_pool_3x3', 'separable_5x5_2', 'none', 'avg_pool_3x3',
             'separable_3x3_2', 'max_pool_3x3'],
            [1, 1, 1, 0, 0, 0, 0], [0, 1, 0, 1, 0, 1, 3, 2, 2, 0],
            drop_path_keep_prob, total_num_cells, total_training_steps,
            use_bounded_activation)
