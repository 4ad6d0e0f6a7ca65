"""The report of one evaluation: metrics (top-1/top-k, per-class precision/recall/F1,
confusion matrix) and the files written next to them (metrics.json, the confusion
matrix picture, the top-losses gallery and CSV)."""

import json
import os

import numpy as np

from jacktf.core.files import write_atomic
from jacktf.evaluation import confusion, figures, gallery, operating_point, top_losses

METRICS_FILE = 'metrics.json'
CONFUSION_FILE = 'confusion_matrix.png'
GALLERY_FILE = 'top_losses.png'
CSV_FILE = 'top_losses.csv'


def classification_report(labels, probabilities, class_names, top_k=5):
    """A JSON-ready dict of metrics for integer ``labels`` and [N, K] ``probabilities``.

    Besides top-1 it reports ``top_<k>_accuracy`` for k = min(top_k, K - 1), and only
    when that k is at least 2: a top-k over all K classes is always 1.0 and says nothing
    (so a two-class report has top-1 only). The ranking metrics (macro_f1,
    balanced_accuracy, min_recall and the worst class) come from the confusion matrix
    (``operating_point.rank_metrics``); per class, precision and recall are at the
    argmax. With two classes, 'threshold_curve' gives the precision-recall curve of
    class 1 and the thresholds for target precisions and recalls.
    """
    labels = np.asarray(labels, np.int64)
    probabilities = np.asarray(probabilities, np.float64)
    k_classes = probabilities.shape[1]
    predicted = probabilities.argmax(1)
    k = min(top_k, k_classes - 1)
    top = np.argsort(-probabilities, axis=1)[:, :max(k, 1)]
    matrix = np.zeros([k_classes, k_classes], np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_class = {}
    for c, name in enumerate(class_names):
        tp = int(matrix[c, c])
        fp = int(matrix[:, c].sum() - tp)
        fn = int(matrix[c, :].sum() - tp)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {'precision': precision, 'recall': recall, 'f1': f1,
                           'support': int(matrix[c, :].sum())}
    n = len(labels)
    ranked = operating_point.rank_metrics(matrix)
    top_k_report = {}
    if k >= 2:
        top_k_report[f'top_{k}_accuracy'] = (
            float((top == labels[:, None]).any(1).mean()) if n else float('nan'))
    return {
        'examples': n,
        'top_1_accuracy': float((predicted == labels).mean()) if n else float('nan'),
        **top_k_report,
        'per_class': per_class,
        'macro_f1': float(np.mean([v['f1'] for v in per_class.values()])),
        'balanced_accuracy': ranked['balanced_accuracy'],
        'min_recall': ranked['min_recall'],
        'worst_class': None if ranked['worst_class'] is None else
        class_names[ranked['worst_class']],
        'class_names': list(class_names),
        'confusion_matrix': matrix.tolist(),
        'confusion_matrix_axes': 'rows: true class, columns: predicted class',
        **({'threshold_curve': operating_point.summary(labels, probabilities, class_names)}
           if k_classes == 2 and n and 0 < labels.sum() < n else {}),
    }


def draw(*, matrix, class_names, examples=None, misclassified=0, step=None,
             source=None):
    """{'confusion_matrix': RGB array, 'top_losses': RGB array (when ``examples`` is not
    None)} of one evaluation.

    Args:
      matrix: [K, K] confusion counts (rows true, columns predicted).
      class_names: K names.
      examples: TopLosses.examples() with 'image' and 'cam' set, or None.
      misclassified: how many examples were wrong (for the gallery's title).
      step: the training step evaluated (titles), or None.
      source: what was evaluated, for titles when there is no step.
    """
    matrix = np.asarray(matrix, np.int64)
    total = int(matrix.sum())
    accuracy = float(np.trace(matrix) / total) if total else float('nan')
    where = {'step': step, 'source': source}
    result = {'confusion_matrix': confusion.picture(
        matrix, class_names, confusion.title_for(accuracy=accuracy, examples=total,
                                                 **where))}
    if examples is not None:
        result['top_losses'] = gallery.picture(examples, class_names, gallery.title_for(
            shown=len(examples), misclassified=misclassified, examples=total, **where))
    return result


def write_pictures(images, directory, examples=None, class_names=None):
    """Writes the pictures of :func:`pictures` (and the top-losses CSV) into
    ``directory``; returns {name: path}."""
    paths = {'confusion_matrix': figures.save_png(
        images['confusion_matrix'], os.path.join(directory, CONFUSION_FILE))}
    if 'precision_recall' in images:
        paths['precision_recall'] = figures.save_png(
            images['precision_recall'], os.path.join(directory, operating_point.PICTURE))
    if 'top_losses' in images:
        paths['top_losses'] = figures.save_png(images['top_losses'],
                                               os.path.join(directory, GALLERY_FILE))
        paths['top_losses_csv'] = top_losses.write_csv(
            examples, class_names, os.path.join(directory, CSV_FILE))
    return paths


def write_report(report, directory, *, examples=None, misclassified=0, step=None,
                 pictures=True):
    """Writes metrics.json, and (``pictures``) confusion_matrix.png and (with
    ``examples``) top_losses.png and top_losses.csv into ``directory``.

    Returns:
      (path of metrics.json, the pictures as RGB arrays by name; {} without pictures).
    """
    path = os.path.join(directory, METRICS_FILE)
    write_atomic(path, json.dumps(report, indent=2))
    if not pictures:
        return path, {}
    images = draw(matrix=report['confusion_matrix'], class_names=report['class_names'],
                      examples=examples, misclassified=misclassified, step=step,
                      source=os.path.basename(str(report.get('source', ''))))
    if report.get('threshold_curve'):
        where = report.get('step')
        images['precision_recall'] = operating_point.picture(
            report['threshold_curve'], 'Precision-recall' + (
                f' \u2014 step {where}' if where is not None else ''))
    write_pictures(images, directory, examples, report['class_names'])
    return path, images


def format_tta(report):
    """'TTA flip (2 views): top-1 0.9000 (plain 0.8750)  macro-F1 ...' for a report with
    'tta'."""
    tta = report['tta']
    parts = [f"{key.replace('_accuracy', '').replace('_', '-')} {tta[key]:.4f} "
             f"(plain {report[key]:.4f})" for key in tta if key.endswith('_accuracy')]
    parts.append(f"macro-F1 {tta['macro_f1']:.4f} (plain {report['macro_f1']:.4f})")
    return f"TTA {tta['views']}: " + '  '.join(parts)
