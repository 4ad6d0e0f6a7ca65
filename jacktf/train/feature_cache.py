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

import hashlib
import json
import logging
import os
import time

import numpy as np
import tensorflow as tf

from jacktf.core import fs_safety, scopes
from jacktf.data import pipeline, split_file

log = logging.getLogger('jacktf')
DIRNAME = 'feature_cache'
FEATURE_PASS_BATCH = 64


def _probe_image():
    """A fixed, textured, non-square uint8 image (random crops and flips change it)."""
    rng = np.random.default_rng(1234)
    return tf.constant(rng.integers(0, 256, [61, 83, 3], dtype=np.uint8))


def _same(tensors):
    return all(np.allclose(tensors[0], t, rtol=0, atol=1e-6) for t in tensors[1:])


def _input_is_deterministic(model):
    """True when the training preprocessing gives one image for every seed."""
    image = _probe_image()
    seeds = ([1, 2], [3, 4], [5, 6])
    outs = [model.preprocess(image, True, tf.constant(s, tf.int64)).numpy() for s in seeds]
    return _same(outs)


def _blocker(controller):
    """Why the backbone is not frozen for the whole run (None when it is)."""
    model, trainer = controller.model, controller.trainer
    root = model.card.scope
    if model.native:
        return ("the 'native' head is the backbone's own logits layer (a separate head, "
                "e.g. Model.head = @logits, can use the cache)")
    if trainer.stages:
        return 'Trainer.stages change what trains during the run'
    if controller.inputs.sampling:
        return ("Experiment.sampling = 'balanced' resamples the records each epoch (the "
                "cache reads each example once per epoch: use Trainer.class_weight = "
                "'balanced' with it)")
    if controller.strategy.num_replicas_in_sync > 1:
        return 'it runs on one device (this run has ' \
               f'{controller.strategy.num_replicas_in_sync} replicas)'
    training = [scopes.var_name(v.name) for v in controller.all_variables
                if scopes.rule_matches(root, scopes.var_name(v.name))]
    if training:
        return (f'{len(training)} backbone variables train (e.g. {training[0]}); freeze '
                f"the backbone: FREEZE_SCOPES = ['{root}']")
    frozen = model.network.bn_frozen
    moving = [n for n in model.variable_names()
              if n.endswith('moving_mean') and scopes.rule_matches(root, n)]
    trains = [n for n in moving if frozen is None or not frozen(n)]
    if trains:
        return (f'{len(trains)} backbone batch norms train (e.g. '
                f'{trains[0].rsplit("/", 1)[0]}); set Model.train_batch_norm = False')
    return None


def _backbone_is_deterministic(model):
    """True when the training-mode backbone gives one output for every seed (no
    dropout or other randomness below the head)."""
    image = model.preprocess(_probe_image(), False)[tf.newaxis]
    outs = [model.network.backbone_features(image, training=True,
                                            seed=tf.constant(s, tf.int64)).numpy()
            for s in ([1, 2], [3, 4])]
    return _same(outs)


def _files_signature(train_files):
    entries = []
    for path in pipeline.list_files(train_files):
        paths = [path]
        if split_file.parse_ref(path):  # the images a split of split.json lists
            paths = [p for p, _ in split_file.items(*split_file.parse_ref(path))]
        elif tf.io.gfile.isdir(path):
            paths = sorted(os.path.join(d, f) for d, _, files in tf.io.gfile.walk(path)
                           for f in files)
        for p in paths:
            stat = tf.io.gfile.stat(p)
            entries.append([p, stat.length, stat.mtime_nsec])
    return entries


def cache_key(experiment, model, input_training, backbone_training):
    """The digest naming the cache entry of this data + backbone + preprocessing."""
    net = model.network
    weights = hashlib.sha256()
    root = model.card.scope
    for name, v in sorted(zip(model.variable_names(), model.variables),
                          key=lambda item: item[0]):
        if scopes.rule_matches(root, name):
            weights.update(name.encode())
            weights.update(np.ascontiguousarray(v.numpy()).tobytes())
    fields = {
        'files': _files_signature(experiment.train_files),
        'decoder': experiment.decoder_name, 'backbone': model.backbone_name,
        'image_size': model.image_size, 'preprocessing': model.preprocessing,
        'input_training': input_training, 'backbone_training': backbone_training,
        'precision': model.precision, 'num_classes': model.num_classes,
        'skip_corrupt': experiment.skip_corrupt, 'max_pixels': experiment.max_pixels,
        'options': repr((sorted(net._backbone_kwargs.items()),
                         sorted(net._arg_scope_kwargs.items()),
                         sorted(net._batch_norm_params.items()))),
        'weights': weights.hexdigest()}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


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


def _compute(experiment, model, input_training, backbone_training, path, counter):
    """One pass of the backbone over TRAIN_FILES in file order, written to ``path``."""
    ds = pipeline.read_dataset(
        experiment.train_files, decode_fn=experiment.decode_fn,
        preprocess_fn=lambda image, t, seed: model.preprocess(
            image, input_training, tf.constant([0, 0], tf.int64)),
        batch_size=max(FEATURE_PASS_BATCH, experiment.batch_size), is_training=False,
        num_classes=model.num_classes, skip_corrupt=experiment.skip_corrupt,
        max_pixels=experiment.max_pixels, counters=experiment.counters)
    size = model.image_size

    # No autograph: slim code has no tensor-dependent Python control flow, and
    # converting a whole backbone costs seconds.
    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
                 autograph=False)
    def features_of(images):
        counter.assign_add(tf.cast(tf.shape(images)[0], tf.int64))
        return model.network.backbone_features(images, training=backbone_training,
                                               seed=tf.constant([0, 0], tf.int64))

    tmp = f'{path}.tmp-{os.getpid()}'
    root = os.path.dirname(path)
    fs_safety.remove_tree(tmp, root)
    tf.io.gfile.makedirs(tmp)
    try:  # a stop signal or an error leaves no half-written folder
        n = _write_features(ds, features_of, tmp, {'input_training': input_training,
                                                   'backbone_training': backbone_training})
    except BaseException:
        fs_safety.remove_tree(tmp, root)
        raise
    if not n:
        fs_safety.remove_tree(tmp, root)
        raise pipeline.no_usable_records(experiment.train_files, experiment.counters)
    fs_safety.remove_tree(path, root)
    tf.io.gfile.rename(tmp, path)
    return n


def _write_features(ds, features_of, tmp, meta):
    """Writes the features and labels of ``ds`` and meta.json (with ``meta``) into
    ``tmp``; returns the example count."""
    n, shape, dtype = 0, None, None
    with open(os.path.join(tmp, 'features.f32'), 'wb') as ff, \
            open(os.path.join(tmp, 'labels.i32'), 'wb') as fl:
        for images, labels in ds:
            features = features_of(images)
            shape, dtype = features.shape[1:].as_list(), features.dtype.name
            ff.write(np.ascontiguousarray(tf.cast(features, tf.float32).numpy()).tobytes())
            fl.write(labels.numpy().astype(np.int32).tobytes())
            n += int(labels.shape[0])
    if n:
        with open(os.path.join(tmp, 'meta.json'), 'w') as f:
            json.dump({'examples': n, 'feature_shape': shape, 'dtype': dtype,
                       **meta}, f, indent=2)
    return n


def cache_root(model_dir):
    """Where the features of ``model_dir`` are kept: MODEL_DIR/feature_cache, or for a
    remote MODEL_DIR (the file is memory-mapped, so it stays local) a private folder of
    this user (fs_safety.private_dir, 0700), one per MODEL_DIR."""
    if not fs_safety.is_remote(model_dir):
        return os.path.join(model_dir, DIRNAME)
    return fs_safety.private_dir(DIRNAME, hashlib.sha256(
        model_dir.encode()).hexdigest()[:16])


def prepare(controller):
    """Decides whether this run trains its head on cached features; builds the cache.

    Logs one line when the cache engaged, and why not when Trainer.feature_cache is True
    or only augmentation (or dropout in the backbone) stood in the way under 'auto'.

    Returns:
      A FeatureCache, or None (train as usual).
    """
    trainer, model, exp = controller.trainer, controller.model, controller.inputs
    mode = trainer.feature_cache
    if mode is False or controller.start_step >= trainer.train_steps:
        return None  # off, or nothing left to train
    blocker = _blocker(controller)
    if blocker:
        if mode is True:
            log.warning('Feature cache off (Trainer.feature_cache = True): %s.', blocker)
        return None
    augmentations = [getattr(a, "name", type(a).__name__) for a in exp.augmentations]
    input_training = _input_is_deterministic(model) and not augmentations
    backbone_training = _backbone_is_deterministic(model)
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
        n = _compute(exp, model, input_training, backbone_training, path, counter)
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
