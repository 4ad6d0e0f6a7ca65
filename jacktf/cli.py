"""The `jacktf` command: plugins | convert | inspect-checkpoint | export | predict | eval.

Each subcommand is a small function over the public pieces; user mistakes exit with 2.
"""

import argparse
import json
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
    import os
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
    experiment = _experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    path, diff = experiment.export(checkpoint=args.checkpoint, export_dir=args.export_dir)
    parity = 'not checked: no decodable image found' if diff is None else f'{diff:.2g}'
    print(f'SavedModel: {path} (parity max |diff| {parity})')
    if args.tflite:
        from jacktf.core.tflite import export_tflite
        tflite_path, tdiff = export_tflite(experiment.model, path)
        print(f'TFLite: {tflite_path} (max |diff| vs SavedModel {tdiff:.2g})')
    return 0


def cmd_eval(args):
    if args.checkpoint and args.saved_model:
        runtime.fail('Give --checkpoint or --saved_model, not both: eval runs one of them.')
    experiment = _experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    report = experiment.evaluate_latest(checkpoint=args.checkpoint,
                                        saved_model=args.saved_model)
    top_k = ''.join(f"  {key.replace('_accuracy', '')} {report[key]:.4f}" for key in report
                    if key.startswith('top_') and key != 'top_1_accuracy')  # K > 2 only
    print(f"top-1 {report['top_1_accuracy']:.4f}{top_k}  macro-F1 "
          f"{report['macro_f1']:.4f}  on {report['examples']} examples of "
          f"{report['source']} -> {report['report_path']}")
    return 0


def _note(message):
    """A line about the run (not its result): on stderr, so --json output stays JSON."""
    print(message, file=sys.stderr, flush=True)


def _read_inputs(inputs):
    """[(path, encoded)] of the inputs that can be predicted on, and [(path, reason)]."""
    from jacktf.core import predict
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


def cmd_predict(args):
    import os
    import tensorflow as tf
    from PIL import Image
    from jacktf.core import export, predict
    if args.pretrained:  # an official checkpoint with its own ImageNet classifier
        from jacktf.pretrained import classifier
        runtime.load_plugins()
        folder, note = classifier.imagenet_saved_model(args.pretrained), None
    else:
        folder, note = export.find_saved_model(args.saved_model)
    if args.cam_dir and os.path.exists(args.cam_dir) and not os.path.isdir(args.cam_dir):
        runtime.fail(f'--cam_dir {args.cam_dir!r} is a file. Give a folder (it is created '
                     'if missing).')
    images, skipped = _read_inputs(args.inputs)
    if note:
        _note(note)
    module, serve = export.load_saved_model(folder)
    explain = module.signatures.get('explain_images') if args.cam_dir else None
    if args.cam_dir and explain is None:
        runtime.fail(f'--cam_dir: the SavedModel {folder!r} has no explain_images signature '
                     '(its backbone card names no CAM endpoint). Leave out --cam_dir.')
    rows = []
    for start in range(0, len(images), 32):
        chunk = images[start:start + 32]
        probs = serve(images=tf.constant([enc for _, enc in chunk]))['probabilities'].numpy()
        names = getattr(module, 'class_names', None)
        names = ([n.decode() for n in names.numpy()] if names is not None
                 else [str(i) for i in range(probs.shape[1])])
        for (path, _), p in zip(chunk, probs):
            order = p.argsort()[::-1][:args.top_k]
            rows.append({'file': path, 'predictions': [
                {'class': int(c), 'class_name': names[c], 'probability': float(p[c])}
                for c in order]})
    if explain is not None:
        os.makedirs(args.cam_dir, exist_ok=True)
        for row, (_, encoded) in zip(rows, images):
            array = predict.decode(encoded)  # the pixels the serving signature sees
            cam = explain(images=tf.constant(array[None]))['cam'].numpy()[0]
            overlay, _ = predict.cam_overlay(array, cam)
            stem = os.path.splitext(os.path.basename(row['file']))[0]
            row['cam'] = predict.unique_path(args.cam_dir, stem)  # never overwrites
            Image.fromarray(overlay).save(row['cam'], format='PNG')
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r['file']) for r in rows)
        print(f'{"FILE":<{width}}  {"CLASS":<20}  PROBABILITY')
        for r in rows:
            for j, p in enumerate(r['predictions']):
                print(f"{r['file'] if j == 0 else '':<{width}}  {p['class_name']:<20}  "
                      f"{p['probability']:.4f}")
            if 'cam' in r:
                print(f"{'':<{width}}  CAM overlay: {r['cam']}")
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
    from jacktf.pretrained import builtin, cache, fetch, zoo
    if args.action == 'download':
        registry = runtime.load_plugins()
        for name in args.names:
            print(f'{name}: {fetch.fetch(name, registry=registry)}')
        return 0
    rows = []
    for name in zoo.names():
        row = zoo.ZOO[name].to_dict()
        row['builtin'] = builtin.BUILTIN[name].prefix if name in builtin.BUILTIN else None
        row['cached'] = cache.cached_prefix(name)
        rows.append(row)
    if args.json:
        print(json.dumps({'cache_dir': cache.pretrained_dir(), 'checkpoints': rows},
                         indent=2))
        return 0
    width = max(len(r['name']) for r in rows)
    print(f'{"NAME":<{width}}  TOP-1  TOP-5  SIZE  PREPROCESSING  CLASSES  '
          f'{"STATUS":<14}  ARCHIVE')
    for r in rows:
        status = ','.join(s for s in ('builtin', 'cached') if r[s]) or '-'
        top5 = f"{r['top5']:.1f}" if r['top5'] is not None else '-'
        print(f"{r['name']:<{width}}  {r['top1']:>5.1f}  {top5:>5}  {r['image_size']:>4}  "
              f"{r['preprocessing']:<13}  {r['num_classes']:>7}  {status:<14}  {r['url']}")
    print(f"CHECKPOINT_PATH = 'slim://NAME' downloads into {cache.pretrained_dir()} on "
          "first use; 'builtin://NAME' needs no download.")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog='jacktf', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
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
    p = sub.add_parser('export', help='export a SavedModel (TF Serving layout)')
    p.add_argument('--model_dir', required=True)
    p.add_argument('--checkpoint', help='default: the latest of the model directory')
    p.add_argument('--export_dir', help='default: MODEL_DIR/export')
    p.add_argument('--gin_file', action='append', help='default: its operative_config.gin')
    p.add_argument('--gin_param', action='append', default=[])
    p.add_argument('--tflite', action='store_true', help='also write a float TFLite model')
    p.set_defaults(func=cmd_export)
    p = sub.add_parser('eval', help='evaluate a checkpoint or SavedModel on EVAL_FILES')
    p.add_argument('--model_dir', required=True)
    p.add_argument('--checkpoint')
    p.add_argument('--saved_model', help='evaluate this SavedModel (or the newest in an '
                   'export folder or model directory) instead of a checkpoint')
    p.add_argument('--gin_file', action='append')
    p.add_argument('--gin_param', action='append', default=[])
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser('predict', help='classify image files with a SavedModel')
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument('--saved_model',
                        help='a SavedModel, an export folder (its newest version) or a '
                        'model directory')
    source.add_argument('--pretrained', metavar='BACKBONE',
                        help='an official ImageNet checkpoint with its own classifier, '
                        'e.g. mobilenet_v1_025 (shipped) or any name of `jacktf '
                        'pretrained list` (downloaded once)')
    p.add_argument('inputs', nargs='+', help='image files or folders')
    p.add_argument('--top_k', type=_positive_int, default=5,
                   help='classes listed per image')
    p.add_argument('--json', action='store_true')
    p.add_argument('--cam_dir', help='write class activation map overlays here')
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
