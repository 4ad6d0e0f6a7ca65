"""A run is multi-label when its head says so or its data does.

`jacktf convert --labels_csv` writes ``"multi_label": true`` in dataset.json: a run
over those records with the default decoder and a linear head reads them with
``tfexample_multilabel`` and trains a sigmoid head, and says so in one line.
"""

import json
import logging
import os

import tensorflow as tf

log = logging.getLogger('jacktf')
DEFAULT_DECODER = 'tfexample_classification'
MULTILABEL_DECODER = 'tfexample_multilabel'


def data_is_multilabel(files):
    """True when the dataset.json next to ``files`` says multi_label."""
    patterns = [files] if isinstance(files, str) else list(files)
    if any(str(p).startswith('demo://') for p in patterns):  # the demo is single-label
        return False
    try:
        listed = [f for p in patterns for f in tf.io.gfile.glob(str(p))]
    except tf.errors.OpError:  # the run's own input check names what is wrong
        return False
    folders = {os.path.dirname(f) for f in listed}
    if len(folders) != 1:
        return False
    path = os.path.join(folders.pop(), 'dataset.json')
    try:
        with tf.io.gfile.GFile(path) as f:
            return bool(json.load(f).get('multi_label'))
    except (tf.errors.OpError, ValueError, AttributeError):
        return False


def match_decoder(model, decoder_name, decode_fn, train_files):
    """(decoder name, decode_fn) of the run; turns ``model`` multi-label when the
    data is (the default decoder is then replaced by the multi-label one)."""
    data_multi = getattr(decode_fn, 'multi_label', False) or (
        decoder_name == DEFAULT_DECODER and isinstance(train_files, (str, list, tuple))
        and train_files and data_is_multilabel(train_files))
    if data_multi and decoder_name == DEFAULT_DECODER:
        decoder_name = MULTILABEL_DECODER
        decode_fn = model.registry.get('decoder', decoder_name).factory()
    if data_multi and not model.multi_label:
        log.info('Multi-label data (%s): the %s head gives a sigmoid per label, trained '
                 'with binary cross-entropy (Model.head = @multilabel_logits says it).',
                 decoder_name, model.head_name)
        model.set_multi_label(True)
    return decoder_name, decode_fn
