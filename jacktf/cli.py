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
        scope_map=experiment.scope_map, strict=False, frozen=frozen, dry_run=True)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary_line())
        sections = [('restored', report.restored), ('excluded', report.excluded),
                    ('auto-excluded', report.auto_excluded), ('missing', report.missing),
                    ('shape-mismatched', [f'{n} model {m} checkpoint {c}'
                                          for n, m, c in report.shape_mismatched]),
                    ('frozen', report.frozen)]
        for title, names in sections:
            if names:
                print(f'{title} ({len(names)}):')
                for name in names if args.verbose or title != 'restored' else names[:10]:
                    print(f'  {name}')
                if not args.verbose and title == 'restored' and len(names) > 10:
                    print(f'  ... {len(names) - 10} more (--verbose lists all)')
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
        runtime.fail(f'{files[0]} not found: give --gin_file, or a --model_dir written by '
                     'a jacktf training run.')
    return runtime.experiment_from_gin(files, gin_params, model_dir)


def cmd_export(args):
    experiment = _experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    path, diff = experiment.export(checkpoint=args.checkpoint, export_dir=args.export_dir)
    print(f'SavedModel: {path} (parity max |diff| {diff:.2g})')
    if args.tflite:
        from jacktf.core.tflite import export_tflite
        tflite_path, tdiff = export_tflite(experiment.model, path)
        print(f'TFLite: {tflite_path} (max |diff| vs SavedModel {tdiff:.2g})')
    return 0


def cmd_eval(args):
    experiment = _experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    report = experiment.evaluate_latest(checkpoint=args.checkpoint,
                                        saved_model=args.saved_model)
    k = [key for key in report if key.startswith('top_') and key != 'top_1_accuracy'][0]
    print(f"top-1 {report['top_1_accuracy']:.4f}  {k.replace('_accuracy', '')} "
          f"{report[k]:.4f}  macro-F1 {report['macro_f1']:.4f}  on {report['examples']} "
          f"examples -> {args.model_dir}/eval/metrics.json")
    return 0


def cmd_predict(args):
    import os
    import tensorflow as tf
    from PIL import Image
    from jacktf.core import predict
    files = predict.collect_images(args.inputs)
    loaded = [predict.load_checked(f) for f in files]  # checks every file first
    if not os.path.isdir(args.saved_model):
        runtime.fail(f'--saved_model {args.saved_model!r} is not a directory.')
    module = tf.saved_model.load(args.saved_model)
    serve = module.signatures['serving_default']
    rows = []
    for start in range(0, len(files), 32):
        chunk = loaded[start:start + 32]
        out = serve(images=tf.constant([enc for enc, _ in chunk]))
        probs = out['probabilities'].numpy()
        names = [n.decode() for n in module.class_names.numpy()]
        for i, path in enumerate(files[start:start + 32]):
            order = probs[i].argsort()[::-1][:args.top_k]
            rows.append({'file': path, 'predictions': [
                {'class': int(c), 'class_name': names[c], 'probability': float(probs[i][c])}
                for c in order]})
    if args.cam_dir:
        if 'explain_images' not in module.signatures:
            runtime.fail('This SavedModel has no explain_images signature (its backbone '
                         'card names no CAM endpoint).')
        os.makedirs(args.cam_dir, exist_ok=True)
        explain = module.signatures['explain_images']
        for row, (_, array) in zip(rows, loaded):
            cam = explain(images=tf.constant(array[None]))['cam'].numpy()[0]
            overlay, _ = predict.cam_overlay(array, cam)
            base = os.path.splitext(os.path.basename(row['file']))[0]
            row['cam'] = os.path.join(args.cam_dir, f'{base}.cam.png')
            Image.fromarray(overlay).save(row['cam'])
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r['file']) for r in rows)
    print(f'{"FILE":<{width}}  {"CLASS":<20}  PROBABILITY')
    for r in rows:
        for j, p in enumerate(r['predictions']):
            print(f"{r['file'] if j == 0 else '':<{width}}  {p['class_name']:<20}  "
                  f"{p['probability']:.4f}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog='jacktf', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('plugins', help='list registered plugins')
    p.add_argument('--kind', choices=['backbone', 'head', 'optimizer', 'lr_schedule',
                                      'decoder', 'preprocessor'])
    p.add_argument('--json', action='store_true', help='print JSON')
    p.set_defaults(func=cmd_plugins)
    p = sub.add_parser('inspect-checkpoint',
                       help='dry-run the restore a training run would do, and report')
    p.add_argument('--checkpoint', required=True, help='checkpoint prefix or directory')
    p.add_argument('--gin_file', action='append', required=True, help='recipe(s)')
    p.add_argument('--gin_param', action='append', default=[], help='gin bindings')
    p.add_argument('--json', action='store_true', help='print the report as JSON')
    p.add_argument('--verbose', action='store_true', help='list every restored variable')
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
    p.add_argument('--saved_model', help='evaluate this SavedModel instead of a checkpoint')
    p.add_argument('--gin_file', action='append')
    p.add_argument('--gin_param', action='append', default=[])
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser('predict', help='classify image files with a SavedModel')
    p.add_argument('--saved_model', required=True)
    p.add_argument('inputs', nargs='+', help='image files or folders')
    p.add_argument('--top_k', type=int, default=5)
    p.add_argument('--json', action='store_true')
    p.add_argument('--cam_dir', help='write class activation map overlays here')
    p.set_defaults(func=cmd_predict)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    runtime.setup_logging()
    with runtime.user_errors():
        return args.func(args) or 0


if __name__ == '__main__':
    sys.exit(main())
