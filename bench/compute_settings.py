"""Process-wide compute settings for the MobileNet v2 train step on CPU, one process per
setting, run interleaved (A B C A B C) so load drifts hit every setting alike.

Usage: python bench/compute_settings.py [--batch 32] [--steps 3] [--rounds 2] [--out F]

Settings (each a fresh process, float32, in-memory batches at 224):
  default: as jacktf runs (oneDNN on, TensorFlow's thread pools).
  onednn_off: TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's own Eigen kernels).
  threads_1x2: inter-op 1, intra-op = the cores (one op at a time, all cores in it).
  threads_2x1: inter-op = the cores, intra-op 1.
  jit_compile: Trainer.jit_compile = True (XLA).
Each child also reports the step graph's op counts of interest (fused batch norm,
depthwise and NHWC/NCHW convolutions). Prints JSON: images/s (median of the rounds)
and each setting's ratio to default.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from common import emit

SETTINGS = {'default': {}, 'onednn_off': {'TF_ENABLE_ONEDNN_OPTS': '0'},
            'threads_1x2': {'JACKTF_BENCH_THREADS': '1x0'},
            'threads_2x1': {'JACKTF_BENCH_THREADS': '0x1'},
            'jit_compile': {'JACKTF_BENCH_JIT': '1'}}


def child(batch, steps):
    threads = os.environ.get('JACKTF_BENCH_THREADS')
    import jacktf  # noqa: F401
    import tensorflow as tf
    if threads:
        inter, intra = (int(n) or os.cpu_count() for n in threads.split('x'))
        tf.config.threading.set_inter_op_parallelism_threads(inter)
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    from jacktf.core import plugins
    from jacktf.core.model import Model
    from jacktf.optim.optimizers import momentum
    from jacktf.train.trainer import Trainer
    registry = plugins.set_default_registry(plugins.load_registry(autoload=False))
    model = Model(backbone='mobilenet_v2', num_classes=2, registry=registry).build()
    trainer = Trainer(train_steps=1, optimizer=momentum, learning_rate=0.01,
                      jit_compile=os.environ.get('JACKTF_BENCH_JIT') == '1')
    variables, _ = trainer.split_variables(model)
    step = trainer.make_train_step(model, momentum(0.01), variables, batch,
                                   tf.distribute.get_strategy())
    data = tf.data.Dataset.from_tensors((tf.random.uniform([batch, 224, 224, 3], -1, 1),
                                         tf.zeros([batch], tf.int32))).repeat()
    iterator = iter(data)
    for _ in range(2):
        float(step(iterator)[0])
    start = time.perf_counter()
    for _ in range(steps):
        float(step(iterator)[0])
    rate = steps * batch / (time.perf_counter() - start)
    ops = {}
    graph = tf.function(lambda x: model.predict(x, training=True)['logits'])\
        .get_concrete_function(tf.TensorSpec([1, 224, 224, 3])).graph
    for op in graph.get_operations():
        if 'BatchNorm' in op.type or 'Conv' in op.type:
            fmt = op.get_attr('data_format').decode() if 'data_format' in op.node_def.attr \
                else ''
            key = f'{op.type} {fmt}'.strip()
            ops[key] = ops.get(key, 0) + 1
    print('RESULT ' + json.dumps({'images_per_second': rate, 'forward_ops': ops}))


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--settings', default=','.join(SETTINGS))
    parser.add_argument('--out')
    parser.add_argument('--child', action='store_true')
    args = parser.parse_args(argv)
    if args.child:
        return child(args.batch, args.steps)
    names = args.settings.split(',')
    rates, ops = {n: [] for n in names}, {}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for name in names:
            env = dict(os.environ, **SETTINGS[name])
            r = subprocess.run([sys.executable, os.path.abspath(__file__), '--child',
                                '--batch', str(args.batch), '--steps', str(args.steps)],
                               capture_output=True, text=True, env=env)
            line = [x for x in r.stdout.splitlines() if x.startswith('RESULT ')]
            if r.returncode or not line:
                raise SystemExit(f'{name} failed:\n{r.stderr[-3000:]}')
            out = json.loads(line[0][7:])
            rates[name].append(out['images_per_second'])
            ops[name] = out['forward_ops']
    median = {n: round(statistics.median(v), 2) for n, v in rates.items()}
    result = {'benchmark': 'compute_settings', 'model': 'mobilenet_v2', 'image_size': 224,
              'batch': args.batch, 'timed_steps': args.steps, 'rounds': args.rounds,
              'cpu_count': os.cpu_count(), 'load_before': load_before,
              'load_after': os.getloadavg(), 'images_per_second': median,
              'all_rounds': rates, 'ratio_to_default': {
                  n: round(v / median['default'], 2) for n, v in median.items()},
              'forward_ops_default': ops.get('default')}
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return emit(result)


if __name__ == '__main__':
    main(sys.argv[1:])
