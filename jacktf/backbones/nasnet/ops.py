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


OPERATIONS = ("'separable_<k>x<k>_<layers>' (e.g. 'separable_5x5_2'), "
              "'avg_pool_<k>x<k>', 'max_pool_<k>x<k>' or 'none'")
POOLING_TYPES = ('avg', 'max')


def _square_kernel(operation, size):
    """'5x5' -> 5; anything else (rectangular, not a size) is a ValueError."""
    parts = size.split('x')
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or parts[0] != parts[1]:
        raise ValueError(f'Operation {operation!r}: the kernel {size!r} is not a square '
                         f'size like 3x3; operations are {OPERATIONS}.')
    return int(parts[0])


def _separable_spec(operation):
    """'separable_5x5_2' -> (layers 2, kernel 5)."""
    parts = operation.split('_')
    if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].isdigit()):
        raise ValueError(f'Unknown operation {operation!r}; operations are {OPERATIONS}.')
    layers = 1 if len(parts) == 2 else int(parts[2])
    return layers, _square_kernel(operation, parts[1])


def _pool_spec(operation):
    """'max_pool_3x3' -> ('max', 3)."""
    parts = operation.split('_')
    if len(parts) != 3 or parts[1] != 'pool':
        raise ValueError(f'Unknown operation {operation!r}; operations are {OPERATIONS}.')
    if parts[0] not in POOLING_TYPES:
        raise ValueError(f'Unknown pooling type {parts[0]!r} in operation {operation!r}; '
                         f'the pooling types are {", ".join(map(repr, POOLING_TYPES))} '
                         f"('avg_pool_3x3', 'max_pool_3x3').")
    return parts[0], _square_kernel(operation, parts[2])


def stacked_separable_conv(net, stride, operation, filter_size, activation_fn):
    """Activation, separable conv, batch norm, repeated; only the first one strides.

    Raises:
      ValueError: ``operation`` is not 'separable_<k>x<k>[_<layers>]'.
    """
    layers, kernel = _separable_spec(operation)
    for layer in range(1, layers + 1):
        net = activation_fn(net)
        net = slim.separable_conv2d(net, filter_size, kernel, depth_multiplier=1,
                                    stride=stride, scope=f'separable_{kernel}x{kernel}_{layer}')
        net = slim.batch_norm(net, scope=f'bn_sep_{kernel}x{kernel}_{layer}')
        stride = 1
    return net


def pooling(net, stride, operation, use_bounded_activation):
    """'avg_pool_3x3' / 'max_pool_3x3' (SAME padding), after ReLU6 when bounded.

    Raises:
      ValueError: ``operation`` is not a pooling operation of a known type.
    """
    kind, size = _pool_spec(operation)
    if use_bounded_activation:
        net = tf.nn.relu6(net)
    pool = slim.avg_pool2d if kind == 'avg' else slim.max_pool2d
    return pool(net, size, stride=stride, padding='SAME')
