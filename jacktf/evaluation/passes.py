"""One evaluation pass of ``jacktf eval`` over EVAL_FILES: with a checkpoint's model or
with a SavedModel, plain and (optionally) with test-time augmentation, feeding an
EvalCollector (confusion counts, top losses) as it goes."""

import numpy as np

from jacktf.core.errors import ConfigError
from jacktf.data import pipeline, preflight
from jacktf.evaluation import cam as cam_lib
from jacktf.evaluation import top_losses
from jacktf.evaluation import tta as tta_lib


def checkpoint_pass(experiment, collector, tta=None):
    """Evaluates the experiment's (restored) model on its EVAL_FILES.

    Args:
      experiment: the Experiment, its model restored.
      collector: an EvalCollector.
      tta: TTA modes (see jacktf.evaluation.tta), or None.

    Returns:
      (labels [N], probabilities [N, K], TTA probabilities [N, K] or None, examples):
      examples are the collector's top losses with their pictures and maps.
    """
    import tensorflow as tf
    model = experiment.model

    @tf.function(reduce_retracing=True)
    def predict(x):
        return tf.nn.softmax(tf.cast(model.predict(x, training=False)['logits'],
                                     tf.float32))

    labels, plain, averaged = [], [], []
    dataset = experiment.dataset(experiment.eval_files, training=False, with_info=True,
                                 tta=tta)
    try:
        for images, label, info in dataset:
            if tta:  # [B, V, S, S, 3]: all views in one batch
                shape = tf.shape(images)
                probs = tf.reshape(predict(tf.reshape(images, tf.concat(
                    [[-1], shape[2:]], 0))), [shape[0], shape[1], -1]).numpy()
                averaged.append(probs.mean(1))
                probs, images = probs[:, 0], images[:, 0]
            else:
                probs = predict(images).numpy()
            collector.add(labels=label.numpy(), probabilities=probs, inputs=images,
                          filenames=info['filename'].numpy(),
                          records=info['record'].numpy())
            plain.append(probs)
            labels.append(label.numpy())
    except tf.errors.InvalidArgumentError as e:
        raise pipeline.data_error(e) or e from None
    except tf.errors.DataLossError as e:
        raise preflight.damaged_data_error(e, experiment.eval_files, 'EVAL_FILES') \
            from None
    if not labels:
        raise pipeline.no_usable_records(experiment.eval_files, experiment.counters,
                                         'EVAL_FILES')
    examples = collector.examples(
        lambda inputs: cam_lib.grad_cam(model, np.stack(inputs)),
        display_fn=top_losses.undo_preprocessing(model))
    return (np.concatenate(labels), np.concatenate(plain),
            np.concatenate(averaged) if tta else None, examples)


def saved_model_pass(experiment, module, serve, source, class_names, collector, tta=None):
    """Evaluates a loaded SavedModel on the experiment's EVAL_FILES.

    Args:
      experiment: the Experiment (its EVAL_FILES, decoder, batch size).
      module / serve: from jacktf.serve.export.load_saved_model.
      source: the SavedModel's path (for messages).
      class_names: the model directory's class names.
      collector: an EvalCollector.
      tta: TTA modes, or None.

    Returns:
      As :func:`checkpoint_pass`.

    Raises:
      ConfigError: the SavedModel has another number of classes than the model
        directory.
    """
    import tensorflow as tf
    raw = pipeline.raw_records(experiment.eval_files, experiment.decode_fn)
    raw = raw.enumerate().map(lambda i, r: dict(r, index=i))
    if experiment.skip_corrupt:  # as the checkpoint path does
        raw = raw.map(lambda r: (r, tf.io.decode_image(
            r['encoded'], channels=3, expand_animations=False))).ignore_errors()
        raw = raw.map(lambda r, _: r)
    if tta:
        raw = raw.map(lambda r: dict(r, views=tta_lib.encoded_views(r['encoded'], tta)),
                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    labels, plain, averaged = [], [], []
    pattern = str(experiment.eval_files)
    for batch in raw.batch(experiment.eval_batch_size):
        if tta:
            views = batch['views']
            n, v = int(views.shape[0]), int(views.shape[1])
            probs = serve(images=tf.reshape(views, [-1]))['probabilities'].numpy()
            probs = probs.reshape(n, v, -1)
            averaged.append(probs.mean(1))
            probs = probs[:, 0]
        else:
            probs = serve(images=batch['encoded'])['probabilities'].numpy()
        if probs.shape[1] != len(class_names):
            raise ConfigError(
                f'The SavedModel {source!r} has {probs.shape[1]} classes but this model '
                f'directory has {len(class_names)} ({experiment.model_dir}/labels.txt, '
                'NUM_CLASSES). Give the --model_dir the SavedModel was exported from.')
        filenames = batch['filename'].numpy() if 'filename' in batch else None
        records = [f'{pattern} #{int(i)}' for i in batch['index'].numpy()]
        collector.add(labels=batch['label'].numpy(), probabilities=probs,
                      inputs=batch['encoded'].numpy(), filenames=filenames,
                      records=records)
        plain.append(probs)
        labels.append(batch['label'].numpy())
    if not labels:
        raise pipeline.no_usable_records(experiment.eval_files, experiment.counters,
                                         'EVAL_FILES')
    explain = module.signatures.get('explain_images')

    def decode(encoded):
        return tf.io.decode_image(encoded, channels=3, expand_animations=False).numpy()

    def cams(inputs):
        return [explain(images=tf.constant(decode(e)[None]))['cam'].numpy()[0]
                for e in inputs]

    view = top_losses.eval_view(experiment.model)  # what the model saw, as in training
    examples = collector.examples(cams if explain is not None else None,
                                  display_fn=lambda e: view(decode(e)))
    return (np.concatenate(labels), np.concatenate(plain),
            np.concatenate(averaged) if tta else None, examples)
