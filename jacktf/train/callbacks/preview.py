"""Batch preview: the first training batch as the network sees it, made viewable.

The batch comes from a fresh training input pipeline (preprocessing and augmentation
included) and is mapped back to pixels with the inverse of the preprocessor's
normalization (Model.to_pixels). It becomes a labelled grid PNG and a TensorBoard
image summary. With a seed (deterministic mode) the fresh pipeline yields exactly the
first batch the training run trains on; the training input itself is not touched.
"""

import io
import logging
import math
import os

import numpy as np
import tensorflow as tf

from jacktf.core.files import write_atomic
from jacktf.data import pipeline
from jacktf.data.input_errors import input_errors
from jacktf.train.callbacks.base import Callback

log = logging.getLogger('jacktf')
FILE_NAME = 'batch_preview.png'


def first_batch(inputs, model, max_images):
    """(uint8 pixels [N, S, S, 3], labels [N] or soft labels [N, K], exact inverse?).

    Raises:
      DataError: the training input yields no batch (as training would say it).
    """
    data = inputs.dataset(inputs.train_files, training=True)
    with input_errors(inputs.train_files, 'TRAIN_FILES', inputs.counters, ends=True):
        images, labels = next(iter(data))
    pixels, exact = model.to_pixels(images[:max_images])
    return pixels.numpy(), labels[:max_images].numpy(), exact


def caption(label, names):
    """'dots' for a class index; 'dots .70 / stripes .30' for a soft label."""
    def name(i):
        return names[i] if names and i < len(names) else str(i)
    label = np.asarray(label)
    if label.ndim == 0:
        return name(int(label))
    order = np.argsort(-label)
    shown = 2 if label.sum() <= 1.005 else 4  # a multi-hot label: up to 4 of its labels
    parts = [f'{name(int(i))} {label[i]:.2f}' for i in order[:shown] if label[i] > 0.005]
    return ' / '.join(parts)


def grid_png(pixels, captions, title=''):
    """PNG bytes of the images in a near-square grid, each with its caption."""
    buffer = io.BytesIO()
    grid_figure(pixels, captions, title).savefig(buffer, format='png')
    return buffer.getvalue()


def grid_figure(pixels, captions, title=''):
    """The matplotlib Figure of :func:`grid_png` (no pyplot: nothing global is kept)."""
    from jacktf.evaluation import figures
    n = len(pixels)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    fig = figures.new_figure(1.9 * cols, 2.05 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis('off')
        if k < n:
            ax.imshow(pixels[k], interpolation='nearest', vmin=0, vmax=255)
            ax.set_title(captions[k], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def class_names(inputs):
    try:
        return pipeline.labels_for(inputs.train_files)
    except Exception:  # no names is fine: indexes are shown
        return None


def preview(inputs, model, max_images=32):
    """(PNG bytes, pixels, captions, info) of the first training batch of ``inputs``
    (a RunInputs or the Experiment)."""
    pixels, captions, info = batch(inputs, model, max_images)
    return grid_png(pixels, captions, info['title']), pixels, captions, info


def batch(inputs, model, max_images=32):
    """(uint8 pixels [N, S, S, 3], N captions, info with the grid's 'title') of the first
    training batch of ``inputs``."""
    pixels, labels, exact = first_batch(inputs, model, max_images)
    names = class_names(inputs)
    captions = [caption(label, names) for label in labels]
    augmented = bool(getattr(inputs, 'augmentations', ()))
    inverse = 'undone' if exact else 'unknown: each image stretched to 0..255'
    title = (f'first training batch: {model.preprocessing} preprocessing ({inverse})'
             f'{", augmented" if augmented else ""}, {model.image_size}x'
             f'{model.image_size}')
    info = {'images': len(pixels), 'size': model.image_size, 'augmented': augmented,
            'preprocessing': model.preprocessing, 'exact_inverse': exact, 'title': title}
    return pixels, captions, info


def write_preview(inputs, model, path, max_images=32):
    """Writes the grid PNG to ``path``; returns the info dict (with pixels, captions)."""
    png, pixels, captions, info = preview(inputs, model, max_images)
    write_atomic(path, png)
    return dict(info, pixels=pixels, captions=captions, png=png)


class BatchPreview(Callback):
    """At the start of a fresh run (step 0), on the chief: MODEL_DIR/batch_preview.png
    and the TensorBoard images ``batch_preview`` (the labelled grid) and
    ``batch_preview/images`` (the batch) in MODEL_DIR/train.

    Args:
      max_images: images shown; None reads the run's preview_images
        (Experiment.preview_images); 0 turns the preview off.
    """

    order = 0  # first: a bad first batch fails before anything else runs

    def __init__(self, max_images=None):
        self.max_images = max_images

    def on_train_begin(self, ctl):
        count = self.max_images
        if count is None:
            count = ctl.inputs.preview_images
        if int(count) <= 0 or not ctl.chief or ctl.start_step != 0:
            return
        # Bad input in the first batch raises the DataError the first step would.
        info = write_preview(ctl.inputs, ctl.model,
                             os.path.join(ctl.model_dir, FILE_NAME), int(count))
        with ctl.train_writer.as_default(step=0):
            tf.summary.image('batch_preview', tf.io.decode_png(info['png'], 3)[None],
                             description='The first training batch after preprocessing '
                             'and augmentation, mapped back to pixels.')
            tf.summary.image('batch_preview/images', info['pixels'],
                             max_outputs=len(info['pixels']))
        ctl.train_writer.flush()
        log.info('Batch preview: %s (%d images)', os.path.join(ctl.model_dir, FILE_NAME),
                 info['images'])
