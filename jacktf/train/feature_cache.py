"""The feature cache: a frozen backbone at the cost of one forward pass.

When nothing below the head trains (every backbone variable frozen, every backbone
batch norm in inference mode, no dropout in the backbone) and the training input is
deterministic per example (no augmentation), the backbone computes the same features
for an example at every epoch. The run then computes them once, in one pass over
TRAIN_FILES in file order, stores them under MODEL_DIR/feature_cache/<key>/ (for a
remote MODEL_DIR in a private folder of the user, ~/.cache/jacktf/feature_cache/, 0700;
never a predictable shared /tmp path) and trains the head alone on them: from
memory when they fit in ``Trainer.feature_cache_memory_mb``, else from the file.

The key is a digest of the data files (names, sizes, modification times), the decoder,
the preprocessing, the backbone, its options and its weights: a resumed run reuses the
features and a changed dataset or backbone computes new ones (older entries are
removed). The example order is a stateless function of the run seed and the step
(each epoch a fresh permutation, ``tf.random.experimental.index_shuffle``), so a
resumed run continues with the batches the uninterrupted run would have read.

``Trainer.feature_cache``: 'auto' engages when all of the above holds; True also with
augmentation (the head then trains on the eval-mode preprocessing of each image, and
the backbone runs in inference mode); False never. The run says in one line whether the
cache engaged, and why not when it was asked for (True) or only augmentation stood in
the way. Eval, checkpoints and export see the whole network as always.
"""

import json
import logging
import os
import time

import numpy as np
import tensorflow as tf

from jacktf.core import fs_safety
from jacktf.train import feature_cache_rules as rules, feature_store
# Re-exported: where callers and tests find them.
from jacktf.train.feature_store import (  # noqa: F401
    DIRNAME, FEATURE_PASS_BATCH, cache_key, cache_root)

log = logging.getLogger('jacktf')


class FeatureCache:
    """Features of every training example, and the input and forward of the head step.

    Build with :func:`prepare`. ``iterator`` yields what ``forward`` takes: a batch of
    example indexes (features in memory) or of features (from the file), with labels.
    """

    def __init__(self, *, path, examples, computed, seconds, memory_budget_mb):
        self.path = path
        with open(os.path.join(path, 'meta.json')) as f:
            self.meta = json.load(f)
        self.examples = examples
        self.computed = computed  # examples the backbone ran on in this process
        self.seconds = seconds
        shape = [self.examples] + self.meta['feature_shape']
        self.nbytes = int(np.prod(shape)) * 4
        self.features_file = np.memmap(os.path.join(path, 'features.f32'), np.float32,
                                       'r', shape=tuple(shape))
        self.labels = np.fromfile(os.path.join(path, 'labels.i32'), np.int32)
        self.in_memory = self.nbytes <= memory_budget_mb * 2 ** 20
        self.features = tf.constant(np.asarray(self.features_file)) if self.in_memory \
            else None
        with tf.init_scope():
            self.lookups = tf.Variable(0, dtype=tf.int64, trainable=False,
                                       name='feature_cache_lookups')

    def dataset(self, batch_size, seed, start_batch):
        """Batches of (indexes or features, labels) from batch number ``start_batch``
        on: each epoch a permutation that depends on (seed, epoch) only."""
        n = self.examples
        seed = int(seed)

        def index(position):
            return tf.random.experimental.index_shuffle(
                position % n, tf.stack([tf.constant(seed, tf.int64), position // n]),
                tf.constant(n - 1, tf.int64))

        ds = tf.data.Dataset.range(start_batch * batch_size, 2 ** 62)
        ds = ds.map(index).batch(batch_size, drop_remainder=True)
        labels = tf.constant(self.labels)
        if self.in_memory:
            ds = ds.map(lambda idx: (idx, tf.gather(labels, idx)))
        else:
            table, shape = self.features_file, self.meta['feature_shape']

            def read(idx):
                rows = tf.numpy_function(lambda i: np.asarray(table[np.sort(i)][
                    np.argsort(np.argsort(i))]), [idx], tf.float32)
                return tf.reshape(rows, [batch_size] + shape), tf.gather(labels, idx)
            ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def forward(self, model):
        """forward(inputs, seed) for jacktf.train.step: the head on cached features."""
        dtype = tf.as_dtype(self.meta['dtype'])

        def run(inputs, seed):
            self.lookups.assign_add(tf.cast(tf.shape(inputs)[0], tf.int64))
            features = tf.gather(self.features, inputs) if self.in_memory else inputs
            logits = model.network.head_logits(tf.cast(features, dtype), training=True,
                                               seed=seed)
            return {'logits': logits}
        return run

    def stats(self):
        """Counters: examples, backbone passes in this process, lookups, cache hits."""
        lookups = int(self.lookups.numpy())
        return {'examples': self.examples, 'backbone_examples': self.computed,
                'lookups': lookups, 'cache_hits': lookups - self.computed,
                'feature_pass_seconds': round(self.seconds, 2),
                'storage': 'memory' if self.in_memory else 'file', 'path': self.path}


def prepare(controller):
    """Decides whether this run trains its head on cached features; builds the cache.

    Logs one line when the cache engaged, and why not when Trainer.feature_cache is True
    or only augmentation (or dropout in the backbone) stood in the way under 'auto'.

    Returns:
      A FeatureCache, or None (train as usual).
    """
    trainer, model, exp = controller.trainer, controller.model, controller.inputs
    if trainer.feature_cache is False or controller.start_step >= trainer.train_steps:
        return None  # off, or nothing left to train
    decided = _deterministic_parts(controller)
    if decided is None:
        return None
    input_training, backbone_training = decided
    root = cache_root(controller.model_dir)
    key = cache_key(exp, model, input_training, backbone_training)
    path = os.path.join(root, key)
    counter = tf.Variable(0, dtype=tf.int64, trainable=False)
    start = time.time()
    reused = tf.io.gfile.exists(os.path.join(path, 'meta.json'))
    if reused:
        with open(os.path.join(path, 'meta.json')) as f:
            n = json.load(f)['examples']
    else:
        n = feature_store.compute(exp, model, input_training, backbone_training, path,
                                  counter)
        for old in tf.io.gfile.listdir(root):  # stale entries of other data or weights
            old = os.path.join(root, old.rstrip('/'))
            if old != path and '.tmp-' not in old:
                fs_safety.remove_tree(old, root)
    cache = FeatureCache(path=path, examples=n, computed=int(counter.numpy()),
                         seconds=time.time() - start,
                         memory_budget_mb=trainer.feature_cache_memory_mb)
    source = f'read the features of {n} examples from {path}' if reused else \
        f'ran {model.backbone_name} once on each of {n} examples in ' \
        f'{cache.seconds:.1f} s ({path})'
    notes = [note for note, deterministic in (('augmentation off', input_training),
                                              ('backbone dropout off', backbone_training))
             if not deterministic]
    log.info('Feature cache on: nothing below the head trains; %s; the head trains on '
             'the cached features (%.1f MB, from %s%s).', source, cache.nbytes / 2 ** 20,
             'memory' if cache.in_memory else 'the file',
             ''.join(f', {note}' for note in notes))
    return cache


def _deterministic_parts(controller):
    """(input_training, backbone_training) the feature pass runs with, or None when
    the cache does not engage (logged when it was asked for, or under 'auto' when only
    augmentation or dropout stood in the way)."""
    model, exp, mode = controller.model, controller.inputs, controller.trainer.feature_cache
    blocker = rules.blocker(controller)
    if blocker:
        if mode is True:
            log.warning('Feature cache off (Trainer.feature_cache = True): %s.', blocker)
        return None
    augmentations = [getattr(a, "name", type(a).__name__) for a in exp.augmentations]
    input_training = rules.input_is_deterministic(model) and not augmentations
    backbone_training = rules.backbone_is_deterministic(model)
    random = [why for why, deterministic in (
        (f'Experiment.augmentations ({", ".join(augmentations)}) change training images'
         if augmentations else f'the {model.preprocessing} preprocessing augments '
         'training images (Model.train_augmentation = False turns that off)',
         input_training), (f'{model.backbone_name} has dropout', backbone_training))
        if not deterministic]
    if mode == 'auto' and random:
        log.info('Feature cache off: nothing below the head trains, but %s; '
                 'Trainer.feature_cache = True turns that off and trains the head on '
                 'cached features, one backbone pass in all.', ' and '.join(random))
        return None
    return input_training, backbone_training
