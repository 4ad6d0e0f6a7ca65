"""Test-split numbers of a multi-label run and the label-set parity of its exports
(used by bench/multilabel.py)."""

import os

import numpy as np


def checkpoint_probabilities(model_dir, paths):
    """Sigmoid probabilities of the run's latest checkpoint on image files, through
    the eval path (decode, the model's eval preprocessing, the network); and its step."""
    import tensorflow as tf
    from jacktf.commands.common import experiment_for
    experiment = experiment_for(model_dir)
    checkpoint = experiment.restore_latest()
    model = experiment.model
    out = []
    for path in paths:
        image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                                   expand_animations=False)
        x = model.preprocess(image, training=False)[None]
        out.append(model.postprocess(model.predict(x)['logits'])['probabilities'][0])
    step = int(checkpoint.rsplit('-', 1)[-1])
    return np.stack([np.asarray(p) for p in out]), step


def label_sets(probs, thresholds):
    return [tuple(np.flatnonzero(p >= np.asarray(thresholds))) for p in probs]


def test_report(model_dir, folder, rows, classes):
    """mAP / F1 at the tuned thresholds on the test rows; exports' label-set parity."""
    from jacktf.core import plugins
    from jacktf.evaluation import multilabel, multilabel_metrics as mm
    from jacktf.serve import runners
    paths = [os.path.join(folder, name) for name, _ in rows]
    index = {c: i for i, c in enumerate(classes)}
    truth = _multi_hot(rows, index)
    probs, step = checkpoint_probabilities(model_dir, paths)
    thresholds = multilabel.thresholds_for(model_dir, step, len(classes))
    scores = mm.scores_at(truth, probs, thresholds, classes)
    average = mm.mean_average_precision(truth, probs)
    reference = label_sets(probs, thresholds)
    encoded = [open(p, 'rb').read() for p in paths]
    registry = plugins.default_registry()
    exports = {'saved_model': os.path.join(model_dir, 'export', str(step)),
               'tflite_float': os.path.join(model_dir, 'export', 'tflite', str(step),
                                            'float.tflite'),
               'onnx': os.path.join(model_dir, 'export', 'onnx', str(step), 'model.onnx')}
    parity = {}
    for name, path in exports.items():
        runner = runners.open_model(path, registry)
        got = label_sets(runner.probabilities(encoded), runner.thresholds)
        parity[name] = {
            'same_label_sets': int(sum(a == b for a, b in zip(got, reference))),
            'images': len(reference),
            'thresholds_equal': bool(np.allclose(runner.thresholds, thresholds))}
    return {'checkpoint_step': step, 'thresholds': [round(t, 4) for t in thresholds],
            'test': {'mAP': round(average['macro'], 4),
                     'micro_mAP': round(average['micro'], 4),
                     'macro_f1': round(scores['macro_f1'], 4),
                     'micro_f1': round(scores['micro_f1'], 4),
                     'exact_match': round(scores['exact_match'], 4),
                     'per_label_f1': {k: round(v['f1'], 4)
                                      for k, v in scores['per_label'].items()},
                     'per_label_ap': {c: round(a, 4) for c, a in
                                      zip(classes, average['per_label'])}},
            'export_parity': parity}


def _multi_hot(rows, index):
    y = np.zeros([len(rows), len(index)], np.float32)
    for i, (_, names) in enumerate(rows):
        y[i, [index[n] for n in names]] = 1
    return y
