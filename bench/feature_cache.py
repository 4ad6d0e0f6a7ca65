"""A frozen ResNet-50 with a new head: jacktf's feature cache vs Keras the usual way.

Usage: python bench/feature_cache.py [--images 256] [--epochs 20] [--batch 32]
                                     [--precision float32|bfloat16] [--workdir DIR]

The same job on both sides, each in its own process, one after the other:
  keras:  keras.applications.ResNet50(include_top=False, pooling='avg',
          weights=None) with trainable=False, a Dense head, model.fit on
          image_dataset_from_directory(...).cache() for --epochs epochs.
  jacktf: `python -m jacktf.run --mode train` (run in a process that also keeps the
          times of jacktf's log lines) with resnet50_2cls.gin: resnet_v1_50 from
          an official-format slim checkpoint, FREEZE_SCOPES = ['resnet_v1_50'],
          Trainer.feature_cache = True, the same images, batch and epochs.
No network: Keras' weights=None and a locally written random-init checkpoint under
slim's names (the time does not depend on the weights' values). Whole process: wall
and CPU time of the subprocess, start-up included. Training phase: Keras, around
fit(); jacktf, from the end of the warm start to the end of training (the cache
checks, the feature pass and the head's loop up to its final checkpoint), from the
times of jacktf's own log lines. Prints JSON with both sides' times and the ratios
keras / jacktf, in wall time and in CPU time (the machine may be shared: CPU time
depends less on the other jobs; the load average is in the JSON).
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime

from common import emit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLASSES = ('stripes', 'dots')


def prepare(workdir, images, size):
    """Writes the image folder and the official-format resnet_v1_50 checkpoint."""
    import numpy as np
    from PIL import Image
    import jacktf  # noqa: F401  (legacy Keras for slim, before TensorFlow)
    import tensorflow as tf
    import tf_slim as slim
    from tf_slim.nets import resnet_v1
    from jacktf.data import demo
    rng = np.random.default_rng(0)
    for i in range(images):
        label = i % len(CLASSES)
        folder = os.path.join(workdir, 'images', CLASSES[label])
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(demo.render(rng, size, label)).save(
            os.path.join(folder, f'{i:04d}.jpg'), quality=92)
    with tf.Graph().as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3])
        with slim.arg_scope(resnet_v1.resnet_arg_scope()):
            resnet_v1.resnet_v1_50(inputs, num_classes=1000, is_training=False)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(sess, os.path.join(workdir, 'resnet_v1_50.ckpt'),
                                            write_meta_graph=False)


def run_keras(workdir, epochs, batch, size, precision):
    """Keras 3, the transfer-learning guide's way; prints the fit() time."""
    start = time.time()
    import keras
    import tensorflow as tf
    if precision == 'bfloat16':
        keras.mixed_precision.set_global_policy('mixed_bfloat16')
    ds = keras.utils.image_dataset_from_directory(
        os.path.join(workdir, 'images'), image_size=(size, size), batch_size=batch,
        shuffle=True, seed=0, verbose=False).cache().prefetch(tf.data.AUTOTUNE)
    base = keras.applications.ResNet50(weights=None, include_top=False, pooling='avg',
                                       input_shape=(size, size, 3))
    base.trainable = False
    inputs = keras.Input((size, size, 3))
    x = keras.applications.resnet50.preprocess_input(inputs)
    x = base(x, training=False)
    outputs = keras.layers.Dense(len(CLASSES), dtype='float32')(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])
    fit_start, cpu_start = time.time(), time.process_time()
    history = model.fit(ds, epochs=epochs, verbose=0)
    fit_end, cpu_end = time.time(), time.process_time()
    print('RESULT ' + json.dumps({
        'train_seconds': fit_end - fit_start, 'setup_seconds': fit_start - start,
        'train_cpu_seconds': cpu_end - cpu_start,
        'final_loss': float(history.history['loss'][-1]), 'keras': keras.__version__}))


def run_jacktf(argv):
    """`python -m jacktf.run ARGV`, its log lines kept with their times (RESULT)."""
    import atexit
    import logging
    import runpy
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append([record.created, time.process_time(), record.getMessage()])
            print(f'[jacktf {record.created:.3f}] {record.getMessage()}', flush=True)

    logging.getLogger('jacktf').addHandler(Keep())  # jacktf then adds no handler of its own
    atexit.register(lambda: print('RESULT ' + json.dumps(records), flush=True))
    sys.argv = ['jacktf.run'] + argv
    runpy.run_module('jacktf.run', run_name='__main__', alter_sys=True)


def jacktf_args(workdir, images, epochs, batch, precision):
    steps = epochs * images // batch
    params = [
        f"TRAIN_FILES = '{workdir}/images'", 'EVAL_FILES = None',
        f"CHECKPOINT_PATH = '{workdir}/resnet_v1_50.ckpt'",
        "FREEZE_SCOPES = ['resnet_v1_50']", f'TRAIN_STEPS = {steps}',
        f'BATCH_SIZE = {batch}', 'LEARNING_RATE = 0.01', f"PRECISION = '{precision}'",
        "Experiment.decoder = 'image_folder'", 'Experiment.export_at_end = False',
        'Trainer.lr_multipliers = {}', 'Trainer.lr_schedule = None',
        'Trainer.eval_every_steps = None', f'Trainer.checkpoint_every_steps = {steps}',
        f'Trainer.log_every_steps = {steps}', 'Trainer.feature_cache = True']
    return ['--gin_file', 'resnet50_2cls.gin',
            '--model_dir', os.path.join(workdir, f'model_{time.time_ns()}'),
            '--mode', 'train'] + [f'--gin_param={p}' for p in params]


def jacktf_phases(records):
    """The training phase from a jacktf run's log: from the end of the warm start
    (model built, checkpoint restored) to the end of training (final checkpoint
    written), so it holds the cache checks, the feature pass and the head's loop.

    Returns:
      (wall seconds, CPU seconds, feature-pass seconds, the cache line).
    """
    cache = next(m for _, _, m in records if m.startswith('Feature cache on:'))
    feature_pass = float(re.search(r' in ([\d.]+) s \(', cache).group(1))
    begin = next(r for r in records if r[2].startswith('restore '))
    done = next(r for r in records if r[2].startswith('Done at step'))
    return done[0] - begin[0], done[1] - begin[1], feature_pass, cache


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd, env=None):
    """(wall seconds, CPU seconds, stdout) of a child process."""
    start, cpu = time.time(), _children_cpu()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=3600)
    seconds, cpu = time.time() - start, _children_cpu() - cpu
    if r.returncode:
        raise SystemExit(f'{cmd[:4]} failed:\n{r.stderr[-4000:]}')
    return seconds, cpu, r.stdout


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--images', type=int, default=256)
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--precision', default='float32', choices=('float32', 'bfloat16'))
    parser.add_argument('--workdir')
    parser.add_argument('--child', choices=('prepare', 'keras', 'jacktf'))
    args, rest = parser.parse_known_args(argv)
    if args.child == 'jacktf':
        return run_jacktf(rest)
    if args.child == 'prepare':
        return prepare(args.workdir, args.images, args.size)
    if args.child == 'keras':
        return run_keras(args.workdir, args.epochs, args.batch, args.size, args.precision)
    workdir = args.workdir or tempfile.mkdtemp(prefix='jacktf-bench-cache-')
    me = [sys.executable, os.path.abspath(__file__), '--workdir', workdir,
          '--images', str(args.images), '--epochs', str(args.epochs),
          '--batch', str(args.batch), '--size', str(args.size),
          '--precision', args.precision]
    if not os.path.exists(os.path.join(workdir, 'resnet_v1_50.ckpt.index')):
        timed(me + ['--child', 'prepare'])
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    load_before = os.getloadavg()[0]
    keras_total, keras_cpu, out = timed(me + ['--child', 'keras'])
    keras = json.loads(next(l for l in out.splitlines() if l.startswith('RESULT '))[7:])
    load_between = os.getloadavg()[0]
    jacktf_total, jacktf_cpu, out = timed(me + ['--child', 'jacktf'] + jacktf_args(
        workdir, args.images, args.epochs, args.batch, args.precision), env)
    records = json.loads(next(l for l in out.splitlines() if l.startswith('RESULT '))[7:])
    jacktf_train, jacktf_train_cpu, feature_pass, cache_line = jacktf_phases(records)
    return emit({
        'benchmark': 'feature_cache', 'model': 'resnet_v1_50 (jacktf) / ResNet50 (Keras)',
        'image_size': args.size, 'images': args.images, 'epochs': args.epochs,
        'batch': args.batch, 'precision': args.precision,
        'weights': 'random init on both sides (Keras weights=None; jacktf an '
                   'official-format slim checkpoint written locally): no network; the '
                   'time does not depend on the values',
        'keras': {'process_seconds': round(keras_total, 1),
                  'process_cpu_seconds': round(keras_cpu, 1),
                  'train_seconds': round(keras['train_seconds'], 1),
                  'train_cpu_seconds': round(keras['train_cpu_seconds'], 1),
                  'setup_seconds': round(keras['setup_seconds'], 1),
                  'final_loss': round(keras['final_loss'], 4), 'version': keras['keras']},
        'jacktf': {'process_seconds': round(jacktf_total, 1),
                   'process_cpu_seconds': round(jacktf_cpu, 1),
                   'train_seconds': round(jacktf_train, 1),
                   'train_cpu_seconds': round(jacktf_train_cpu, 1),
                   'feature_pass_seconds': feature_pass,
                   'cache_line': cache_line},
        'ratio_process_keras_vs_jacktf': round(keras_total / jacktf_total, 2),
        'ratio_train_keras_vs_jacktf': round(keras['train_seconds'] / jacktf_train, 2),
        # CPU seconds (all threads) depend far less on what else runs on the machine.
        'ratio_process_cpu_keras_vs_jacktf': round(keras_cpu / jacktf_cpu, 2),
        'ratio_train_cpu_keras_vs_jacktf': round(
            keras['train_cpu_seconds'] / jacktf_train_cpu, 2),
        'targets': {'process': 5.0, 'train': 10.0},
        'load_average_1min': {'before_keras': round(load_before, 2),
                              'before_jacktf': round(load_between, 2),
                              'after': round(os.getloadavg()[0], 2)},
        'cpus': os.cpu_count(), 'measured_at': datetime.utcnow().isoformat(timespec='seconds'),
    })


if __name__ == '__main__':
    main(sys.argv[1:])
