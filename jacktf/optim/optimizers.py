"""Optimizers: momentum (the seed's), sgd, adam, adamw, rmsprop (slim defaults), adagrad."""

import tensorflow as tf

import jacktf


def momentum(learning_rate, *, momentum=0.9, nesterov=False):
    """SGD with momentum (slim's MomentumOptimizer)."""
    return tf.keras.optimizers.SGD(learning_rate, momentum=momentum, nesterov=nesterov)


def sgd(learning_rate):
    """Plain stochastic gradient descent."""
    return tf.keras.optimizers.SGD(learning_rate)


def adam(learning_rate, *, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """Adam (slim's defaults: epsilon 1e-8)."""
    return tf.keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2,
                                    epsilon=epsilon)


def adamw(learning_rate, *, weight_decay=1e-4, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """Adam with decoupled weight decay."""
    return tf.keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay,
                                     beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)


def rmsprop(learning_rate, *, decay=0.9, momentum=0.9, epsilon=1.0):
    """RMSProp with slim's defaults (decay 0.9, momentum 0.9, epsilon 1.0)."""
    return tf.keras.optimizers.RMSprop(learning_rate, rho=decay, momentum=momentum,
                                       epsilon=epsilon)


def adagrad(learning_rate, *, initial_accumulator_value=0.1):
    """Adagrad (slim's default initial accumulator 0.1)."""
    return tf.keras.optimizers.Adagrad(
        learning_rate, initial_accumulator_value=initial_accumulator_value)


@jacktf.hookimpl
def jacktf_register_optimizers(registry):
    """Registers the six built-in optimizers."""
    for fn in (momentum, sgd, adam, adamw, rmsprop, adagrad):
        registry.optimizer(fn.__name__, fn)
