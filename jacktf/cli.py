"""The `jacktf` command: train | convert | plugins | pretrained | inspect-checkpoint |
export | eval | predict.

Each subcommand is a small function over the public pieces; user mistakes exit with 2.
"""

import argparse
import json
import os
import sys

from jacktf.core import runtime


def cmd_plugins(args):
    registry = runtime.load_plugins()
    rows = []
    for entry in registry.entries(args.kind):
        row = {'name': entry.name, 'kind': entry.kind, 'provider': entry.provider,
               'summary': entry.summary}
        if entry.card is not None:
            card = entry.card
            row['card'] = {'scope': card.scope, 'default_image_size': card.default_image_size,
                           'preprocessing': card.preprocessing,
                           'num_classes_official': card.num_classes_official,
                           'features_endpoint': card.features_endpoint,
                           'cam_endpoint': card.cam_endpoint,
                           'classifier_scopes': list(card.classifier_scopes)}
        rows.append(row)
    if args.json:
        print(json.dumps({'plugins': rows, 'failures': [
            {'provider': p, 'message': m} for p, m in registry.failures]}, indent=2))
        return 0
    width = max([len(r['name']) for r in rows] + [4])
    pwidth = max([len(r['provider']) for r in rows] + [8])
    print(f'{"NAME":<{width}}  {"KIND":<12}  {"PROVIDER":<{pwidth}}  SUMMARY')
    for r in rows:
        summary = r['summary']
        if 'card' in r:
            c = r['card']
            summary = (f"scope={c['scope']} size={c['default_image_size']} "
                       f"prep={c['preprocessing']} classes={c['num_classes_official']}")
        print(f"{r['name']:<{width}}  {r['kind']:<12}  {r['provider']:<{pwidth}}  {summary}")
    for provider, message in registry.failures:
        print(f'FAILED {provider}: {message}', file=sys.stderr)
    return 0


def cmd_inspect_checkpoint(args):
    from jacktf.core.restore import restore_from_checkpoint
    experiment = runtime.experiment_from_gin(args.gin_file, args.gin_param)
    model = experiment.model.build()
    _, frozen = experiment.trainer.split_variables(model)
    report = restore_from_checkpoint(
        model, args.checkpoint, exclude_scopes=experiment.checkpoint_exclude_scopes,
        scope_map=experiment.scope_map, strict=False, frozen=frozen, dry_run=True,
        setting='--checkpoint')
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print('\n'.join(report.lines(verbose=args.verbose)))
    if not report.ok:
        runtime.fail(report.error_message())
    print('OK: a training run would start from this checkpoint.')
    return 0


def cmd_convert(args):
    from jacktf.data.converter import convert
    info = convert(args.image_dir, args.output_dir, val_fraction=args.val_fraction,
                   num_shards=args.num_shards, workers=args.workers, seed=args.seed,
                   overwrite=args.overwrite, max_pixels=args.max_pixels,
                   allow_empty_classes=args.allow_empty_classes)
    per_split = ', '.join(f'{split} {sum(c.values())}' for split, c in info['counts'].items())
    print(f"Wrote {info['num_written']} images of {len(info['classes'])} classes "
          f"({per_split}) to {args.output_dir} in {info['seconds']} s; "
          f"{info['num_skipped']} skipped.")
    for item in info['skipped']:
        print(f"  skipped {item['file']}: {item['reason']}")
    return 0


def _experiment_for(model_dir, gin_files=(), gin_params=()):
    """The Experiment of a model directory: its operative config unless files are given."""
    files = list(gin_files) or [os.path.join(model_dir, 'operative_config.gin')]
    if not gin_files and not os.path.exists(files[0]):
        if not os.path.isdir(model_dir):
            runtime.fail(f'--model_dir {model_dir!r}: no such folder. Give the MODEL_DIR of '
                         'a jacktf training run.')
        import glob
        if glob.glob(os.path.join(model_dir, 'saved_model.pb*')) or glob.glob(
                os.path.join(model_dir, '[0-9]*', 'saved_model.pb*')):
            runtime.fail(f'--model_dir {model_dir!r} holds a SavedModel export, not a '
                         'training run: give the run\'s MODEL_DIR (the folder holding '
                         'export/ and operative_config.gin); a SavedModel goes in '
                         '--saved_model.')
        runtime.fail(f'{files[0]} not found: give --gin_file, or a --model_dir written by '
                     'a jacktf training run (it writes operative_config.gin after its first '
                     'step).')
    return runtime.experiment_from_gin(files, gin_params, model_dir)


def cmd_export(args):
    from jacktf.serve import deploy, tflite, verify
    variants = tflite.parse_variants(args.tflite)
    limits = verify.thresholds(args.float_tolerance, args.min_agreement,
                               args.onnx_tolerance)
    experiment = _experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    summary = deploy.export_run(
        experiment, checkpoint=args.checkpoint, export_dir=args.export_dir,
        version=args.version, tflite_variants=variants, onnx=args.onnx,
        overwrite=args.overwrite, representative_count=args.representative_count,
        verify_count=args.verify_count, limits=limits)
    saved = summary['saved_model']
    parity = ('not checked: no decodable image found' if saved['parity'] is None
              else f"{saved['parity']:.2g}")
    kept = '; the existing export, kept' if saved['kept'] else ''
    print(f"SavedModel: {saved['path']} (parity max |diff| {parity}{kept})")
    for result in summary.get('tflite', []) + [summary[k] for k in ('onnx',)
                                               if k in summary]:
        name = 'ONNX' if result['format'] == 'onnx' else f"TFLite {result['variant']}"
        v = result['verification']
        print(f"{name}: {result['path']} ({result['bytes']} bytes; {v['runtime']}: top-1 "
              f"agreement {v['top1_agreement']:.2%}, max |diff| {v['max_abs_diff']:.3g} "
              f"on {v['images']} images)")
    return 0


def cmd_eval(args):
    if args.checkpoint and args.saved_model:
        runtime.fail('Give --checkpoint or --saved_model, not both: eval runs one of them.')
    experiment = _experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    report = experiment.evaluate_latest(checkpoint=args.checkpoint,
                                        saved_model=args.saved_model, tta=args.tta,
                                        top_losses=args.top_losses)
    top_k = ''.join(f"  {key.replace('_accuracy', '')} {report[key]:.4f}" for key in report
                    if key.startswith('top_') and key != 'top_1_accuracy')  # K > 2 only
    print(f"top-1 {report['top_1_accuracy']:.4f}{top_k}  macro-F1 "
          f"{report['macro_f1']:.4f}  on {report['examples']} examples of "
          f"{report['source']} -> {report['report_path']}")
    if 'tta' in report:
        from jacktf.evaluation.report import format_tta
        print(format_tta(report))
    return 0


def _note(message):
    """A line about the run (not its result): on stderr, so --json output stays JSON."""
    print(message, file=sys.stderr, flush=True)


def _read_inputs(inputs):
    """[(path, encoded)] of the inputs that can be predicted on, and [(path, reason)]."""
    from jacktf.serve import predict
    from jacktf.core.errors import DataError
    files = predict.collect_images(inputs)
    images, skipped = [], []
    for path in files:
        try:
            encoded, converted = predict.read_image(path)
        except predict.UnreadableImage as e:
            skipped.append((path, str(e)))
            continue
        images.append((path, encoded))
        if converted:
            _note(f'{path}: {converted}')
    if not images:
        listed = '; '.join(f'{path!r}: {reason}' for path, reason in skipped[:10])
        more = f'; and {len(skipped) - 10} more' if len(skipped) > 10 else ''
        what = (f'Cannot predict on {listed}' if len(files) == 1 else
                f'None of the {len(files)} input files can be predicted on: {listed}{more}')
        raise DataError(f'{what}. Give JPEG, PNG, GIF, BMP or WebP images.')
    return images, skipped


def _predict_rows(runner, images, top_k, tta=None):
    if tta:  # ranked by the TTA probabilities, the plain ones beside them
        from jacktf.evaluation import tta as tta_lib
        plain, probs = tta_lib.runner_probabilities(runner.probabilities,
                                                    [enc for _, enc in images], tta)
    else:
        probs = plain = runner.probabilities([enc for _, enc in images])
    names = runner.class_names
    rows = []
    for (path, _), p, q in zip(images, probs, plain):
        order = p.argsort()[::-1][:top_k]
        rows.append({'file': path, 'model': runner.path, 'format': runner.kind,
                     'predictions': [dict({'class': int(c), 'class_name': names[c],
                                           'probability': float(p[c])},
                                          **({'probability_plain': float(q[c])}
                                             if tta else {})) for c in order]})
        if tta:
            rows[-1]['tta'] = tta_lib.describe(tta)
    return rows


def _print_table(rows):
    width = max(len(r['file']) for r in rows)
    cwidth = max([len(p['class_name']) for r in rows for p in r['predictions']] + [5])
    tta = rows and 'tta' in rows[0]
    print(f'{"FILE":<{width}}  {"CLASS":<{cwidth}}  PROBABILITY' +
          (f"  (TTA {rows[0]['tta']}; PLAIN)" if tta else ''))
    for r in rows:
        for j, p in enumerate(r['predictions']):
            plain = f"  {p['probability_plain']:.4f}" if tta else ''
            print(f"{r['file'] if j == 0 else '':<{width}}  "
                  f"{p['class_name']:<{cwidth}}  {p['probability']:.4f}{plain}")
        if 'cam' in r:
            print(f"{'':<{width}}  CAM overlay: {r['cam']}")


def cmd_predict(args):
    import tensorflow as tf
    from PIL import Image
    from jacktf.serve import predict, runners
    from jacktf.evaluation import tta as tta_lib
    tta = tta_lib.parse(args.tta)  # before any model is loaded
    registry = runtime.load_plugins()
    sources = list(args.models or [])
    if args.pretrained:  # an official checkpoint with its own ImageNet classifier
        from jacktf.pretrained import classifier
        sources.insert(0, classifier.imagenet_saved_model(args.pretrained))
    if not sources:
        runtime.fail('Give the model to predict with: --model (a SavedModel, .tflite or '
                     '.onnx; repeat it to compare them), --saved_model or --pretrained.')
    if args.cam_dir and os.path.exists(args.cam_dir) and not os.path.isdir(args.cam_dir):
        runtime.fail(f'--cam_dir {args.cam_dir!r} is a file. Give a folder (it is created '
                     'if missing).')
    opened = [runners.open_model(source, registry) for source in sources]
    images, skipped = _read_inputs(args.inputs)
    for runner in opened:
        if runner.note:
            _note(runner.note)
    explain = None
    if args.cam_dir:
        first = opened[0]
        if first.kind != 'saved_model':
            runtime.fail(f'--cam_dir needs a SavedModel (its explain_images signature); '
                         f'{first.path!r} is a {first.kind} model. Give the SavedModel it '
                         'was exported from.')
        explain = first.module.signatures.get('explain_images')
        if explain is None:
            runtime.fail(f'--cam_dir: the SavedModel {first.path!r} has no explain_images '
                         'signature (its backbone card names no CAM endpoint). Leave out '
                         '--cam_dir.')
    tables = [_predict_rows(runner, images, args.top_k, tta) for runner in opened]
    if explain is not None:
        os.makedirs(args.cam_dir, exist_ok=True)
        for row, (_, encoded) in zip(tables[0], images):
            array = predict.decode(encoded)  # the pixels the serving signature sees
            cam = explain(images=tf.constant(array[None]))['cam'].numpy()[0]
            top = row['predictions'][0]
            overlay = predict.cam_overlay(array, cam, f"{top['class_name']} "
                                          f"{top['probability']:.2f}")
            stem = os.path.splitext(os.path.basename(row['file']))[0]
            row['cam'] = predict.unique_path(args.cam_dir, stem)  # never overwrites
            Image.fromarray(overlay).save(row['cam'], format='PNG')
    if args.json:
        print(json.dumps([row for rows in tables for row in rows], indent=2))
    else:
        for runner, rows in zip(opened, tables):
            if len(opened) > 1:
                print(f'== {runner.path} ({runner.label})')
            _print_table(rows)
    if skipped:
        for path, reason in skipped:
            _note(f'skipped {path}: {reason}')
        _note(f'{len(skipped)} of {len(skipped) + len(images)} images were skipped (listed '
              f'above); the other {len(images)} were predicted.')
        return 1
    return 0


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number of 1 or more')
    return value


def cmd_pretrained(args):
    from jacktf.pretrained import cache, fetch, zoo
    if args.action == 'download':
        registry = runtime.load_plugins()
        for name in args.names:
            print(f'{name}: {fetch.fetch(name, registry=registry)}')
        return 0
    rows = zoo.listing()
    if args.json:
        print(json.dumps({'cache_dir': cache.pretrained_dir(), 'checkpoints': rows},
                         indent=2))
        return 0
    print(zoo.format_listing(rows))
    print(f"CHECKPOINT_PATH = 'slim://NAME' downloads into {cache.pretrained_dir()} on "
          "first use; 'builtin://NAME' needs no download.")
    return 0


def cmd_train(args):
    runtime.train(args.gin_file, args.gin_param, args.model_dir, args.mode)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog='jacktf', description=" ".join(__doc__.split("\n\n")[0].split()))
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('train', help='train (and evaluate) from gin recipes, as '
                       '`python -m jacktf.run` does, from any folder')
    p.add_argument('--gin_file', action='append', required=True,
                   help='recipe(s): a path, or a shipped recipe such as gin/demo.gin')
    p.add_argument('--gin_param', action='append', default=[],
                   help="gin bindings, e.g. --gin_param='TRAIN_STEPS = 500' (after the files)")
    p.add_argument('--model_dir', help='overrides MODEL_DIR of the recipe (default: none)')
    p.add_argument('--mode', choices=['train_and_eval', 'train', 'eval'],
                   default='train_and_eval', help='what to run (default: train_and_eval)')
    p.set_defaults(func=cmd_train)
    p = sub.add_parser('plugins', help='list registered plugins')
    p.add_argument('--kind', choices=['backbone', 'head', 'optimizer', 'lr_schedule',
                                      'decoder', 'preprocessor', 'callback'])
    p.add_argument('--json', action='store_true', help='print JSON')
    p.set_defaults(func=cmd_plugins)
    p = sub.add_parser('inspect-checkpoint',
                       help='dry-run the restore a training run would do, and report')
    p.add_argument('--checkpoint', required=True, help='checkpoint prefix or directory')
    p.add_argument('--gin_file', action='append', required=True, help='recipe(s)')
    p.add_argument('--gin_param', action='append', default=[], help='gin bindings')
    p.add_argument('--json', action='store_true', help='print the report as JSON')
    p.add_argument('--verbose', action='store_true',
                   help='list every variable (default: long lists grouped by scope)')
    p.set_defaults(func=cmd_inspect_checkpoint)
    p = sub.add_parser('convert', help='image folder (one subfolder per class) to TFRecords')
    p.add_argument('--image_dir', required=True)
    p.add_argument('--output_dir', required=True)
    p.add_argument('--val_fraction', type=float, default=0.1)
    p.add_argument('--num_shards', type=int, default=4)
    p.add_argument('--workers', type=int, default=None, help='processes (default: CPUs)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--overwrite', action='store_true')
    p.add_argument('--max_pixels', type=int, default=100_000_000,
                   help='images with more pixels are skipped before decoding')
    p.add_argument('--allow_empty_classes', action='store_true',
                   help='keep a class folder without usable images as a class')
    p.set_defaults(func=cmd_convert)
    p = sub.add_parser('export', help='export a SavedModel (TF Serving layout), TFLite '
                       'and ONNX models, each verified in its runtime')
    p.add_argument('--model_dir', required=True)
    p.add_argument('--checkpoint', help='default: the latest of the model directory')
    p.add_argument('--export_dir', help='default: MODEL_DIR/export')
    p.add_argument('--version', help='the version folder (default: the checkpoint\'s '
                   'training step)')
    p.add_argument('--overwrite', action='store_true',
                   help='replace an existing export of the same version')
    p.add_argument('--gin_file', action='append', help='default: its operative_config.gin')
    p.add_argument('--gin_param', action='append', default=[])
    p.add_argument('--tflite', action='append', nargs='?', const='float',
                   metavar='VARIANTS', help='also write TFLite models: float, float16, '
                   'dynamic, int8 (comma list or repeated; alone: float). Needs '
                   'jacktf[tflite]')
    p.add_argument('--onnx', action='store_true',
                   help='also write an ONNX model (needs jacktf[onnx])')
    p.add_argument('--representative_count', type=_positive_int, default=100,
                   help='TRAIN_FILES images that calibrate the int8 model (default 100)')
    p.add_argument('--verify_count', type=_positive_int, default=200,
                   help='EVAL_FILES images each TFLite/ONNX model is checked on against '
                   'the SavedModel (default 200)')
    p.add_argument('--min_agreement', type=float,
                   help='top-1 agreement the int8 and dynamic models need (default 0.98)')
    p.add_argument('--float_tolerance', type=float,
                   help='max |probability diff| of the float TFLite model (default 1e-5)')
    p.add_argument('--onnx_tolerance', type=float,
                   help='max |probability diff| of the ONNX model (default 1e-4)')
    p.set_defaults(func=cmd_export)
    p = sub.add_parser('eval', help='evaluate a checkpoint or SavedModel on EVAL_FILES')
    p.add_argument('--model_dir', required=True)
    p.add_argument('--checkpoint')
    p.add_argument('--saved_model', help='evaluate this SavedModel (or the newest in an '
                   'export folder or model directory) instead of a checkpoint')
    p.add_argument('--gin_file', action='append')
    p.add_argument('--gin_param', action='append', default=[])
    p.add_argument('--tta', nargs='?', const='flip', metavar='MODES', help='also report '
                   'test-time augmentation: flip, crops or flip,crops (alone: flip)')
    p.add_argument('--top_losses', type=int, default=16, metavar='N',
                   help='most confidently wrong examples in top_losses.png/.csv (0: none)')
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser('predict', help='classify image files with a SavedModel, a '
                       '.tflite or a .onnx model (or several, to compare them)')
    p.add_argument('--model', dest='models', action='append',
                   help='a SavedModel (folder, export folder or model directory), a '
                   '.tflite or a .onnx file; repeat to compare models on the same images')
    p.add_argument('--saved_model', dest='models', action='append',
                   help='the same as --model')
    p.add_argument('--pretrained', metavar='BACKBONE',
                   help='an official ImageNet checkpoint with its own classifier, '
                   'e.g. mobilenet_v1_025 (shipped) or any name of `jacktf '
                   'pretrained list` (downloaded once)')
    p.add_argument('inputs', nargs='+', help='image files or folders')
    p.add_argument('--top_k', type=_positive_int, default=5,
                   help='classes listed per image')
    p.add_argument('--json', action='store_true')
    p.add_argument('--cam_dir', help='write class activation map overlays here')
    p.add_argument('--tta', nargs='?', const='flip', metavar='MODES', help='average over '
                   'test-time augmentation views: flip, crops or flip,crops (alone: flip)')
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser('pretrained', help='the official slim checkpoints: list, download')
    psub = p.add_subparsers(dest='action', required=True)
    q = psub.add_parser('list', help='name, accuracy, size, preprocessing, archive, status')
    q.add_argument('--json', action='store_true', help='print JSON')
    q = psub.add_parser('download', help='fetch, verify and cache official checkpoints')
    q.add_argument('names', nargs='+', metavar='NAME', help='names from `pretrained list`')
    p.set_defaults(func=cmd_pretrained)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # With --json, stdout holds only the JSON; log lines go to stderr.
    runtime.setup_logging(stream=sys.stderr if getattr(args, 'json', False) else sys.stdout)
    with runtime.user_errors():
        return args.func(args) or 0


if __name__ == '__main__':
    sys.exit(main())
