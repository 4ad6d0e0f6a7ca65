"""The feature cache's entries on disk: the key naming an entry (data files, decoder,
preprocessing, backbone, its options and weights), where entries live, and the one
backbone pass that writes an entry whole or not at all (see jacktf.train.feature_cache).
"""

import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from jacktf.core import fs_safety, scopes
from jacktf.data import pipeline, split_file

DIRNAME = 'feature_cache'
FEATURE_PASS_BATCH = 64


def files_signature(train_files):
    entries = []
    for path in pipeline.list_files(train_files):
        paths = [path]
        if split_file.parse_ref(path):  # the images a split of split.json lists
            paths = [item[0] for item in split_file.items(*split_file.parse_ref(path))]
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
        'files': files_signature(experiment.train_files),
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


def compute(experiment, model, input_training, backbone_training, path, counter):
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
        n = write_features(ds, features_of, tmp, {'input_training': input_training,
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


def write_features(ds, features_of, tmp, meta):
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
