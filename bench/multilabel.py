"""Multi-label fine-tuning end to end on composites of real photos, with known truth.

Usage: python bench/multilabel.py [--root DIR] [--train 600] [--val 150] [--test 150]
                                  [--steps 400] [--crop 0.45,0.9] [--out FILE.json]

Data: six real photos of scikit-image (astronaut, chelsea, coffee, rocket,
immunohistochemistry, hubble_deep_field) are the classes. Each 128x128 image is a 2x2
grid over a noisy grey background; 1 to 3 of its cells hold a random crop (45-90% of
the photo's side by default, --crop; flipped at random) of distinct classes, so its
label set is known.
Crops are drawn anew for every image, so test images are unseen crops. Train and
validation images go through `jacktf convert --labels_csv` (iterative stratification);
the test images are a separate CSV conversion.

Run: the demo recipe's MobileNet v1 0.25 (shipped ImageNet weights, staged
fine-tuning) with ``Model.head = @multilabel_logits``; the evaluations tune per-label
thresholds on the validation split (max F1). Then the test split: mAP and macro-F1 at
the tuned thresholds (of the checkpoint), and the label sets of the exported SavedModel,
TFLite and ONNX models on the test images compared with the checkpoint's.
Needs `pip install .[bench,tflite,onnx]`. Prints JSON.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from common import emit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ('astronaut', 'chelsea', 'coffee', 'rocket', 'immunohistochemistry',
           'hubble_deep_field')
SIZE, CELL = 128, 64


def photos():
    import skimage.data
    return {name: getattr(skimage.data, name)()[..., :3] for name in CLASSES}


def composite(rng, sources, labels, crop_range=(0.45, 0.9)):
    """A SIZE x SIZE image whose cells hold crops of ``labels``' photos (each crop's
    side a ``crop_range`` share of the photo's shorter side)."""
    from PIL import Image
    image = rng.normal(128, 20, [SIZE, SIZE, 3]).clip(0, 255).astype(np.uint8)
    cells = rng.permutation(4)[:len(labels)]
    for cell, label in zip(cells, labels):
        photo = sources[CLASSES[label]]
        h, w = photo.shape[:2]
        side = int(min(h, w) * rng.uniform(*crop_range))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = Image.fromarray(photo[y:y + side, x:x + side]).resize((CELL, CELL))
        crop = np.asarray(crop)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        r, c = divmod(int(cell), 2)
        image[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL] = crop
    return image


def make_split(folder, count, seed, sources, crop=(0.45, 0.9)):
    """Writes ``count`` composites as JPEGs and folder/labels.csv; returns the rows."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    rows = []
    for i in range(count):
        k = int(rng.integers(1, 4))
        labels = sorted(int(v) for v in rng.permutation(len(CLASSES))[:k])
        name = f'img{i:05d}.jpg'
        Image.fromarray(composite(rng, sources, labels, crop)).save(
            os.path.join(folder, name), quality=92)
        rows.append((name, [CLASSES[v] for v in labels]))
    with open(os.path.join(folder, 'labels.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['path', 'labels'])
        for name, names in rows:
            writer.writerow([name, ' '.join(names)])
    return rows


def jacktf(*args):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_USE_LEGACY_KERAS='1')
    r = subprocess.run([sys.executable, '-m', 'jacktf.cli', *args], capture_output=True,
                       text=True, cwd=ROOT, env=env)
    if r.returncode:
        raise SystemExit(f'jacktf {args[0]} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}')
    return r


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=None)
    parser.add_argument('--train', type=int, default=600)
    parser.add_argument('--val', type=int, default=150)
    parser.add_argument('--test', type=int, default=150)
    parser.add_argument('--steps', type=int, default=400)
    parser.add_argument('--crop', default='0.45,0.9',
                        help='crop side range, a share of the photo (smaller: harder)')
    parser.add_argument('--out', default=None)
    parser.add_argument('--report_only', action='store_true',
                        help='only the test report of an existing --root run')
    args = parser.parse_args()
    root = args.root or tempfile.mkdtemp(prefix='jacktf-multilabel-')
    if args.report_only:
        return report(args, root, _read_rows(os.path.join(root, 'test')), None)
    sources = photos()
    crop = tuple(float(v) for v in args.crop.split(','))
    make_split(os.path.join(root, 'trainval'), args.train + args.val, 1, sources, crop)
    test_rows = make_split(os.path.join(root, 'test'), args.test, 2, sources, crop)
    frac = args.val / (args.train + args.val)
    jacktf('convert', '--labels_csv', os.path.join(root, 'trainval', 'labels.csv'),
           '--output_dir', os.path.join(root, 'tfr'), '--val_fraction', f'{frac:.4f}',
           '--overwrite')
    jacktf('convert', '--labels_csv', os.path.join(root, 'test', 'labels.csv'),
           '--output_dir', os.path.join(root, 'test_tfr'), '--val_fraction', '0',
           '--num_shards', '1', '--overwrite')
    model_dir = os.path.join(root, 'run')
    start = time.time()
    jacktf('train', '--gin_file', 'gin/demo.gin', '--model_dir', model_dir,
           '--gin_param', f"TRAIN_FILES = '{root}/tfr/train-*.tfrecord'",
           '--gin_param', f"EVAL_FILES = '{root}/tfr/validation-*.tfrecord'",
           '--gin_param', f'NUM_CLASSES = {len(CLASSES)}',
           '--gin_param', f'TRAIN_STEPS = {args.steps}',
           '--gin_param', 'Model.head = @multilabel_logits')
    train_seconds = time.time() - start
    jacktf('export', '--model_dir', model_dir, '--tflite', 'float', '--onnx', '--overwrite')
    return report(args, root, test_rows, train_seconds)


def _read_rows(folder):
    with open(os.path.join(folder, 'labels.csv')) as f:
        rows = list(csv.reader(f))[1:]
    return [(name, labels.split()) for name, labels in rows]


def report(args, root, test_rows, train_seconds):
    """Test-split numbers and export parity of the run in root/run; prints JSON."""
    model_dir = os.path.join(root, 'run')
    with open(os.path.join(root, 'tfr', 'dataset.json')) as f:
        info = json.load(f)
    from multilabel_parity import test_report
    with open(os.path.join(model_dir, 'labels.txt')) as f:  # the run's order (sorted)
        classes = f.read().split()
    result = test_report(model_dir, os.path.join(root, 'test'), test_rows, classes)
    result = {'bench': 'multilabel', 'classes': classes,
              'images': {'train': info['images']['train'],
                         'validation': info['images']['validation'],
                         'test': len(test_rows)},
              'labels_per_image_train': info['labels_per_image']['train'],
              'train_steps': args.steps, 'crop': args.crop,
              'train_seconds': None if train_seconds is None else round(train_seconds, 1),
              'targets': {'mAP': 0.9, 'macro_f1': 0.85}, **result}
    result['meets_targets'] = bool(result['test']['mAP'] >= 0.9 and
                                   result['test']['macro_f1'] >= 0.85)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    emit(result)


if __name__ == '__main__':
    main()
