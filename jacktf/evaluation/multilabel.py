"""The evaluation of a multi-label model (``Model.multi_label``): one pass over the eval
data -> mAP, per-label precision/recall/F1 at tuned thresholds, exact match, the top
losses (largest summed binary cross-entropy) and a per-label PR-curve grid.

:func:`jacktf.evaluation.evaluate.evaluate` hands multi-label models to
:func:`evaluate` here. The thresholds are tuned on this (validation) pass, one per
label (max F1, or ``target_precision``), and the report's precision/recall/F1 and the
``accuracy`` scalar (the exact-match ratio) are at those thresholds; the scalars also
hold ``mAP``, ``macro_f1`` and ``micro_f1`` for best-k and early stopping.
:func:`save_thresholds` keeps them per evaluated step in MODEL_DIR/eval/thresholds.json,
where the export reads the thresholds of the step it exports.
"""

import csv
import io
import json
import os

import numpy as np
import tensorflow as tf

from jacktf.core.files import write_atomic
from jacktf.data.input_errors import input_errors, no_records
from jacktf.evaluation import figures
from jacktf.evaluation import multilabel_metrics as mm

THRESHOLDS_FILE = 'thresholds.json'
PR_FILE = 'pr_curves.png'
TOP_LOSSES_CSV = 'top_losses.csv'


def _probabilities_step(model, strategy):
    @tf.function(reduce_retracing=True)
    def step(images, labels):
        def replica_fn(images, labels):
            logits = model.predict(images, training=False)['logits']
            return tf.sigmoid(tf.cast(logits, tf.float32)), model.loss(labels, logits)
        return strategy.run(replica_fn, args=(images, labels))
    return step


def collect(model, dataset, *, files, counters=None, strategy=None):
    """(truth [N, K], probabilities [N, K], per-example loss [N], file names [N])."""
    strategy = strategy or tf.distribute.get_strategy()
    step = _probabilities_step(model, strategy)

    def local(value):
        parts = strategy.experimental_local_results(value)
        return parts[0] if len(parts) == 1 else tf.concat(parts, 0)

    truth, probs, losses, names = [], [], [], []
    with input_errors(files, 'EVAL_FILES', counters):
        for batch in strategy.experimental_distribute_dataset(dataset):
            p, loss = step(batch[0], batch[1])
            truth.append(local(batch[1]).numpy())
            probs.append(local(p).numpy())
            losses.append(local(loss).numpy())
            if len(batch) > 2:
                names.extend(v.decode('utf-8', 'replace')
                             for v in local(batch[2]['filename']).numpy())
    if not truth:
        raise no_records(files, 'EVAL_FILES', counters)
    return (np.concatenate(truth), np.concatenate(probs), np.concatenate(losses),
            names or [''] * sum(len(t) for t in truth))


def report_of(truth, probs, losses, class_names, *, filenames=None, top_losses=16,
              target_precision=None):
    """The multi-label report (a JSON-able dict) of one pass."""
    thresholds = mm.tune_thresholds(truth, probs, target_precision)
    average = mm.mean_average_precision(truth, probs)
    tuned = mm.scores_at(truth, probs, thresholds, class_names)
    half = mm.scores_at(truth, probs, mm.DEFAULT_THRESHOLD, class_names)
    for name, ap in zip(class_names, average['per_label']):
        tuned['per_label'][name]['average_precision'] = None if np.isnan(ap) else ap
    worst = np.argsort(-losses, kind='mergesort')[:top_losses]
    filenames = filenames or [''] * len(truth)
    return {
        'multi_label': True, 'class_names': list(class_names), 'examples': len(truth),
        'loss': float(np.mean(losses)), 'mAP': average['macro'],
        'micro_mAP': average['micro'], 'thresholds': [float(t) for t in thresholds],
        'threshold_rule': 'max_f1' if target_precision is None else
        f'precision>={target_precision}',
        **{k: v for k, v in tuned.items()},
        'at_0.5': {k: half[k] for k in ('macro_f1', 'micro_f1', 'exact_match')},
        'top_1_accuracy': tuned['exact_match'],  # the one-line summaries' number
        'top_losses': [{'filename': filenames[i], 'loss': float(losses[i]),
                        'true': mm.label_set(truth[i], class_names),
                        'predicted': mm.label_set(None, class_names, thresholds, probs[i]),
                        'probabilities': {n: round(float(probs[i][k]), 4)
                                          for k, n in enumerate(class_names)}}
                       for i in worst],
    }


def evaluate(model, dataset, *, class_names, files, counters=None, strategy=None,
             top_losses=16, target_precision=None):
    """One multi-label pass; an EvalResult (jacktf.evaluation.evaluate) whose metrics
    are accuracy (exact match at the tuned thresholds), loss, examples, mAP, macro_f1,
    micro_f1."""
    from jacktf.evaluation.evaluate import EvalResult
    truth, probs, losses, names = collect(model, dataset, files=files, counters=counters,
                                          strategy=strategy)
    report = report_of(truth, probs, losses, class_names, filenames=names,
                       top_losses=top_losses, target_precision=target_precision)
    metrics = {'accuracy': report['exact_match'], 'loss': report['loss'],
               'examples': report['examples'], 'mAP': report['mAP'],
               'macro_f1': report['macro_f1'], 'micro_f1': report['micro_f1']}
    return EvalResult(metrics, report, None, [], truth, probs)


def pr_grid(truth, probs, report, step=None):
    """A grid of per-label PR curves (AP, tuned threshold marked) as RGB [H, W, 3]."""
    names = report['class_names']
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    figure = figures.new_figure(3.0 * cols, 2.6 * rows + 0.4)
    for k, name in enumerate(names):
        axes = figure.add_subplot(rows, cols, k + 1)
        precision, recall, scores = mm.pr_curve(truth[:, k], probs[:, k])
        axes.step(np.r_[0.0, recall], np.r_[1.0, precision], where='post')
        at = report['thresholds'][k]
        chosen = np.flatnonzero(scores >= at)
        if chosen.size and truth[:, k].any():
            i = chosen[-1]
            axes.plot([recall[i]], [precision[i]], 'o', color='tab:red')
        ap = report['per_label'][name].get('average_precision')
        axes.set_title(f"{figures.short(name, 20)}  AP {ap:.3f}  t={at:.2f}"
                       if ap is not None else f'{figures.short(name, 20)}  (no positives)',
                       fontsize=8)
        axes.set_xlim(0, 1.02)
        axes.set_ylim(0, 1.02)
        axes.tick_params(labelsize=6)
    where = f' at step {step}' if step is not None else ''
    figure.suptitle(f"PR curves{where}: mAP {report['mAP']:.4f}, macro-F1 "
                    f"{report['macro_f1']:.4f} at the tuned thresholds", fontsize=10)
    figure.tight_layout()
    return figures.to_array(figure)


def write_top_losses_csv(report, path):
    f = io.StringIO(newline='')
    writer = csv.writer(f)
    writer.writerow(['rank', 'filename', 'loss', 'true_labels', 'predicted_labels'])
    for rank, e in enumerate(report['top_losses'], 1):
        writer.writerow([rank, e['filename'], f"{e['loss']:.6f}", '|'.join(e['true']),
                         '|'.join(e['predicted'])])
    return write_atomic(path, f.getvalue())


def write_outputs(result, directory, *, step=None, writer=None, pictures=True):
    """metrics.json, thresholds.json (by step), top_losses.csv and pr_curves.png."""
    report = result.report
    path = os.path.join(directory, 'metrics.json')
    write_atomic(path, json.dumps(report, indent=2))
    save_thresholds(directory, step, report['thresholds'], report['class_names'])
    write_top_losses_csv(report, os.path.join(directory, TOP_LOSSES_CSV))
    if pictures:
        image = pr_grid(result.labels, result.probabilities, report, step)
        figures.save_png(image, os.path.join(directory, PR_FILE))
        if writer is not None:
            with writer.as_default(step=int(step or 0)):
                tf.summary.image('eval/pr_curves', image[None], step=int(step or 0))
            writer.flush()
    return path


def save_thresholds(directory, step, thresholds, class_names):
    """Adds {step: thresholds} to directory/thresholds.json ('latest' too)."""
    path = os.path.join(directory, THRESHOLDS_FILE)
    data = load_all(path)
    entry = {'class_names': list(class_names), 'thresholds': [float(t) for t in thresholds]}
    if step is not None:
        data.setdefault('steps', {})[str(int(step))] = entry
    data['latest'] = dict(entry, step=None if step is None else int(step))
    write_atomic(path, json.dumps(data, indent=1))
    return path


def load_all(path):
    try:
        with tf.io.gfile.GFile(path) as f:
            return json.load(f)
    except (tf.errors.OpError, ValueError):
        return {}


def thresholds_for(model_dir, step=None, num_classes=None):
    """The thresholds tuned at ``step`` (else the latest evaluation's) from
    MODEL_DIR/eval/thresholds.json, or None when there are none."""
    data = load_all(os.path.join(model_dir, 'eval', THRESHOLDS_FILE))
    entry = data.get('steps', {}).get(str(step)) if step is not None else None
    entry = entry or data.get('latest')
    if not entry:
        return None
    values = entry['thresholds']
    if num_classes is not None and len(values) != num_classes:
        return None
    return values
