"""The NASNet configuration object and the operations a cell applies (separable-conv
stacks and pooling), by their official names ('separable_5x5_2', 'max_pool_3x3')."""

import copy

import tensorflow as tf
import tf_slim as slim


class HParams:
    """The configuration of a NASNet/PNASNet build (the official configs' HParams).

    Attributes are the hyperparameters; ``set_hparam`` changes one that exists (as
    tf.contrib.training.HParams does), ``values()`` returns them as a dict.
    """

    def __init__(self, **values):
        self.__dict__.update(values)

    def set_hparam(self, name, value):
        """Sets an existing hyperparameter.

        Raises:
          ValueError: ``name`` is not one of this configuration's hyperparameters.
        """
        if name not in self.__dict__:
            raise ValueError(f'Unknown hyperparameter {name!r}; the configuration has '
                             f'{", ".join(sorted(self.__dict__))}.')
        setattr(self, name, value)

    def values(self):
        return dict(self.__dict__)

    def __deepcopy__(self, memo):
        return HParams(**copy.deepcopy(self.__dict__, memo))

    def __repr__(self):
        return f'HParams({self.__dict__!r})'


def _separable_spec(operation):
    """'separable_5x5_2' -> (layers 2, kernel 5)."""
    parts = operation.split('_')
    layers = 1 if 'x' in parts[-1] else int(parts[-1])
    size = parts[1].split('x')
    assert size[0] == size[1], 'Rectangular filters not supported.'
    return layers, int(size[0])


def _pool_spec(operation):
    """'max_pool_3x3' -> ('max', 3)."""
    parts = operation.split('_')
    size = parts[-1].split('x')
    assert len(size) == 2 and size[0] == size[1]
    return parts[0], int(size[0])


def stacked_separable_conv(net, stride, operation, filter_size, activation_fn):
    """Activation, separable conv, batch norm, repeated; only the first one strides."""
    layers, kernel = _separable_spec(operation)
    for layer in range(1, layers + 1):
        net = activation_fn(net)
        net = slim.separable_conv2d(net, filter_size, kernel, depth_multiplier=1,
                                    stride=stride, scope=f'separable_{kernel}x{kernel}_{layer}')
        net = slim.batch_norm(net, scope=f'bn_sep_{kernel}x{kernel}_{layer}')
        stride = 1
    return net


def pooling(net, stride, operation, use_bounded_activation):
    kind, size = _pool_spec(operation)
    if use_bounded_activation:
        net = tf.nn.relu6(net)
    if kind == 'avg':
        return slim.avg_pool2d(net, size, stride=stride, padding='SAME')
    if kind == 'max':
        return slim.max_pool2d(net, size, stride=stride, padding='SAME')
    raise NotImplementedError('Unimplemented pooling type: ', kind)
