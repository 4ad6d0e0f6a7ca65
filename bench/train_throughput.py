"""ResNet-50 v1 training throughput at 224, batch 16: jacktf's loop vs Keras model.fit.

Usage: python bench/train_throughput.py [--steps 8] [--warmup 3] [--batch 16]
Each configuration runs in its own process, one at a time, on the same machine:
  jacktf_float32 / jacktf_bfloat16: jacktf's loop reading demo JPEG TFRecords at 224
  jacktf_float32_synthetic: the same loop on an in-memory batch (no input cost)
  keras_float32 / keras_mixed_bfloat16: keras.applications.ResNet50 + model.fit on the
    same records through the same input pipeline.
Prints JSON: images/s and peak RSS per configuration, and the ratios.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from common import emit, peak_rss_mb

CONFIGS = ('jacktf_float32', 'jacktf_bfloat16', 'jacktf_float32_synthetic',
           'keras_float32', 'keras_mixed_bfloat16')


def _pipeline(model, batch):
    from jacktf.data import pipeline
    decode = model.registry.get('decoder', 'tfexample_classification').factory()
    return pipeline.read_dataset(
        'demo://train?size=224', decode_fn=decode, batch_size=batch, is_training=True,
        preprocess_fn=lambda image, t, seed: model.preprocess(image, t, seed))


def run_jacktf(config, steps, warmup, batch):
    import tensorflow as tf
    from jacktf.core import plugins
    from jacktf.train import strategy
    from jacktf.core.model import Model
    from jacktf.train.trainer import Trainer
    from jacktf.optim.optimizers import momentum
    registry = plugins.set_default_registry(plugins.load_registry(autoload=False))
    strategy.configure_precision('bfloat16' if 'bfloat16' in config else 'float32')
    model = Model(backbone='resnet_v1_50', num_classes=2, registry=registry).build()
    trainer = Trainer(train_steps=1, optimizer=momentum, learning_rate=0.01)
    variables, _ = trainer.split_variables(model)
    step = trainer.make_train_step(model, momentum(0.01), variables, batch,
                                   tf.distribute.get_strategy())
    if config.endswith('synthetic'):
        ds = tf.data.Dataset.from_tensors((tf.random.uniform([batch, 224, 224, 3], -1, 1),
                                           tf.zeros([batch], tf.int32))).repeat()
    else:
        ds = _pipeline(model, batch)
    iterator = iter(ds)
    for _ in range(warmup):
        float(step(iterator)[0])
    start = time.perf_counter()
    for _ in range(steps):
        float(step(iterator)[0])
    return steps * batch / (time.perf_counter() - start)


def run_keras(config, steps, warmup, batch):
    import tensorflow as tf
    from jacktf.core import plugins
    from jacktf.core.model import Model
    registry = plugins.set_default_registry(plugins.load_registry(autoload=False))
    if 'bfloat16' in config:
        tf.keras.mixed_precision.set_global_policy('mixed_bfloat16')
    # The same records and preprocessing as jacktf's resnet_v1_50 (vgg, 224).
    ds = _pipeline(Model(backbone='resnet_v1_50', num_classes=2, registry=registry), batch)
    net = tf.keras.applications.ResNet50(weights=None, classes=2, input_shape=(224, 224, 3),
                                         classifier_activation=None)
    net.compile(optimizer=tf.keras.optimizers.SGD(0.01, momentum=0.9),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Timer(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch_index, logs=None):
            if batch_index == warmup - 1:
                self.start = time.perf_counter()
            self.end = time.perf_counter()

    timer = Timer()
    net.fit(ds, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[timer])
    return steps * batch / (timer.end - timer.start)


def child(config, steps, warmup, batch):
    import jacktf  # noqa: F401  (legacy Keras for slim, before TensorFlow)
    fn = run_keras if config.startswith('keras') else run_jacktf
    rate = fn(config, steps, warmup, batch)
    print('RESULT ' + json.dumps({'config': config, 'images_per_second': round(rate, 2),
                                  'peak_rss_mb': round(peak_rss_mb(), 1)}))


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--child')
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.steps, args.warmup, args.batch)
    results = {}
    for config in CONFIGS:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), '--child', config,
                            '--steps', str(args.steps), '--warmup', str(args.warmup),
                            '--batch', str(args.batch)], capture_output=True, text=True)
        line = [l for l in r.stdout.splitlines() if l.startswith('RESULT ')]
        if r.returncode or not line:
            raise SystemExit(f'{config} failed:\n{r.stderr[-3000:]}')
        results[config] = json.loads(line[0][7:])
    ips = {k: v['images_per_second'] for k, v in results.items()}
    return emit({
        'benchmark': 'train_throughput', 'model': 'resnet_v1_50', 'image_size': 224,
        'batch': args.batch, 'timed_steps': args.steps, 'warmup_steps': args.warmup,
        'results': results,
        'ratio_jacktf_fp32_vs_keras_fp32': round(ips['jacktf_float32'] / ips['keras_float32'], 2),
        'ratio_jacktf_bf16_vs_keras_fp32': round(ips['jacktf_bfloat16'] / ips['keras_float32'], 2),
        'ratio_jacktf_bf16_vs_keras_bf16': round(
            ips['jacktf_bfloat16'] / ips['keras_mixed_bfloat16'], 2),
        'ratio_jacktf_real_vs_synthetic_input': round(
            ips['jacktf_float32'] / ips['jacktf_float32_synthetic'], 2),
    })


if __name__ == '__main__':
    main(sys.argv[1:])
