"""Where a training step's time goes: compute vs input, against the machine's roofline
and against Keras, all measured in one process, interleaved (A B A B).

Usage: python bench/speed_breakdown.py [--models mobilenet_v1,mobilenet_v2,resnet_v1_50]
          [--batch 32] [--steps 3] [--rounds 2] [--images 256] [--out FILE.json]

Sections of the JSON:
  machine: CPU model and bfloat16 flags, cores, TensorFlow, load (uptime) before/after.
  roofline: float32 and bfloat16 matmul GFLOP/s (2048 x 2048), the machine's ceiling.
  compute: per model, the train step on in-memory tensors (no input cost), jacktf in
    float32 and bfloat16 and Keras (keras.applications, same batch, SGD momentum) in
    float32 and mixed_bfloat16: images/s, the step's FLOPs per image (TensorFlow's
    profiler on the forward graph, x3 for forward + backward), the fraction of the
    float32 roofline, and the jacktf / Keras ratios.
  input: the input path alone on a folder of photo-sized JPEGs (made from the real
    photos of the fixtures), at 224, inception_finetune: whole-image decode (before),
    crop-window decode, and the decoded cache; Keras image_dataset_from_directory;
    each as images/s and as a multiple of the MobileNet v2 float32 step rate.
  main_job: MobileNet v2 at 224 from the folder, every layer training, jacktf (its
    pipeline with the decoded cache) vs Keras (image_dataset_from_directory + fit).
  jit_compile: the MobileNet v2 step with XLA vs without.
Every rate is the median of ``--rounds`` interleaved measurements.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

from common import emit, peak_rss_mb

import jacktf  # noqa: F401  (legacy Keras for slim, before TensorFlow)
import numpy as np
import tensorflow as tf
from jacktf.core import plugins
from jacktf.core.model import Model
from jacktf.data import augment, decoders, fast_input, pipeline
from jacktf.optim.optimizers import momentum
from jacktf.train import strategy as strategy_lib
from jacktf.train.trainer import Trainer

KERAS = {'mobilenet_v1': lambda: tf.keras.applications.MobileNet,
         'mobilenet_v2': lambda: tf.keras.applications.MobileNetV2,
         'resnet_v1_50': lambda: tf.keras.applications.ResNet50}
FIXTURES = os.environ.get('JACKTF_REAL_FIXTURES', '/work/shared/fixtures/real')


def machine():
    text = open('/proc/cpuinfo').read()
    name = next((line.split(':', 1)[1].strip() for line in text.splitlines()
                 if line.startswith('model name')), platform.processor())
    flags = sorted({f for f in text.split() if f in ('avx512_bf16', 'amx_bf16',
                                                     'avx512f', 'avx2', 'amx_tile')})
    return {'cpu': name, 'cpu_flags': flags, 'cores': os.cpu_count(),
            'tensorflow': tf.__version__, 'load_before': os.getloadavg()}


def timed(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start


def interleaved(fns, rounds):
    """{name: median seconds} of fns {name: (callable, calls, items)} run A B A B."""
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, (fn, calls, items) in fns.items():
            times[name].append(items * calls / timed(fn, calls))
    return {name: round(statistics.median(r), 2) for name, r in times.items()}


def roofline(rounds):
    n = 2048
    out = {}
    for dtype in (tf.float32, tf.bfloat16):
        a = tf.random.uniform([n, n], dtype=tf.float32)
        a = tf.cast(a, dtype)
        mm = tf.function(lambda x: tf.reduce_sum(tf.cast(tf.matmul(x, x), tf.float32)))
        float(mm(a))
        out[dtype.name] = (lambda mm=mm, a=a: float(mm(a)), 4, 2 * n ** 3 / 1e9)
    rates = interleaved(out, rounds)
    return {f'{k}_gflops': v for k, v in rates.items()}


def forward_flops(model, batch):
    """FLOPs per image of the forward pass (TensorFlow's profiler)."""
    fn = tf.function(lambda x: model.predict(x, training=True)['logits'])
    graph = fn.get_concrete_function(
        tf.TensorSpec([batch, model.image_size, model.image_size, 3])).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts['output'] = 'none'
    return tf.compat.v1.profiler.profile(graph, options=opts).total_float_ops / batch


def jacktf_step(registry, backbone, batch, size, precision, jit=False, data=None):
    strategy_lib.configure_precision(precision)
    model = Model(backbone=backbone, num_classes=2, image_size=size,
                  registry=registry).build()
    trainer = Trainer(train_steps=1, optimizer=momentum, learning_rate=0.01,
                      jit_compile=jit)
    variables, _ = trainer.split_variables(model)
    step = trainer.make_train_step(model, momentum(0.01), variables, batch,
                                   tf.distribute.get_strategy())
    if data is None:
        data = tf.data.Dataset.from_tensors((
            tf.random.uniform([batch, size, size, 3], -1, 1),
            tf.zeros([batch], tf.int32))).repeat()
    iterator = iter(data)
    float(step(iterator)[0])  # traced and optimized under ``precision``
    float(step(iterator)[0])
    strategy_lib.configure_precision('float32')
    return model, (lambda: float(step(iterator)[0]))


def keras_step(name, batch, size, policy, data=None):
    tf.keras.mixed_precision.set_global_policy(policy)
    net = KERAS[name]()(weights=None, classes=2, input_shape=(size, size, 3),
                        classifier_activation=None)
    tf.keras.mixed_precision.set_global_policy('float32')
    net.compile(optimizer=tf.keras.optimizers.SGD(0.01, momentum=0.9),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    if data is None:
        data = tf.data.Dataset.from_tensors((
            tf.random.uniform([batch, size, size, 3], -1, 1),
            tf.zeros([batch], tf.int32))).repeat()
    iterator = iter(data)
    train = net.make_train_function()
    for _ in range(2):
        float(train(iterator)['loss'])
    return lambda: float(train(iterator)['loss'])


def compute(registry, name, batch, steps, rounds, roof):
    size = 224
    model, f32 = jacktf_step(registry, name, batch, size, 'float32')
    _, bf16 = jacktf_step(registry, name, batch, size, 'bfloat16')
    fns = {'jacktf_float32': (f32, steps, batch), 'jacktf_bfloat16': (bf16, steps, batch),
           'keras_float32': (keras_step(name, batch, size, 'float32'), steps, batch),
           'keras_mixed_bfloat16': (keras_step(name, batch, size, 'mixed_bfloat16'),
                                    steps, batch)}
    rates = interleaved(fns, rounds)
    flops = 3 * forward_flops(model, batch)
    out = {'images_per_second': rates, 'train_gflop_per_image': round(flops / 1e9, 3)}
    out['roofline_fraction_float32'] = round(
        rates['jacktf_float32'] * flops / 1e9 / roof['float32_gflops'], 3)
    out['roofline_fraction_bfloat16_vs_bf16_matmul'] = round(
        rates['jacktf_bfloat16'] * flops / 1e9 / roof['bfloat16_gflops'], 3)
    out['ratio_jacktf_fp32_vs_keras_fp32'] = round(
        rates['jacktf_float32'] / rates['keras_float32'], 2)
    out['ratio_jacktf_bf16_vs_keras_fp32'] = round(
        rates['jacktf_bfloat16'] / rates['keras_float32'], 2)
    out['ratio_jacktf_bf16_vs_fp32'] = round(
        rates['jacktf_bfloat16'] / rates['jacktf_float32'], 2)
    return out


def photo_folder(root, count, seed=0):
    """``count`` photo-sized JPEGs (about 640 x 480, quality 90, 4:2:0) in two class
    folders: random crops of the fixtures' real photos, each resized and flipped."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    photos = [Image.open(os.path.join(FIXTURES, f)).convert('RGB')
              for f in ('hot_dog.jpg', 'parrot.jpg', 'chelsea.png', 'coffee.png')]
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        cw, ch = int(w * rng.uniform(0.6, 1)), int(h * rng.uniform(0.6, 1))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        out = photo.crop((x, y, x + cw, y + ch))
        side = int(rng.integers(400, 560))
        out = out.resize((int(side * 4 / 3), side) if rng.random() < 0.7 else
                         (side, int(side * 4 / 3)))
        folder = os.path.join(root, 'class_%d' % (i % 2))
        os.makedirs(folder, exist_ok=True)
        out.save(os.path.join(folder, f'{i:05d}.jpg'), quality=90)
    return root


def jacktf_input(registry, folder, batch, mode, count):
    model = Model(backbone='mobilenet_v2', num_classes=2, registry=registry)
    model.set_preprocessing('inception_finetune')
    preprocess = augment.preprocess_fn(model, ())
    if mode == 'whole_decode':  # the pipeline before: decode everything, then crop
        def preprocess(image, training, seed, fn=preprocess):
            return fn(image, training, seed)
    side = fast_input.cache_plan(count, 224)[0] if mode == 'cached' else None
    ds = pipeline.read_dataset(folder, decode_fn=decoders.image_folder(),
                               preprocess_fn=preprocess, batch_size=batch,
                               is_training=True, num_classes=2, cache_side=side, seed=1)
    return ds, side


def keras_input(folder, batch):
    ds = tf.keras.utils.image_dataset_from_directory(
        folder, image_size=(224, 224), batch_size=batch, shuffle=True, seed=1)
    pre = tf.keras.applications.mobilenet_v2.preprocess_input
    return ds.map(lambda x, y: (pre(x), y), num_parallel_calls=tf.data.AUTOTUNE) \
        .repeat().prefetch(tf.data.AUTOTUNE)


def input_path(registry, folder, batch, count, rounds, step_rate):
    fns = {}
    for mode in ('whole_decode', 'crop_window_decode', 'cached'):
        ds, side = jacktf_input(registry, folder, batch, mode, count)
        it = iter(ds)
        for _ in range(count // batch + 2):  # one epoch: the cache is filled
            next(it)
        fns[f'jacktf_{mode}'] = (lambda it=it: next(it), count // batch, batch)
    it = iter(keras_input(folder, batch))
    for _ in range(count // batch + 2):
        next(it)
    fns['keras_image_dataset_from_directory'] = (lambda: next(it), count // batch, batch)
    rates = interleaved(fns, rounds)
    return {'images_per_second': rates, 'cached_shorter_side': side,
            'times_mobilenet_v2_float32_step_rate': {
                k: round(v / step_rate, 2) for k, v in rates.items()}}


def main_job(registry, folder, batch, count, steps, rounds):
    ds, side = jacktf_input(registry, folder, batch, 'cached', count)
    fns = {}
    for precision in ('float32', 'bfloat16'):
        _, step = jacktf_step(registry, 'mobilenet_v2', batch, 224, precision, data=ds)
        fns[f'jacktf_{precision}'] = (step, steps, batch)
    for policy in ('float32', 'mixed_bfloat16'):
        fns[f'keras_{policy}'] = (keras_step('mobilenet_v2', batch, 224, policy,
                                             data=keras_input(folder, batch)), steps, batch)
    rates = interleaved(fns, rounds)
    return {'images_per_second': rates, 'cached_shorter_side': side,
            'ratio_jacktf_fp32_vs_keras_fp32': round(
                rates['jacktf_float32'] / rates['keras_float32'], 2),
            'ratio_jacktf_bf16_vs_keras_fp32': round(
                rates['jacktf_bfloat16'] / rates['keras_float32'], 2),
            'ratio_jacktf_bf16_vs_keras_bf16': round(
                rates['jacktf_bfloat16'] / rates['keras_mixed_bfloat16'], 2)}


def jit(registry, batch, steps, rounds):
    _, plain = jacktf_step(registry, 'mobilenet_v2', batch, 224, 'float32')
    _, xla = jacktf_step(registry, 'mobilenet_v2', batch, 224, 'float32', jit=True)
    rates = interleaved({'float32': (plain, steps, batch),
                         'float32_jit_compile': (xla, steps, batch)}, rounds)
    return {'images_per_second': rates,
            'ratio_jit_vs_plain': round(rates['float32_jit_compile'] / rates['float32'], 2)}


def _save(result, path):
    if path:  # after every section, so an interrupted run keeps what it measured
        with open(path, 'w') as f:
            json.dump(result, f, indent=2)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--models', default='mobilenet_v1,mobilenet_v2,resnet_v1_50')
    parser.add_argument('--sections', default='compute,input,main_job,jit_compile')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--images', type=int, default=256)
    parser.add_argument('--out')
    args = parser.parse_args(argv)
    sections = args.sections.split(',')
    registry = plugins.set_default_registry(plugins.load_registry(autoload=False))
    result = {'benchmark': 'speed_breakdown', 'image_size': 224, 'batch': args.batch,
              'timed_steps': args.steps, 'rounds': args.rounds, 'machine': machine()}
    result['roofline'] = roof = roofline(args.rounds)
    if 'compute' in sections:
        result['compute'] = {m: compute(registry, m, args.batch, args.steps, args.rounds,
                                        roof) for m in args.models.split(',')}
        _save(result, args.out)
    folder = photo_folder(tempfile.mkdtemp(prefix='speed_photos_'), args.images)
    if 'input' in sections:
        step_rate = result.get('compute', {}).get('mobilenet_v2', {}).get(
            'images_per_second', {}).get('jacktf_float32')
        if step_rate is None:
            _, step = jacktf_step(registry, 'mobilenet_v2', args.batch, 224, 'float32')
            step_rate = interleaved({'s': (step, args.steps, args.batch)}, 1)['s']
        result['input'] = input_path(registry, folder, args.batch, args.images,
                                     args.rounds, step_rate)
        _save(result, args.out)
    if 'main_job' in sections:
        result['main_job'] = main_job(registry, folder, args.batch, args.images,
                                      args.steps, args.rounds)
        _save(result, args.out)
    if 'jit_compile' in sections:
        result['jit_compile'] = jit(registry, args.batch, args.steps, args.rounds)
    result['machine']['load_after'] = os.getloadavg()
    result['peak_rss_mb'] = round(peak_rss_mb(), 1)
    _save(result, args.out)
    return emit(result)


if __name__ == '__main__':
    main(sys.argv[1:])
