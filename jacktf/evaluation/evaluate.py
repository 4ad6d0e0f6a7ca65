"""The one evaluation: a model over an eval dataset -> metrics, report, pictures.

The training loop's periodic evaluation, `jacktf eval` (and ``--mode=eval``) and the
continuous_eval sidecar all call :func:`evaluate`, then :func:`write_scalars` (the same
TensorBoard scalars, same names, in MODEL_DIR/eval) and, for the full report,
:func:`write_outputs` (metrics.json, confusion matrix, top losses). So a checkpoint
evaluated by any of them gives the same numbers.
"""

import dataclasses
import json
import logging
import os
from typing import List

import numpy as np
import tensorflow as tf

from jacktf.data.input_errors import input_errors, no_records
from jacktf.core.files import write_atomic
from jacktf.evaluation import cam as cam_lib
from jacktf.evaluation import operating_point
from jacktf.evaluation import report as report_lib
from jacktf.evaluation import summaries
from jacktf.evaluation import top_losses as top_losses_lib
from jacktf.evaluation.collect import EvalCollector

log = logging.getLogger('jacktf')


@dataclasses.dataclass
class EvalResult:
    """What one evaluation found.

    ``metrics``: accuracy, loss, examples and the report's macro_f1 and top-k accuracy
    (the TensorBoard scalars); ``report``: the classification report (per class,
    confusion matrix; 'tta' with test-time augmentation); ``collector``: the confusion
    counts and the top losses; ``examples``: the top losses with their pictures and maps;
    ``labels`` / ``probabilities`` [N] / [N, K] (of this worker), ``averaged``: the
    probabilities averaged over the TTA views (None without TTA).
    """
    metrics: dict
    report: dict
    collector: EvalCollector
    examples: List[dict]
    labels: np.ndarray = None
    probabilities: np.ndarray = None
    averaged: np.ndarray = None
    filenames: np.ndarray = None  # [N] str, when the records carry image/filename


def _eval_step(model, strategy, views):
    """The tf.function of one batch: summed loss, hits, count, confusion; probabilities
    (and with ``views`` the probabilities averaged over the TTA views)."""
    num_classes = model.num_classes

    @tf.function(reduce_retracing=True)
    def step(images, labels):
        def replica_fn(images, labels):
            if views:  # [B, V, S, S, 3]: every view in one batch, the plain one first
                shape = tf.shape(images)
                flat = tf.reshape(images, tf.concat([[-1], shape[2:]], 0))
                logits = tf.reshape(model.predict(flat, training=False)['logits'],
                                    [shape[0], shape[1], -1])
                averaged = tf.reduce_mean(tf.nn.softmax(tf.cast(logits, tf.float32)), 1)
                logits = logits[:, 0]
            else:
                logits = model.predict(images, training=False)['logits']
            loss = tf.reduce_sum(model.loss(labels, logits))
            predicted = tf.argmax(logits, -1, output_type=tf.int32)
            hits = tf.reduce_sum(tf.cast(tf.equal(predicted, labels), tf.float32))
            sums = [loss, hits, tf.cast(tf.shape(labels)[0], tf.float32),
                    tf.math.confusion_matrix(labels, predicted, num_classes,
                                             dtype=tf.float32)]
            probs = tf.nn.softmax(tf.cast(logits, tf.float32))
            return sums, (probs, averaged) if views else (probs,)
        sums, per_example = strategy.run(replica_fn, args=(images, labels))
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None)
                for t in sums], per_example
    return step


def evaluate(model, dataset, *, class_names, files, counters=None, strategy=None,
             tta=None, top_losses=top_losses_lib.DEFAULT_SIZE, explain=True):
    """One pass of ``model`` over ``dataset``.

    Args:
      model: the Model (its weights as they should be evaluated).
      dataset: batches of (images, labels[, info]) (pipeline.read_dataset, ``with_info``
        for file names in the top losses); with ``tta`` each image is [V, S, S, 3].
      class_names: K names (the report's and the pictures').
      files / counters: EVAL_FILES and the pipeline's counters, for messages.
      strategy: the tf.distribute strategy (default: the current one).
      tta: TTA modes (jacktf.evaluation.tta), or None.
      top_losses: examples kept for the top-losses gallery (0: none).
      explain: compute the top losses' pictures and CAM maps (``examples``).

    Returns:
      An EvalResult.

    Raises:
      DataError: a bad or damaged record, or no usable record in ``files``.
    """
    if getattr(model, 'multi_label', False):  # sigmoid per label: mAP, F1, thresholds
        from jacktf.evaluation import multilabel
        if tta:
            from jacktf.core.errors import ConfigError
            raise ConfigError('Test-time augmentation (--tta) is not available for '
                              'multi-label models; evaluate without it.')
        return multilabel.evaluate(model, dataset, class_names=class_names, files=files,
                                   counters=counters, strategy=strategy,
                                   top_losses=top_losses)
    strategy = strategy or tf.distribute.get_strategy()
    collector = EvalCollector(model.num_classes, top_losses)
    step = _eval_step(model, strategy, bool(tta))

    def local(value):
        parts = strategy.experimental_local_results(value)
        return parts[0] if len(parts) == 1 else tf.concat(parts, 0)

    loss = hits = count = 0.0
    labels, plain, averaged, names = [], [], [], []
    with input_errors(files, 'EVAL_FILES', counters):
        for batch in strategy.experimental_distribute_dataset(dataset):
            images, label = batch[0], batch[1]
            sums, per_example = step(images, label)
            loss, hits, count = (loss + float(sums[0]), hits + float(sums[1]),
                                 count + float(sums[2]))
            collector.add_confusion(sums[3].numpy())
            info = batch[2] if len(batch) > 2 else {}
            if info:
                names.append(local(info['filename']).numpy())
            inputs = local(images)
            labels.append(local(label).numpy())
            plain.append(local(per_example[0]).numpy())
            if tta:
                averaged.append(local(per_example[1]).numpy())
                inputs = inputs[:, 0]
            collector.add(labels=labels[-1], probabilities=plain[-1], inputs=inputs,
                          filenames=local(info['filename']).numpy() if info else None,
                          records=local(info['record']).numpy() if info else None,
                          count_confusion=False)
    if not count:
        raise no_records(files, 'EVAL_FILES', counters)
    examples = collector.examples(
        lambda inputs: cam_lib.grad_cam(model, np.stack(inputs)),
        display_fn=top_losses_lib.undo_preprocessing(model)) if explain else []
    result = finish(collector, examples, class_names, np.concatenate(labels),
                    np.concatenate(plain), np.concatenate(averaged) if tta else None,
                    tta, {'accuracy': hits / count, 'loss': loss / count,
                          'examples': int(count)})
    if names:
        result.filenames = np.array([n.decode('utf-8', 'replace') if isinstance(n, bytes)
                                     else str(n) for n in np.concatenate(names)])
    return result


def without_leaked(result, leaked):
    """The accuracy of ``result`` without the images named in ``leaked`` (file names of
    the eval data whose near-duplicate is in another split), or None when there are
    none or the records carry no file names.

    Returns:
      {'leaked_images', 'examples_without_leaked', 'accuracy_without_leaked'}.
    """
    if not leaked or result.filenames is None:
        return None
    out = np.isin(result.filenames, sorted(leaked))
    if not out.any():
        return None
    kept = ~out
    right = result.probabilities.argmax(1) == result.labels
    return {'leaked_images': int(out.sum()), 'examples_without_leaked': int(kept.sum()),
            'accuracy_without_leaked': float(right[kept].mean()) if kept.any()
            else float('nan')}


def finish(collector, examples, class_names, labels, probabilities, averaged=None,
           tta=None, metrics=None):
    """The EvalResult of a pass: the report from ``labels`` and ``probabilities`` (and
    its TTA numbers from ``averaged``); ``metrics`` (accuracy, loss, examples of the
    pass, when it computed them) with the report's scalars added."""
    metrics = dict(metrics or {})
    from jacktf.evaluation import tta as tta_lib
    report = report_lib.classification_report(labels, probabilities, class_names)
    if tta:
        augmented = report_lib.classification_report(labels, averaged, class_names)
        report['tta'] = {'views': tta_lib.describe(tta), **{
            k: v for k, v in augmented.items()
            if k.endswith('_accuracy') or k == 'macro_f1'}}
    metrics.setdefault('accuracy', report['top_1_accuracy'])
    metrics.setdefault('examples', report['examples'])
    if 'loss' in metrics:
        report['loss'] = metrics['loss']
    report['misclassified'] = collector.misclassified
    report['listed_in_top_losses'] = len(examples)
    metrics.update({k: v for k, v in report.items()
                    if k in ('macro_f1', 'balanced_accuracy', 'min_recall') or (
                        k.startswith('top_') and k.endswith('_accuracy') and
                        k != 'top_1_accuracy')})
    return EvalResult(metrics, report, collector, examples, labels, probabilities,
                      averaged)


def scalars(result):
    """{tag: value} of the TensorBoard scalars of an evaluation (MODEL_DIR/eval)."""
    return {k: float(v) for k, v in result.metrics.items() if k != 'examples'}


def write_scalars(writer, step, result):
    """Writes :func:`scalars` at ``step`` (the same tags whoever evaluated)."""
    with writer.as_default(step=int(step)):
        for tag, value in scalars(result).items():
            tf.summary.scalar(tag, value)
    writer.flush()


def write_outputs(result, directory, *, step=None, writer=None, pictures=True,
                  source=None, eval_files=None):
    """The evaluation's files: metrics.json, and (``pictures``) confusion_matrix.png,
    top_losses.png / .csv in ``directory`` and as TensorBoard images in ``writer``.

    Returns:
      The path of metrics.json.
    """
    if result.report.get('multi_label'):
        from jacktf.evaluation import multilabel
        result.report.update({k: str(v) for k, v in (('source', source),
                                                     ('eval_files', eval_files)) if v})
        return multilabel.write_outputs(result, directory, step=step, writer=writer,
                                        pictures=pictures)
    report = dict(result.report)
    if step is not None:
        report['step'] = int(step)
    if source is not None:
        report['source'] = source
    if eval_files is not None:
        report['eval_files'] = str(eval_files)
    examples = result.examples if result.collector.top.size else None
    path, images = report_lib.write_report(
        report, directory, examples=examples, misclassified=result.collector.misclassified,
        step=step, pictures=pictures)
    point = operating_point.for_export(report)
    if point is not None:  # what an export of this step stores (see serve.deploy)
        name = f'step-{int(step)}.json' if step is not None else operating_point.FILE
        write_atomic(os.path.join(directory, 'operating_points', name) if step is not None
                     else os.path.join(directory, name), json.dumps(point, indent=2))
    if writer is not None and images:
        summaries.write_images(writer, images, step or 0)
    return path
