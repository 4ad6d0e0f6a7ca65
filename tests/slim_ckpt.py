"""Official-format checkpoints for tests: written in graph mode by tf.compat.v1.train.Saver."""

import numpy as np
import tensorflow as tf
import tf_slim as slim


def _values_for(variables, rng):
    out = {}
    for v in variables:
        shape = v.shape.as_list()
        if v.op.name.endswith('moving_variance'):
            out[v.op.name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            out[v.op.name] = rng.normal(0, 0.05, shape).astype(np.float32)
    return out


def write_net_checkpoint(path, net_fn, arg_scope, *, num_classes, size=32, seed=0,
                         skip=()):
    """Builds ``net_fn`` in a TF1 graph, fills random values, saves; returns the values.

    Variables whose names start with an entry of ``skip`` are left out of the file.
    """
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3])
        with slim.arg_scope(arg_scope()):
            net_fn(images, num_classes=num_classes, is_training=False)
        variables = [v for v in tf.compat.v1.global_variables()
                     if not any(v.op.name.startswith(s) for s in skip)]
        values = _values_for(variables, rng)
        with tf.compat.v1.Session() as sess:
            for v in variables:
                v.load(values[v.op.name], sess)
            tf.compat.v1.train.Saver(var_list=variables).save(sess, path,
                                                                write_meta_graph=False)
    return values


def write_checkpoint(path, values):
    """A name-based checkpoint holding exactly ``values`` ({name: array})."""
    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(n, initializer=tf.constant(v))
                     for n, v in values.items()]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(var_list=variables).save(sess, path,
                                                                write_meta_graph=False)
