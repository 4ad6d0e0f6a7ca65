"""Sizes and agreement of every deployment format, for the tiny demo model and for the
official MobileNet v1 0.25 with its own ImageNet classifier (shipped weights).

Usage: python bench/deploy_formats.py --photos DIR [--out DIR] [--skip_tiny]

The tiny model trains gin/tiny_from_scratch.gin as it is and exports through
`jacktf export`. MobileNet is exported through the Python API: with no ImageNet data
here, its int8 model is calibrated on, and every format checked on, random crops and
flips of the photos in DIR (calibration and check sets drawn with different seeds),
and measured without the export's thresholds (the JSON says which it would miss).
Then `jacktf predict` runs the first photo (chelsea.png if present) through the
SavedModel, the float and int8 TFLite models and the ONNX model.
Prints JSON: per model and format, bytes, top-1 agreement and max |diff| with the
SavedModel, and the top-3 of each format on the photo.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

from common import emit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMATS = ('float', 'float16', 'dynamic', 'int8')


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    r = subprocess.run([sys.executable, '-m'] + list(args), capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=3600)
    if r.returncode:
        raise SystemExit(f'{" ".join(args)} failed:\n{r.stderr[-3000:]}')
    return r.stdout


def crops(paths, count, seed):
    """``count`` JPEGs: random crops (50-100% of each side) and flips of the photos."""
    rng = np.random.default_rng(seed)
    photos = [Image.open(p).convert('RGB') for p in paths]
    out = []
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        cw, ch = int(w * rng.uniform(0.5, 1)), int(h * rng.uniform(0.5, 1))
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        image = photo.crop((left, top, left + cw, top + ch))
        if rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        buffer = io.BytesIO()
        image.save(buffer, format='JPEG', quality=90)
        out.append(buffer.getvalue())
    return out


def predict_all(models, photo):
    rows = json.loads(_cli('jacktf.cli', 'predict', '--json', '--top_k', '3',
                           *sum((['--model', m] for m in models), []), photo))
    return {row['model']: [(p['class_name'], round(p['probability'], 4))
                           for p in row['predictions']] for row in rows}


def summary_of(saved_model, folder_tflite, folder_onnx):
    from jacktf.serve import verify
    out = {'saved_model_bytes': sum(os.path.getsize(os.path.join(d, f))
                                    for d, _, fs in os.walk(saved_model) for f in fs)}
    cards = {f'tflite_{fmt}': (os.path.join(folder_tflite, f'{fmt}.json'), fmt)
             for fmt in FORMATS}
    cards['onnx'] = (os.path.join(folder_onnx, 'model.json'), 'onnx')
    for key, (path, fmt) in cards.items():
        check = json.load(open(path))['verification']
        out[key] = {k: check[k] for k in ('top1_agreement', 'max_abs_diff', 'images')}
        out[key]['bytes'] = json.load(open(path))['bytes']
        out[key]['default_thresholds_missed'] = verify.shortfalls(
            check, verify.THRESHOLDS[fmt])
    return out


def tiny(out, photo):
    model_dir = os.path.join(out, 'tiny')
    _cli('jacktf.run', '--gin_file=gin/tiny_from_scratch.gin', f'--model_dir={model_dir}')
    _cli('jacktf.cli', 'export', '--model_dir', model_dir, '--tflite',
         ','.join(FORMATS), '--onnx')
    step = max(int(n) for n in os.listdir(os.path.join(model_dir, 'export')) if n.isdigit())
    export = os.path.join(model_dir, 'export')
    saved = os.path.join(export, str(step))
    result = summary_of(saved, os.path.join(export, 'tflite', str(step)),
                        os.path.join(export, 'onnx', str(step)))
    models = [saved] + [os.path.join(export, 'tflite', str(step), f'{f}.tflite')
                        for f in ('float', 'int8')] + [
        os.path.join(export, 'onnx', str(step), 'model.onnx')]
    result['predict'] = predict_all(models, photo)
    return result


def mobilenet(out, photos, photo, count):
    import jacktf  # noqa: F401
    from jacktf.app import runtime
    from jacktf.core.model import Model
    from jacktf.core.restore import restore_from_checkpoint
    from jacktf.pretrained import resolve_checkpoint
    from jacktf.pretrained import builtin
    from jacktf.serve import deploy, verify
    registry = runtime.load_plugins()
    runtime.setup_logging(stream=sys.stderr)
    model = Model(backbone='mobilenet_v1_025', head='native', registry=registry).build()
    restore_from_checkpoint(model, 'builtin://mobilenet_v1_025', resolve_uri=resolve_checkpoint)
    names = builtin.official_class_names(model.num_classes)
    export = os.path.join(out, 'mobilenet_v1_025')
    checked = [open(p, 'rb').read() for p in photos] + crops(photos, count, seed=1)
    deploy.export_all(
        model, export_dir=export, version=1, class_names=names, tflite_variants=FORMATS,
        onnx=True, verify_images=checked, verify_source=f'{len(checked)} crops of photos',
        representative=crops(photos, count, seed=0),
        representative_source=f'{count} crops of photos', registry=registry,
        source={'checkpoint': 'builtin://mobilenet_v1_025', 'step': 1},
        limits={fmt: {} for fmt in verify.THRESHOLDS})  # measure; judged in summary_of
    saved = os.path.join(export, '1')
    result = summary_of(saved, os.path.join(export, 'tflite', '1'),
                        os.path.join(export, 'onnx', '1'))
    models = [saved] + [os.path.join(export, 'tflite', '1', f'{f}.tflite')
                        for f in ('float', 'int8')] + [
        os.path.join(export, 'onnx', '1', 'model.onnx')]
    result['predict'] = predict_all(models, photo)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--photos', required=True, help='a folder of photos (JPEG/PNG)')
    parser.add_argument('--out', default=None, help='where exports go (default: a temp '
                        'folder)')
    parser.add_argument('--count', type=int, default=100,
                        help='crops for calibration and for the check, each')
    parser.add_argument('--skip_tiny', action='store_true')
    args = parser.parse_args()
    photos = sorted(os.path.join(args.photos, f) for f in os.listdir(args.photos)
                    if f.lower().endswith(('.png', '.jpg', '.jpeg')))
    photo = next((p for p in photos if os.path.basename(p) == 'chelsea.png'), photos[0])
    out = args.out or tempfile.mkdtemp(prefix='jacktf-deploy-bench-')
    result = {'photo': photo, 'out': out}
    if not args.skip_tiny:
        result['tiny_from_scratch'] = tiny(out, photo)
    result['mobilenet_v1_025_native'] = mobilenet(out, photos, photo, args.count)
    emit(result)


if __name__ == '__main__':
    main()
