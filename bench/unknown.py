"""The "unknown" answer on real data: fine-tune the shipped MobileNet v1 0.25 (gin/demo.gin)
on one real data set, calibrate the out-of-distribution threshold on its validation
split (the end of training does it, as for any run), then measure the share of its own
test images flagged as unknown and the share of images of unrelated real data sets
flagged, for each score (max_softmax, energy, max_logit) at its calibrated threshold.

Usage: python bench/unknown.py [--datasets textures,digits] [--epochs 10] [--keep 0.95]
                               [--root DIR] [--out bench/results/unknown.json]

Data (bench/quality_data.py, nothing downloads): each in-distribution set is split into
train / validation (calibration) / test (measured); the out-of-distribution sets are the
other real sets (all their images): textures (scikit-image brick, grass, gravel photos),
digits (scikit-learn handwritten digit scans), faces (scikit-image LFW subset), photos
(crops of cat, coffee, parrot, hot dog, astronaut and rocket photos). ``best_score`` is the
score with the highest mean OOD-flagged share over the trained sets (AUROC breaks ties).
The SavedModel's own ``is_unknown`` output is measured too (the default score), so the
numbers are those of the shipped path.
"""

import argparse
import glob
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from common import emit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

import quality_data  # noqa: E402

OOD_SETS = ('textures', 'digits', 'faces', 'photos')


def build(root, name):
    """ROOT/data/NAME/{train,validation,test}: the builder's test split halved (even
    images -> validation, odd -> test, per class); returns the builder's info."""
    info = quality_data.BUILDERS[name](os.path.join(root, 'data'))
    base = os.path.join(root, 'data', name)
    for folder in sorted(glob.glob(os.path.join(base, 'test', '*'))):
        target = os.path.join(base, 'validation', os.path.basename(folder))
        os.makedirs(target, exist_ok=True)
        for i, path in enumerate(sorted(os.listdir(folder))):
            if i % 2 == 0:
                shutil.move(os.path.join(folder, path), os.path.join(target, path))
    return info


def images_of(folder):
    return sorted(glob.glob(os.path.join(folder, '**', '*.png'), recursive=True))


def logits_of(model, paths, batch=64):
    import tensorflow as tf
    out = []
    for i in range(0, len(paths), batch):
        images = [model.preprocess(tf.io.decode_image(open(p, 'rb').read(), channels=3,
                                                      expand_animations=False),
                                   training=False) for p in paths[i:i + batch]]
        out.append(model.predict(tf.stack(images), training=False)['logits'].numpy())
    return np.concatenate(out)


def train(root, name, info, epochs, keep):
    from jacktf.app import runtime
    from jacktf.data import converter
    import tensorflow as tf
    base = os.path.join(root, 'data', name)
    for split in ('train', 'validation'):
        converter.convert(os.path.join(base, split), os.path.join(base, f'{split}_tfrecord'),
                          val_fraction=0, num_shards=1, progress=False, overwrite=True)
    params = [f"TRAIN_FILES = '{base}/train_tfrecord/train-*.tfrecord'",
              f"EVAL_FILES = '{base}/validation_tfrecord/train-*.tfrecord'",
              f"NUM_CLASSES = {info['classes']}", 'BATCH_SIZE = 16', 'TRAIN_STEPS = None',
              f'TRAIN_EPOCHS = {epochs}', 'Experiment.preview_images = 0',
              'Trainer.eval_every_epochs = 0', f'Experiment.unknown_keep = {keep}']
    model_dir = os.path.join(root, 'runs', name)
    tf.keras.backend.clear_session()
    t0 = time.time()
    summary = runtime.experiment_from_gin(['gin/demo.gin'], params, model_dir).run(
        'train_and_eval')
    experiment = runtime.experiment_from_gin(
        [os.path.join(model_dir, 'operative_config.gin')], (), model_dir)
    return experiment, summary, round(time.time() - t0, 1)


def measure(root, name, others, epochs, keep):
    from sklearn.metrics import roc_auc_score
    from jacktf.evaluation import unknown
    from jacktf.serve import runners
    info = build(root, name)
    experiment, summary, seconds = train(root, name, info, epochs, keep)
    checkpoint = experiment.restore_latest()
    calibration = unknown.read(checkpoint)
    test = images_of(os.path.join(root, 'data', name, 'test'))
    ood = {o: images_of(os.path.join(root, 'data', o)) for o in others}
    test_logits = logits_of(experiment.model, test)
    ood_logits = {o: logits_of(experiment.model, paths) for o, paths in ood.items()}
    row = {'dataset': name, 'source': info['source'], 'classes': info['classes'],
           'train_images': len(images_of(os.path.join(root, 'data', name, 'train'))),
           'validation_images': calibration['validation_images'], 'test_images': len(test),
           'ood_images': {o: len(p) for o, p in ood.items()}, 'train_seconds': seconds,
           'validation_accuracy': round(summary['eval_accuracy'], 4),
           'test_accuracy': round(float(np.mean(test_logits.argmax(1) == [
               sorted(os.listdir(os.path.join(root, 'data', name, 'test'))).index(
                   p.split(os.sep)[-2]) for p in test])), 4), 'scores': {}}
    for kind in unknown.SCORES:
        threshold = calibration['thresholds'][kind]
        inside = unknown.scores(test_logits, kind)
        flagged = {o: float(unknown.is_unknown(unknown.scores(l, kind), threshold).mean())
                   for o, l in ood_logits.items()}
        outside = np.concatenate([unknown.scores(l, kind) for l in ood_logits.values()])
        row['scores'][kind] = {
            'threshold': threshold,
            'test_flagged': round(float(unknown.is_unknown(inside, threshold).mean()), 4),
            'ood_flagged': {o: round(v, 4) for o, v in flagged.items()},
            'ood_flagged_mean': round(float(np.mean(list(flagged.values()))), 4),
            'ood_flagged_all': round(float(unknown.is_unknown(outside, threshold).mean()), 4),
            'auroc': round(float(roc_auc_score(np.r_[np.ones(len(inside)),
                                                     np.zeros(len(outside))],
                                               np.r_[inside, outside])), 4)}
    runner = runners.SavedModelRunner(os.path.join(experiment.model_dir, 'export'))
    served = {'test': float(runner.predict([open(p, 'rb').read() for p in test])[
        'is_unknown'].mean())}
    served.update({o: float(runner.predict([open(p, 'rb').read() for p in paths])[
        'is_unknown'].mean()) for o, paths in ood.items()})
    row['saved_model'] = {'score': runner.unknown['score'], 'flagged': {
        k: round(v, 4) for k, v in served.items()}}
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--datasets', default='textures,digits')
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--keep', type=float, default=0.95)
    p.add_argument('--root', default=None)
    p.add_argument('--out', default=None)
    p.add_argument('--table', default=None, metavar='JSON',
                   help='print the markdown table of an earlier result and exit')
    args = p.parse_args()
    if args.table:
        with open(args.table) as f:
            print(markdown_table(json.load(f)))
        return
    root = args.root or tempfile.mkdtemp(prefix='jacktf-unknown-')
    import logging
    from jacktf.app import runtime
    runtime.setup_logging()
    logging.getLogger('jacktf').setLevel(logging.WARNING)
    result = {'recipe': 'gin/demo.gin (MobileNet v1 0.25, shipped ImageNet weights)',
              'epochs': args.epochs, 'keep': args.keep, 'runs': []}
    t0 = time.time()
    for name in args.datasets.split(','):
        others = [o for o in OOD_SETS if o != name]
        for o in others:
            if not os.path.isdir(os.path.join(root, 'data', o)):
                quality_data.BUILDERS[o](os.path.join(root, 'data'))
        result['runs'].append(measure(root, name, others, args.epochs, args.keep))
        print(json.dumps(result['runs'][-1]), file=sys.stderr, flush=True)
        if args.out:
            _write(args.out, result)
    mean = {kind: float(np.mean([r['scores'][kind]['ood_flagged_mean']
                                 for r in result['runs']])) for kind in result['runs'][0]['scores']}
    auroc = {kind: float(np.mean([r['scores'][kind]['auroc'] for r in result['runs']]))
             for kind in mean}
    result['best_score'] = max(mean, key=lambda k: (round(mean[k], 4), auroc[k]))
    result['mean_ood_flagged'] = {k: round(v, 4) for k, v in mean.items()}
    result['mean_auroc'] = {k: round(v, 4) for k, v in auroc.items()}
    result['seconds'] = round(time.time() - t0, 1)
    if args.out:
        _write(args.out, result)
    emit(result)


def markdown_table(result):
    """One row per trained set x score: test flagged, each OOD set flagged, AUROC."""
    lines = ['| trained on (test accuracy) | score | own test images flagged | '
             'unrelated images flagged (per set) | all unrelated flagged | AUROC |',
             '|---|---|---:|---|---:|---:|']
    for row in result['runs']:
        for kind, s in row['scores'].items():
            per_set = ', '.join(f'{o} {v:.0%}' for o, v in s['ood_flagged'].items())
            best = ' (default)' if kind == 'energy' else ''
            lines.append(f"| {row['dataset']} ({row['test_accuracy']:.0%}) | {kind}{best} | "
                         f"{s['test_flagged']:.1%} | {per_set} | {s['ood_flagged_all']:.1%} | "
                         f"{s['auroc']:.3f} |")
    return '\n'.join(lines)


def _write(path, result):
    with open(path + '.tmp', 'w') as f:
        json.dump(result, f, indent=1)
    os.replace(path + '.tmp', path)


if __name__ == '__main__':
    main()
