"""A training run whose input stalls or is slow, for the signal tests (run as a script).

`python tests/stall_run.py MODEL_DIR [--stall_after N] [--eval_delay S] [--train_steps T]
[--eval_every E]` trains resnet_v1_tiny on tiny in-memory JPEGs through a 'stalling'
decoder: after N training records its reads block for good (like a hung network file
system: the main thread then waits inside TensorFlow), and each evaluation record takes
S seconds.
"""

import argparse
import itertools
import os
import sys
import tempfile
import time

import jacktf  # noqa: F401  (before tensorflow)
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data_factory import jpeg_bytes, random_image  # noqa: E402
from jacktf.core import plugins  # noqa: E402
from jacktf.app import runtime  # noqa: E402
from jacktf.app.experiment import Experiment  # noqa: E402
from jacktf.core.model import Model  # noqa: E402
from jacktf.train.trainer import Trainer  # noqa: E402
from jacktf.optim.optimizers import sgd  # noqa: E402

EVAL = 1_000_000  # record numbers from here on are evaluation records


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('model_dir')
    parser.add_argument('--stall_after', type=int, default=0, help='0: never')
    parser.add_argument('--eval_delay', type=float, default=0.0)
    parser.add_argument('--train_steps', type=int, default=100_000)
    parser.add_argument('--eval_every', type=int, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    images = [jpeg_bytes(random_image(rng, 32, 32)) for _ in range(8)]
    reads = itertools.count(1)

    def read(number):
        number = int(number)
        if number >= EVAL:
            time.sleep(args.eval_delay)
        else:
            mine = next(reads)  # atomic: reads run in parallel threads
            while args.stall_after and mine > args.stall_after:
                time.sleep(1)
        return images[number % 8]

    def stalling():
        def source(files):
            offset = EVAL if os.path.basename(files[0]) == 'eval' else 0
            # the label rides in the record, so counting the examples reads no image
            return tf.data.Dataset.range(offset, offset + 200).map(
                lambda i: (tf.constant('memory'), i,
                           {'number': i, 'label': tf.cast(i % 2, tf.int32)}))

        def decode(record):
            encoded = tf.py_function(read, [record['number']], tf.string)
            encoded.set_shape([])
            return {'encoded': encoded, 'label': record['label']}

        decode.source = source
        return decode

    runtime.setup_logging()
    registry = plugins.load_registry(autoload=False)
    registry.decoder('stalling', stalling)
    data = tempfile.mkdtemp()
    for split in ('train', 'eval'):
        os.makedirs(os.path.join(data, split))
    model = Model(backbone='resnet_v1_tiny', num_classes=2, image_size=32,
                  preprocessing='simple', registry=registry)
    trainer = Trainer(train_steps=args.train_steps, optimizer=sgd, learning_rate=0.01,
                      log_every_steps=1, checkpoint_every_steps=1000,
                      eval_every_steps=args.eval_every)
    experiment = Experiment(
        model_dir=args.model_dir, model=model, trainer=trainer,
        train_files=os.path.join(data, 'train'),
        eval_files=os.path.join(data, 'eval') if args.eval_every else None,
        decoder='stalling', batch_size=2, shuffle_buffer=0, export_at_end=False,
        # the decoded cache shuffles whole epochs, so its first batch waits for the
        # whole first epoch: a stall after N reads would then come before step 1
        cache_budget_mb=0)
    with runtime.user_errors():
        print('summary:', experiment.run('train_and_eval'), flush=True)


if __name__ == '__main__':
    main()
