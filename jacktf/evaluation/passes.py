"""The evaluation of a SavedModel (`jacktf eval --saved_model`): its serving signature
over the encoded images of EVAL_FILES, plain and (optionally) with test-time
augmentation. A checkpoint's model is evaluated by jacktf.evaluation.evaluate; both
end in the same EvalResult (evaluate.finish), report and pictures."""

import numpy as np

from jacktf.core.errors import ConfigError
from jacktf.data import pipeline
from jacktf.data.input_errors import input_errors, no_records
from jacktf.evaluation import tta as tta_lib
from jacktf.evaluation.collect import EvalCollector
from jacktf.evaluation.evaluate import finish
from jacktf.evaluation import top_losses as top_losses_lib
from jacktf.evaluation.top_losses import DEFAULT_SIZE


def _records(files, decode_fn, skip_corrupt, tta):
    import tensorflow as tf
    raw = pipeline.raw_records(files, decode_fn)
    raw = raw.enumerate().map(lambda i, r: dict(r, index=i))
    if skip_corrupt:  # as the checkpoint's evaluation does
        raw = raw.map(lambda r: (r, tf.io.decode_image(
            r['encoded'], channels=3, expand_animations=False))).ignore_errors()
        raw = raw.map(lambda r, _: r)
    if tta:
        raw = raw.map(lambda r: dict(r, views=tta_lib.encoded_views(r['encoded'], tta)),
                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return raw


def _probabilities(serve, batch, tta):
    """(plain [B, K], averaged over the TTA views [B, K] or None)."""
    import tensorflow as tf
    if not tta:
        return serve(images=batch['encoded'])['probabilities'].numpy(), None
    views = batch['views']
    n, v = int(views.shape[0]), int(views.shape[1])
    probs = serve(images=tf.reshape(views, [-1]))['probabilities'].numpy().reshape(n, v, -1)
    return probs[:, 0], probs.mean(1)


def saved_model_pass(module, serve, source, class_names, *, files, decode_fn, batch_size,
                     skip_corrupt=True, counters=None, model_dir='', tta=None,
                     top_losses=DEFAULT_SIZE, model=None):
    """Evaluates a loaded SavedModel on ``files``.

    Args:
      module / serve: from jacktf.serve.export.load_saved_model.
      source: the SavedModel's path (for messages).
      class_names: the model directory's class names.
      files / decode_fn / batch_size / skip_corrupt / counters: EVAL_FILES and how to
        read them.
      model_dir: the run's model directory (for messages).
      tta: TTA modes, or None.
      top_losses: examples kept for the top-losses gallery.
      model: the run's Model; its preprocessing card crops the gallery photos to what
        the model sees (None: the whole decoded photo).

    Returns:
      An EvalResult (jacktf.evaluation.evaluate), without 'loss' (a SavedModel gives
      probabilities).

    Raises:
      ConfigError: the SavedModel has another number of classes than the model
        directory.
    """
    import tensorflow as tf
    collector = EvalCollector(len(class_names), top_losses)
    labels, plain, averaged = [], [], []
    with input_errors(files, 'EVAL_FILES', counters):
        for batch in _records(files, decode_fn, skip_corrupt, tta).batch(batch_size):
            probs, mean = _probabilities(serve, batch, tta)
            if probs.shape[1] != len(class_names):
                raise ConfigError(
                    f'The SavedModel {source!r} has {probs.shape[1]} classes but this '
                    f'model directory has {len(class_names)} ({model_dir}/labels.txt, '
                    'NUM_CLASSES). Give the --model_dir the SavedModel was exported from.')
            records = [f'{files} #{int(i)}' for i in batch['index'].numpy()]
            collector.add(labels=batch['label'].numpy(), probabilities=probs,
                          inputs=batch['encoded'].numpy(), records=records,
                          filenames=batch['filename'].numpy() if 'filename' in batch
                          else None)
            plain.append(probs)
            averaged.append(mean)
            labels.append(batch['label'].numpy())
    if not labels:
        raise no_records(files, 'EVAL_FILES', counters)
    explain = module.signatures.get('explain_images')

    def decode(encoded):
        return tf.io.decode_image(encoded, channels=3, expand_animations=False).numpy()

    def cams(inputs):
        return [explain(images=tf.constant(decode(e)[None]))['cam'].numpy()[0]
                for e in inputs]

    view = (top_losses_lib.eval_view(model) if model is not None
            else (lambda photo: photo))  # what the model saw, as in training
    examples = collector.examples(cams if explain is not None else None,
                                  display_fn=lambda e: view(decode(e)))
    return finish(collector, examples, class_names, np.concatenate(labels),
                  np.concatenate(plain), np.concatenate(averaged) if tta else None, tta)
