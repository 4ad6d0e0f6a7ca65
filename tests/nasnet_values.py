"""Variable values and an input image that depend on nothing but names and shapes, so
the official NASNet/PNASNet code and jacktf's drop-ins can be given the same ones (the
official logits on them are tests/fixtures/nasnet_official_logits.npz)."""

import zlib

import numpy as np


def deterministic_values(shapes):
    """{variable name: float32 array}: each seeded by the CRC32 of its name; weights
    scaled by their fan-in, batch-norm statistics and affine terms near their usual
    values, so activations stay of order one through all the cells."""
    values = {}
    for name, shape in shapes.items():
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        if name.endswith(('moving_variance', 'gamma')):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(('moving_mean', 'beta', 'biases')):
            value = rng.normal(0.0, 0.1, shape)
        else:
            fan_in = np.prod(shape[:2]) if name.endswith('depthwise_weights') \
                else np.prod(shape[:-1])
            value = rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)
        values[name] = value.astype(np.float32)
    return values


def sample_image(size):
    """One [1, size, size, 3] image in [-1, 1] (Inception preprocessing's range)."""
    return np.random.default_rng(0).uniform(-1, 1, [1, size, size, 3]).astype(np.float32)
