"""The operating point: the metrics a run ranks its checkpoints by, and for two classes
the threshold curve (precision and recall of the positive class at every threshold).

Every number here comes from the one evaluation (``evaluate``): the ranking metrics from
its confusion matrix, the curve from its probabilities. Best-k and early stopping rank
by any of ``MODES`` (``best_k.metric = 'min_recall'``); the curve gives the threshold a
deployment needs for a target precision or recall, and the export stores it with the
model (``operating_point.json`` in the SavedModel folder and the TFLite/ONNX cards).
"""

import numpy as np

from jacktf.evaluation import figures

# metric -> 'max' or 'min' (which is better)
MODES = {'accuracy': 'max', 'loss': 'min', 'macro_f1': 'max', 'balanced_accuracy': 'max',
         'mAP': 'max', 'micro_f1': 'max',  # multi-label models (evaluation/multilabel.py)
         'min_recall': 'max'}
TARGETS = (0.8, 0.9, 0.95, 0.99)  # precisions / recalls the report gives thresholds for
CURVE_POINTS = 101  # points of the curve kept in metrics.json
FILE = 'operating_point.json'
PICTURE = 'precision_recall.png'


def rank_metrics(matrix):
    """{'accuracy', 'macro_f1', 'balanced_accuracy', 'min_recall', 'worst_class'} of a
    [K, K] confusion matrix (rows true, columns predicted).

    Recall-based numbers count only the classes present (support > 0): a class missing
    from the eval data has no recall. macro_f1 averages the F1 of all K classes.
    ``worst_class`` is the index of the class with the lowest recall.
    """
    matrix = np.asarray(matrix, np.float64)
    support = matrix.sum(1)
    predicted = matrix.sum(0)
    tp = np.diag(matrix)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp),
                   where=precision + recall > 0)
    present = support > 0
    total = matrix.sum()
    if not present.any():
        nan = float('nan')
        return {'accuracy': nan, 'macro_f1': nan, 'balanced_accuracy': nan,
                'min_recall': nan, 'worst_class': None}
    worst = int(np.flatnonzero(present)[np.argmin(recall[present])])
    return {'accuracy': float(tp.sum() / total), 'macro_f1': float(f1.mean()),
            'balanced_accuracy': float(recall[present].mean()),
            'min_recall': float(recall[worst]), 'worst_class': worst}


def threshold_curve(labels, scores):
    """Precision and recall of the positive class (label 1) when an image is called
    positive at ``score >= threshold``, for every distinct score.

    Returns:
      {'thresholds', 'precision', 'recall'} (arrays, thresholds descending) and
      'average_precision' (the step-wise area under the curve, as scikit-learn's).
    """
    labels = np.asarray(labels) == 1
    scores = np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind='stable')
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # end of each score
    tp = np.cumsum(labels)[last].astype(np.float64)
    called = (last + 1).astype(np.float64)
    positives = float(labels.sum())
    precision = tp / called
    recall = tp / positives if positives else np.zeros_like(tp)
    gains = np.diff(np.r_[0.0, recall])
    return {'thresholds': scores[last], 'precision': precision, 'recall': recall,
            'average_precision': float((gains * precision).sum())}


def threshold_for(curve, *, precision=None, recall=None):
    """The threshold meeting a target: for ``precision``, the lowest threshold whose
    precision is at least the target (the most recall at that precision); for
    ``recall``, the highest threshold whose recall is at least the target (the most
    precision). Returns {'threshold', 'precision', 'recall'} or None when no threshold
    meets it."""
    if (precision is None) == (recall is None):
        raise ValueError('give one of precision= or recall=')
    if precision is not None:
        ok = np.flatnonzero(curve['precision'] >= precision)
        pick = ok[-1] if len(ok) else None
    else:
        ok = np.flatnonzero(curve['recall'] >= recall)
        pick = ok[0] if len(ok) else None
    if pick is None:
        return None
    return {'threshold': float(curve['thresholds'][pick]),
            'precision': float(curve['precision'][pick]),
            'recall': float(curve['recall'][pick])}


def summary(labels, probabilities, class_names, targets=TARGETS):
    """The two-class report section: the positive class (index 1), the average
    precision, the thresholds for each target precision and recall, and the curve
    (at most CURVE_POINTS points)."""
    curve = threshold_curve(labels, np.asarray(probabilities)[:, 1])
    keep = np.unique(np.linspace(0, len(curve['thresholds']) - 1,
                                 min(CURVE_POINTS, len(curve['thresholds']))).astype(int))
    return {
        'positive_class': class_names[1], 'score': f'probability of {class_names[1]!r}',
        'average_precision': curve['average_precision'],
        'for_precision': {str(t): threshold_for(curve, precision=t) for t in targets},
        'for_recall': {str(t): threshold_for(curve, recall=t) for t in targets},
        'curve': {k: [round(float(v), 6) for v in curve[k][keep]]
                  for k in ('thresholds', 'precision', 'recall')}}


def picture(section, title):
    """The precision-recall curve of a report's 'threshold_curve' section, with the
    thresholds for the target precisions marked; uint8 RGB [H, W, 3]."""
    figure = figures.new_figure(6.0, 4.6)
    ax = figure.subplots()
    curve = section['curve']
    ax.step(curve['recall'], curve['precision'], where='post', color='tab:blue')
    for target, point in section['for_precision'].items():
        if point:
            ax.plot(point['recall'], point['precision'], 'o', color='tab:red')
            ax.annotate(f"p>={target}: t={point['threshold']:.3f}",
                        (point['recall'], point['precision']), fontsize=7,
                        xytext=(4, -10), textcoords='offset points')
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"recall of {section['positive_class']}")
    ax.set_ylabel(f"precision of {section['positive_class']}")
    ax.set_title(f"{title} (AP {section['average_precision']:.3f})", fontsize=9)
    ax.grid(alpha=0.3)
    return figures.to_array(figure)


def for_export(report):
    """What an export stores of a report: the two-class thresholds (without the
    curve) and the ranking metrics, or None for a report without a threshold curve."""
    section = report.get('threshold_curve')
    if not section:
        return None
    return {'positive_class': section['positive_class'], 'score': section['score'],
            'average_precision': section['average_precision'],
            'for_precision': section['for_precision'], 'for_recall': section['for_recall'],
            'evaluated': {k: report[k] for k in ('step', 'eval_files', 'examples',
                                                 'top_1_accuracy', 'min_recall')
                          if k in report}}


def format_lines(report):
    """The lines `jacktf eval` prints about the operating point of ``report``."""
    if report.get('worst_class') is None:
        return []
    lines = [f"balanced accuracy {report['balanced_accuracy']:.4f}  worst-class recall "
             f"{report['min_recall']:.4f} ({report['worst_class']})"]
    section = report.get('threshold_curve')
    if section:
        def said(kind, target, point):
            if point is None:
                return f'{kind} >= {target}: none'
            return (f"{kind} >= {target}: threshold {point['threshold']:.4f} (precision "
                    f"{point['precision']:.3f}, recall {point['recall']:.3f})")
        lines.append(f"{section['score']}: average precision "
                     f"{section['average_precision']:.4f}")
        lines += ['  ' + said('precision', t, p) for t, p in section['for_precision'].items()]
        lines += ['  ' + said('recall', t, p) for t, p in section['for_recall'].items()]
    return lines
