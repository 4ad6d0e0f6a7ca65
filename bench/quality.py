"""Quality of the shipped fine-tuning defaults: test accuracy of the demo recipe
(MobileNet v1 0.25, shipped ImageNet weights) on real data sets, default vs a small
learning-rate x augmentation sweep, at several batch sizes.

Usage: python bench/quality.py [--recipe gin/demo.gin] [--datasets digits,textures,...]
                               [--batches 8,16,32,64] [--epochs 10]
                               [--variants default,no_clip,lr_x0.3,lr_x3,no_aug]
                               [--root DIR] [--out results.json]

Data sets (bench/quality_data.py): real images available offline, 2-10 classes, 96-200
training images (also photos and demo, by --datasets). Each run: the recipe with nothing set but TRAIN_FILES, EVAL_FILES (the
test split), NUM_CLASSES, BATCH_SIZE and TRAIN_EPOCHS (TRAIN_STEPS = None), plus the
variant's bindings; no export, and one evaluation at the end (an evaluation draws its
pictures, which costs more than training these small sets). ``default`` is the recipe as shipped; the sweep changes
LEARNING_RATE (the rate at the recipe's reference batch; the run scales it to its batch
as the default does) or turns the training augmentation off. Reported: the final test
accuracy per data set x batch size (the model of the last step, not the best
checkpoint: no choice made on the test split), and
whether the default is within 0.02 of the sweep's best final accuracy.
"""

import argparse
import json
import logging
import os
import sys
import tempfile
import time

from common import emit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

import quality_data  # noqa: E402

BASE_LR = 0.01  # the demo recipe's LEARNING_RATE
VARIANTS = {
    'default': [],
    'lr_x0.3': [f'LEARNING_RATE = {BASE_LR * 0.3:g}'],
    'lr_x3': [f'LEARNING_RATE = {BASE_LR * 3:g}'],
    'no_aug': ['Model.train_augmentation = False'],
    'no_flip': ['Model.flip = False'],
    'flip': ['Model.flip = True'],
    'flip_area_0.8': ['Model.flip = True',
                      "Model.preprocessing_kwargs = {'area_range': (0.8, 1.0)}"],
    'area_0.6': ["Model.preprocessing_kwargs = {'area_range': (0.6, 1.0)}"],
    'no_flip_area_0.8': ['Model.flip = False',
                         "Model.preprocessing_kwargs = {'area_range': (0.8, 1.0)}"],
    'area_0.8': ["Model.preprocessing_kwargs = {'area_range': (0.8, 1.0)}"],
    'head_x3': [f'LEARNING_RATE = {BASE_LR * 3:g}', "all/stage.lr_multipliers = {'backbone': 0.033}"],
    'head_x3_area_0.6': [f'LEARNING_RATE = {BASE_LR * 3:g}', "all/stage.lr_multipliers = {'backbone': 0.033}", "Model.preprocessing_kwargs = {'area_range': (0.6, 1.0)}"],
    'head_x3_no_aug': [f'LEARNING_RATE = {BASE_LR * 3:g}', "all/stage.lr_multipliers = {'backbone': 0.033}", 'Model.train_augmentation = False'],
    'no_clip': ['Trainer.clip_gradient_norm = None'],
    'bb_0.3': ["all/stage.lr_multipliers = {'backbone': 0.3}"],
    'bb_1': ["all/stage.lr_multipliers = {'backbone': 1.0}"],
    'train_bn': ['Model.train_batch_norm = True'],
    'no_freeze': ['FREEZE_SCOPES = []'],
    'bb_0.3_no_freeze': ["all/stage.lr_multipliers = {'backbone': 0.3}", 'FREEZE_SCOPES = []'],
    'bb_0.03': ["all/stage.lr_multipliers = {'backbone': 0.03}"],
    'lr_x2': [f'LEARNING_RATE = {BASE_LR * 2:g}'],
    'lr_x0.5': [f'LEARNING_RATE = {BASE_LR * 0.5:g}'],
    'no_stages': ['Trainer.stages = []', "Trainer.lr_multipliers = {'backbone': 0.1}",
                  'cosine.warmup_steps = 0.1'],
    'lr_x3_no_aug': [f'LEARNING_RATE = {BASE_LR * 3:g}', 'Model.train_augmentation = False'],
}


def run_one(recipe, data_dir, info, batch, epochs, variant, model_dir, seed=0):
    import tensorflow as tf
    from jacktf.app import runtime
    params = [f"TRAIN_FILES = '{data_dir}/train_tfrecord/train-*.tfrecord'",
              f"EVAL_FILES = '{data_dir}/test_tfrecord/train-*.tfrecord'",
              f"NUM_CLASSES = {info['classes']}", f'BATCH_SIZE = {batch}',
              'TRAIN_STEPS = None', f'TRAIN_EPOCHS = {epochs}',
              'Experiment.export_at_end = False', 'Experiment.preview_images = 0',
              'Trainer.eval_every_epochs = 0',  # one evaluation, at the end
              f'Experiment.seed = {seed}'] + VARIANTS[variant]
    tf.keras.backend.clear_session()
    t0 = time.time()
    summary = runtime.experiment_from_gin([recipe], params, model_dir).run('train_and_eval')
    return {'accuracy': round(summary['eval_accuracy'], 4), 'steps': summary['step'], 'seconds': round(time.time() - t0, 1)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--recipe', default='gin/demo.gin')
    p.add_argument('--datasets', default='digits,faces,textures')
    p.add_argument('--batches', default='8,16,32,64')
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--variants', default='default,no_clip,lr_x0.3,lr_x3,no_aug')
    p.add_argument('--root', default=None, help='where the data sets and runs go')
    p.add_argument('--out', default=None, help='also write the JSON here')
    p.add_argument('--table', default=None, metavar='JSON',
                   help='print the markdown table of an earlier result and exit')
    args = p.parse_args()
    if args.table:
        with open(args.table) as f:
            print(markdown_table(json.load(f)))
        return
    root = args.root or tempfile.mkdtemp(prefix='jacktf-quality-')
    from jacktf.app import runtime
    from jacktf.data import converter
    runtime.setup_logging()
    logging.getLogger('jacktf').setLevel(logging.WARNING)
    variants = args.variants.split(',')
    result = {'recipe': args.recipe, 'epochs': args.epochs, 'variants': {
        v: VARIANTS[v] for v in variants}, 'datasets': {}, 'runs': []}
    t_start = time.time()
    for name in args.datasets.split(','):
        info = quality_data.BUILDERS[name](os.path.join(root, 'data'))
        for split in ('train', 'test'):  # as a user would: `jacktf convert`
            converter.convert(os.path.join(root, 'data', name, split),
                              os.path.join(root, 'data', name, f'{split}_tfrecord'),
                              val_fraction=0, num_shards=1, progress=False, overwrite=True,
                              allow_conflicts=True)  # the bench measures training
        result['datasets'][name] = info
        for batch in map(int, args.batches.split(',')):
            row = {'dataset': name, 'batch': batch}
            for variant in variants:
                model_dir = os.path.join(root, 'runs', f'{name}-b{batch}-{variant}')
                row[variant] = run_one(args.recipe, os.path.join(root, 'data', name),
                                       info, batch, args.epochs, variant, model_dir)
                print(name, batch, variant, row[variant], file=sys.stderr, flush=True)
            best = max(row[v]['accuracy'] for v in variants)
            row['best_of_sweep'] = best
            if 'default' in row:
                row['default_within_0.02'] = row['default']['accuracy'] >= best - 0.02
            result['runs'].append(row)
            if args.out:  # partial results survive an interrupted run
                _write(args.out, result)
    result['seconds'] = round(time.time() - t_start, 1)
    result['all_defaults_within_0.02'] = all(r.get('default_within_0.02', False)
                                             for r in result['runs'])
    if args.out:
        _write(args.out, result)
    emit(result)


def markdown_table(result):
    """Default vs best of the sweep, per data set x batch size."""
    variants = [v for v in result['variants'] if v != 'default']
    lines = ['| data set | batch | default | ' + ' | '.join(variants) +
             ' | best of sweep | default within 0.02 |',
             '|---|---:|---:|' + '---:|' * len(variants) + '---:|:---:|']
    for row in result['runs']:
        lines.append(f"| {row['dataset']} | {row['batch']} | "
                     f"{row['default']['accuracy']:.3f} | " +
                     ' | '.join(f"{row[v]['accuracy']:.3f}" if v in row else 'not run'
                                for v in variants) +
                     f" | {row['best_of_sweep']:.3f} | "
                     f"{'yes' if row['default_within_0.02'] else 'no'} |")
    return '\n'.join(lines)


def _write(path, result):
    with open(path + '.tmp', 'w') as f:
        json.dump(result, f, indent=1)
    os.replace(path + '.tmp', path)


if __name__ == '__main__':
    main()
