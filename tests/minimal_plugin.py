"""A third-party backbone plugin with only the required card fields, installed by an
entry point: ``install(directory)`` writes the package and a ``.dist-info`` folder with
``entry_points.txt`` there (put ``directory`` on PYTHONPATH of a subprocess)."""

import os
import textwrap

PLUGIN = '''
"""mini_net: a small slim CNN registered with only the required card fields."""
import tensorflow as tf
import tf_slim as slim

import jacktf


def mini_net(images, num_classes=None, is_training=True, scope='mini_net'):
    """Two conv layers, global average pool, optional logits."""
    end_points = {}
    with tf.compat.v1.variable_scope(scope, 'mini_net', [images]):
        net = slim.conv2d(images, 8, [3, 3], scope='Conv2d_0')
        end_points['Conv2d_0'] = net
        net = slim.conv2d(net, 16, [3, 3], stride=2, scope='Conv2d_1')
        end_points['Conv2d_1'] = net
        net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
        end_points['global_pool'] = net
        if not num_classes:
            return net, end_points
        net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, scope='Logits')
        net = tf.squeeze(net, [1, 2])
        end_points['Logits'] = net
        return net, end_points


@jacktf.hookimpl
def jacktf_register_backbones(registry):
    registry.backbone('mini_net', mini_net, default_image_size=32,
                      preprocessing='inception')
'''

METADATA = 'Metadata-Version: 2.1\nName: jacktf-minimal\nVersion: 0.0.1\n'
ENTRY_POINTS = '[jacktf]\nminimal = jacktf_minimal\n'


def install(directory):
    """Writes the plugin package and its dist-info into ``directory``; returns it."""
    directory = str(directory)
    package = os.path.join(directory, 'jacktf_minimal')
    os.makedirs(package, exist_ok=True)
    with open(os.path.join(package, '__init__.py'), 'w') as f:
        f.write(textwrap.dedent(PLUGIN))
    info = os.path.join(directory, 'jacktf_minimal-0.0.1.dist-info')
    os.makedirs(info, exist_ok=True)
    for name, text in (('METADATA', METADATA), ('entry_points.txt', ENTRY_POINTS),
                       ('RECORD', '')):
        with open(os.path.join(info, name), 'w') as f:
            f.write(text)
    return directory
