"""Classification metrics: top-1/top-k, per-class precision/recall/F1, confusion matrix."""

import json
import os

import numpy as np
from PIL import Image, ImageDraw


def classification_report(labels, probabilities, class_names, top_k=5):
    """A JSON-ready dict of metrics for integer ``labels`` and [N, K] ``probabilities``.

    Besides top-1 it reports ``top_<k>_accuracy`` for k = min(top_k, K - 1), and only
    when that k is at least 2: a top-k over all K classes is always 1.0 and says nothing
    (so a two-class report has top-1 only).
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
        'class_names': list(class_names),
        'confusion_matrix': matrix.tolist(),
        'confusion_matrix_axes': 'rows: true class, columns: predicted class',
    }


def confusion_png(matrix, class_names, path, cell=48):
    """Draws the confusion matrix as a heat map with counts (rows true, cols predicted)."""
    matrix = np.asarray(matrix)
    k = len(class_names)
    margin = 12 + 7 * max(len(n) for n in class_names)
    size = margin + k * cell + 10
    image = Image.new('RGB', (size, size + 20), 'white')
    draw = ImageDraw.Draw(image)
    peak = max(int(matrix.max()), 1)
    for i in range(k):
        draw.text((4, margin + i * cell + cell // 2 - 5), class_names[i], fill='black')
        draw.text((margin + i * cell + 4, margin - 16), class_names[i][:cell // 7],
                  fill='black')
        for j in range(k):
            shade = int(255 - 200 * matrix[i, j] / peak)
            box = [margin + j * cell, margin + i * cell, margin + (j + 1) * cell - 1,
                   margin + (i + 1) * cell - 1]
            draw.rectangle(box, fill=(shade, shade, 255), outline='gray')
            draw.text((box[0] + 6, box[1] + cell // 2 - 5), str(int(matrix[i, j])),
                      fill='black' if shade > 120 else 'white')
    draw.text((margin, size), 'rows: true  columns: predicted', fill='black')
    image.save(path)


def write_report(report, directory):
    """Writes metrics.json and confusion_matrix.png into ``directory``."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, 'metrics.json'), 'w') as f:
        json.dump(report, f, indent=2)
    confusion_png(report['confusion_matrix'], report['class_names'],
                  os.path.join(directory, 'confusion_matrix.png'))
    return os.path.join(directory, 'metrics.json')
