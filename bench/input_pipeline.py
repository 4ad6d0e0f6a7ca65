"""Input pipeline throughput at 224x224 vs what a ResNet-50 v1 train step consumes.

Usage: python bench/input_pipeline.py [--batch 32] [--seconds 15]
Reads the demo JPEG TFRecords at 224 (written on first use) through the real pipeline
(checks, decode, preprocessing) for the vgg and inception preprocessors, then times a
ResNet-50 v1 train step on in-memory batches in the same process. Prints JSON with
images/s and the ratio pipeline / train step (>= 1 means the step never waits).
"""

import argparse
import sys

from common import emit, rate

import jacktf
import tensorflow as tf
from jacktf.core import plugins
from jacktf.core.model import Model
from jacktf.train.trainer import Trainer
from jacktf.data import pipeline
from jacktf.optim.optimizers import momentum


def pipeline_rate(registry, name, batch, seconds):
    fn = registry.get('preprocessor', name).factory
    ds = pipeline.read_dataset(
        'demo://train?size=224', decode_fn=registry.get(
            'decoder', 'tfexample_classification').factory(),
        preprocess_fn=lambda image, t, seed: fn(image, image_size=224, is_training=t,
                                                seed=seed),
        batch_size=batch, is_training=True)
    iterator = iter(ds)
    return rate(lambda: next(iterator), batch, warmup=5, min_seconds=seconds)


def train_step_rate(registry, batch, seconds):
    model = Model(backbone='resnet_v1_50', num_classes=2, registry=registry).build()
    trainer = Trainer(train_steps=1, optimizer=momentum, learning_rate=0.01)
    variables, _ = trainer.split_variables(model)
    step = trainer.make_train_step(model, momentum(0.01), variables, batch,
                                   tf.distribute.get_strategy())
    data = tf.data.Dataset.from_tensors((tf.random.uniform([batch, 224, 224, 3], -1, 1),
                                         tf.zeros([batch], tf.int32))).repeat()
    iterator = iter(data)
    return rate(lambda: step(iterator), batch, warmup=2, min_seconds=seconds)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--seconds', type=float, default=15)
    args = parser.parse_args(argv)
    registry = plugins.set_default_registry(plugins.load_registry(autoload=False))
    result = {'benchmark': 'input_pipeline', 'image_size': 224, 'batch': args.batch,
              'tensorflow': tf.__version__}
    step = train_step_rate(registry, args.batch, args.seconds)
    result['resnet_v1_50_train_step_images_per_second'] = round(step, 1)
    for name in ('vgg', 'inception'):
        images = pipeline_rate(registry, name, args.batch, args.seconds)
        result[f'pipeline_{name}_images_per_second'] = round(images, 1)
        result[f'ratio_{name}_pipeline_to_train_step'] = round(images / step, 2)
    return emit(result)


if __name__ == '__main__':
    main(sys.argv[1:])
