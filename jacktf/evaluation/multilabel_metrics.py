"""Multi-label metrics over multi-hot truth y [N, K] and probabilities p [N, K] (numpy).

Average precision is scikit-learn's (the step-wise area under the PR curve, no
interpolation); mAP is its mean over the labels with a positive example (macro) or over
all (example, label) pairs at once (micro). Thresholds are tuned per label on a
validation set: the one maximizing F1 (default), or the lowest reaching a target
precision (so the highest recall at that precision).
"""

import numpy as np

DEFAULT_THRESHOLD = 0.5


def _curve(y, p):
    """(precision, recall, thresholds) at every distinct score, highest first."""
    order = np.argsort(-p, kind='mergesort')
    y, p = y[order], p[order]
    distinct = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]
    tp = np.cumsum(y)[distinct]
    fp = (distinct + 1) - tp
    positives = y.sum()
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / positives if positives else np.zeros_like(tp, np.float64)
    return precision, recall, p[distinct]


def average_precision(y, p):
    """AP of one label (nan without a positive example)."""
    y = np.asarray(y, np.float64) > 0.5
    p = np.asarray(p, np.float64)
    if not y.any():
        return float('nan')
    precision, recall, _ = _curve(y.astype(np.float64), p)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def pr_curve(y, p):
    """(precision, recall, thresholds) of one label, for pictures."""
    return _curve((np.asarray(y) > 0.5).astype(np.float64), np.asarray(p, np.float64))


def mean_average_precision(y, p):
    """{'per_label': [AP or nan], 'macro': mean over labels with positives, 'micro'}."""
    y, p = np.asarray(y), np.asarray(p)
    per_label = [average_precision(y[:, k], p[:, k]) for k in range(y.shape[1])]
    valid = [a for a in per_label if not np.isnan(a)]
    return {'per_label': per_label,
            'macro': float(np.mean(valid)) if valid else float('nan'),
            'micro': average_precision(y.ravel(), p.ravel())}


def counts_at(y, p, thresholds):
    """(tp, fp, fn) per label [K] at ``thresholds`` (a number or [K])."""
    truth = np.asarray(y) > 0.5
    predicted = np.asarray(p) >= np.asarray(thresholds, np.float64)
    return ((truth & predicted).sum(0), (~truth & predicted).sum(0),
            (truth & ~predicted).sum(0))


def _f1(tp, fp, fn):
    tp, fp, fn = (np.asarray(v, np.float64) for v in (tp, fp, fn))
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def scores_at(y, p, thresholds, class_names):
    """Precision, recall, F1 per label and their macro/micro means, exact match."""
    tp, fp, fn = counts_at(y, p, thresholds)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
    recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
    f1 = _f1(tp, fp, fn)
    truth = np.asarray(y) > 0.5
    predicted = np.asarray(p) >= np.asarray(thresholds, np.float64)
    present = truth.sum(0) > 0
    return {
        'per_label': {name: {'precision': float(precision[k]), 'recall': float(recall[k]),
                             'f1': float(f1[k]), 'support': int(truth[:, k].sum())}
                      for k, name in enumerate(class_names)},
        'macro_f1': float(f1[present].mean()) if present.any() else 0.0,
        'micro_f1': float(_f1(tp.sum(), fp.sum(), fn.sum())),
        'macro_precision': float(precision[present].mean()) if present.any() else 0.0,
        'macro_recall': float(recall[present].mean()) if present.any() else 0.0,
        'exact_match': float(np.mean(np.all(truth == predicted, 1))) if len(truth) else 0.0,
    }


def tune_threshold(y, p, target_precision=None):
    """The threshold of one label: max F1 (midway to the next lower score, so new
    images a little below the lowest kept score still count), or the lowest
    threshold whose precision reaches ``target_precision``; 0.5 without positives."""
    y = (np.asarray(y) > 0.5).astype(np.float64)
    p = np.asarray(p, np.float64)
    if not y.any():
        return DEFAULT_THRESHOLD
    precision, recall, scores = _curve(y, p)
    if target_precision is None:
        score = np.where(precision + recall > 0, 2 * precision * recall /
                         np.maximum(precision + recall, 1e-12), 0.0)
        best = int(np.argmax(score))
    else:
        reaching = np.flatnonzero(precision >= target_precision)
        best = int(reaching[-1]) if reaching.size else int(np.argmax(precision))
    lower = scores[best + 1] if best + 1 < len(scores) else 0.0
    return float((scores[best] + lower) / 2)


def tune_thresholds(y, p, target_precision=None):
    """One threshold per label [K] (see :func:`tune_threshold`)."""
    y, p = np.asarray(y), np.asarray(p)
    return [tune_threshold(y[:, k], p[:, k], target_precision) for k in range(y.shape[1])]


def binary_cross_entropy(y, p, eps=1e-7):
    """Per-example BCE summed over labels [N] (from probabilities)."""
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    y = np.asarray(y, np.float64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(1)


def label_set(row, class_names, thresholds=None, probabilities=None):
    """The names of a multi-hot row (or of the probabilities at ``thresholds``)."""
    if probabilities is not None:
        row = np.asarray(probabilities) >= np.asarray(thresholds, np.float64)
    return [name for name, on in zip(class_names, np.asarray(row) > 0.5) if on]
