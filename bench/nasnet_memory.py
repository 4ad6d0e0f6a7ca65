"""Peak memory of the large NASNet/PNASNet nets at 331x331: one training step (forward
and backward, all layers trainable, a new 'logits' head) and one inference call (what
an export serves), at small batch sizes, each net and mode in a fresh process; the per-example slope
gives the largest batch that fits a memory budget.

    python bench/nasnet_memory.py [--nets nasnet_large,pnasnet_large] [--batches 1,2]
        [--budget_gb 24]

Prints JSON: peak RSS in MB per (net, mode, batch), the fitted fixed + per-example MB,
and the largest batch under the budget. CPU RSS, float32; a GPU's memory follows the
same activations (plus its allocator's slack).
"""

import argparse
import json
import os
import subprocess
import sys

from common import emit, peak_rss_mb

_CHILD = '--child'


def child(net, mode, batches, size):
    """Peak RSS after a call at each batch size, ascending, in this one process (the
    peak only grows; one trace serves every batch size)."""
    import tensorflow as tf
    import jacktf
    model = jacktf.build_model(net, num_classes=5, head='logits', image_size=size)
    variables = model.network.trainable_variables
    spec = [tf.TensorSpec([None, size, size, 3], tf.float32)]

    @tf.function(input_signature=spec)
    def train(images):
        with tf.GradientTape() as tape:
            logits = model.predict(images, training=True)['logits']
            loss = tf.reduce_mean(model.loss(tf.zeros([tf.shape(images)[0]], tf.int32),
                                             logits))
        grads = tape.gradient(loss, variables)  # use every gradient, so none is pruned
        return tf.add_n([tf.reduce_sum(g) for g in grads if g is not None])

    @tf.function(input_signature=spec)
    def infer(images):
        return model.predict(images, training=False)['logits']

    peaks = {'built': peak_rss_mb()}
    for batch in sorted(batches):
        (train if mode == 'train' else infer)(tf.random.uniform([batch, size, size, 3], -1, 1))
        peaks[batch] = peak_rss_mb()
    print(json.dumps(peaks))


def measure(net, mode, batches, size):
    env = dict(os.environ, TF_USE_LEGACY_KERAS='1', TF_CPP_MIN_LOG_LEVEL='2')
    out = subprocess.run([sys.executable, __file__, _CHILD, net, mode,
                          ','.join(map(str, batches)), str(size)], capture_output=True,
                         text=True, env=env, check=True)
    peaks = json.loads(out.stdout.strip().splitlines()[-1])
    return {k if k == 'built' else int(k): v for k, v in peaks.items()}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD:
        net, mode, batches, size = sys.argv[2:6]
        return child(net, mode, [int(b) for b in batches.split(',')], int(size))
    parser = argparse.ArgumentParser()
    parser.add_argument('--nets', default='nasnet_large,pnasnet_large')
    parser.add_argument('--modes', default='train,infer')
    parser.add_argument('--batches', default='1,2')
    parser.add_argument('--size', type=int, default=331)
    parser.add_argument('--budget_gb', type=float, default=24.0)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(',')]
    results = []
    for net in args.nets.split(','):
        for mode in args.modes.split(','):
            peaks = measure(net, mode, batches, args.size)
            low, high = min(batches), max(batches)
            per_example = (peaks[high] - peaks[low]) / max(high - low, 1)
            fixed = peaks[low] - per_example * low
            fits = int((args.budget_gb * 1024 - fixed) // per_example) \
                if per_example > 0 else None
            results.append({'net': net, 'mode': mode, 'size': args.size,
                            'peak_mb': peaks, 'fixed_mb': round(fixed),
                            'per_example_mb': round(per_example),
                            f'max_batch_{args.budget_gb:g}gb': fits})
    emit({'benchmark': 'nasnet_memory', 'results': results})


if __name__ == '__main__':
    main()
