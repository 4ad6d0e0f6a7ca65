"""`jacktf predict`: classify image files with a SavedModel, a .tflite or a .onnx model
(or several, to compare them), optionally with class activation map overlays."""

import json
import os

from jacktf.commands import common, predict_output as output


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'predict', parents,
                           help='classify image files with a SavedModel, a .tflite or a '
                           '.onnx model (or several, to compare them)')
    p.add_argument('--model', dest='models', action='append',
                   help='a SavedModel (folder, export folder or model directory), a '
                   '.tflite or a .onnx file; repeat to compare models on the same images '
                   '(default: none; give --model, --saved_model or --pretrained)')
    p.add_argument('--saved_model', dest='models', action='append',
                   help='the same as --model (default: none)')
    p.add_argument('--pretrained', metavar='BACKBONE',
                   help='an official ImageNet checkpoint with its own classifier, '
                   'e.g. mobilenet_v1_025 (shipped) or any name of `jacktf '
                   'pretrained list` (downloaded once; default: none)')
    p.add_argument('inputs', nargs='+', help='image files or folders; a folder with one '
                   'subfolder per class (or split folders) or a CSV of path,label[,split] '
                   'is labelled data: the accuracy and a per-class table follow the '
                   'predictions')
    p.add_argument('--report_dir', help='with labelled inputs: write metrics.json and '
                   'confusion_matrix.png here (default: none written)')
    p.add_argument('--top_k', type=common.positive_int, default=5,
                   help='classes listed per image')
    p.add_argument('--json', action='store_true', help='print JSON')
    p.add_argument('--cam_dir', help='write class activation map overlays here '
                   '(default: none written)')
    p.add_argument('--tta', nargs='?', const='flip', metavar='MODES',
                   help='average over test-time augmentation views: flip, crops or '
                   'flip,crops (alone: flip; default: none)')
    p.add_argument('--no_unknown', action='store_true',
                   help='always name the closest class: no "unknown (closest: ...)" '
                   'answer, even when the model is calibrated for one')
    p.set_defaults(func=run)
    return p


def _read_inputs(inputs):
    """[(path, encoded)] of the inputs that can be predicted on, and [(path, reason)]."""
    from jacktf.core.errors import DataError
    from jacktf.serve import predict
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
            common.note(f'{path}: {converted}')
    if not images:
        listed = '; '.join(f'{path!r}: {reason}' for path, reason in skipped[:10])
        more = f'; and {len(skipped) - 10} more' if len(skipped) > 10 else ''
        what = (f'Cannot predict on {listed}' if len(files) == 1 else
                f'None of the {len(files)} input files can be predicted on: {listed}{more}')
        raise DataError(f'{what}. Give JPEG, PNG, GIF, BMP or WebP images.')
    return images, skipped


def _labelled(inputs):
    """(image paths, {path: class name}) when every input is labelled data (a folder of
    class folders, split folders or a CSV; see jacktf.data.sources), else (inputs, None)."""
    from jacktf.core.errors import DataError
    from jacktf.data import sources
    files, labels = [], {}
    for path in inputs:
        if not (os.path.isdir(path) or path.lower().endswith('.csv')):
            return inputs, None
        try:
            source = sources.open_source(path)
        except DataError:
            if path.lower().endswith('.csv'):
                raise
            return inputs, None
        if source.form == 'tfrecord':
            return inputs, None
        for rel, name, _ in source.entries:
            files.append(os.path.join(source.root, rel))
            labels[files[-1]] = name
    return files, labels


def _accuracy(runner, images, probs, labels, report_dir):
    """Prints the accuracy and the per-class table of labelled images; returns the
    report (written to ``report_dir`` with the confusion matrix when given)."""
    from jacktf.core.errors import DataError
    from jacktf.evaluation import report as report_lib
    names = list(runner.class_names)
    unknown = sorted({labels[p] for p, _ in images} - set(names))
    if unknown:
        raise DataError(f'The labelled inputs have classes the model {runner.path} does not '
                        f'know: {", ".join(unknown[:10])} (its classes: '
                        f'{", ".join(names[:10])}). Give data of the model\'s classes.')
    truth = [names.index(labels[p]) for p, _ in images]
    report = report_lib.classification_report(truth, probs, names)
    print(f"accuracy {report['top_1_accuracy']:.4f} on {report['examples']} labelled images")
    width = max(len(n) for n in names + ['CLASS'])
    print(f'{"CLASS":<{width}}  RECALL  PRECISION  IMAGES')
    for name, m in report['per_class'].items():
        print(f"{name:<{width}}  {m['recall']:.4f}  {m['precision']:.4f}     "
              f"{m['support']}")
    if report_dir:
        path, _ = report_lib.write_report(report, report_dir)
        common.note(f'report: {path} and {report_lib.CONFUSION_FILE} beside it')
    return report


def _predict_rows(runner, images, top_k, tta=None, unknown=True):
    """One row per image; with ``unknown`` and a calibrated model, 'unknown' (the flag
    of the plain image, also under TTA), 'ood_score' and 'unknown_rule'."""
    encoded = [enc for _, enc in images]
    flags = None
    if tta:  # ranked by the TTA probabilities, the plain ones beside them
        from jacktf.evaluation import tta as tta_lib
        plain, probs = tta_lib.runner_probabilities(runner.probabilities, encoded, tta)
        if unknown and runner.unknown:
            flags = runner.predict(encoded)
    else:
        flags = runner.predict(encoded)
        probs = plain = flags['probabilities']
        flags = flags if unknown and runner.unknown else None
    names = runner.class_names
    thresholds = getattr(runner, 'thresholds', None)
    rows = []
    for i, ((path, _), p, q) in enumerate(zip(images, probs, plain)):
        order = p.argsort()[::-1][:top_k]
        rows.append({'file': path, 'model': runner.path, 'format': runner.kind,
                     'predictions': [dict({'class': int(c), 'class_name': names[c],
                                           'probability': float(p[c])},
                                          **({'probability_plain': float(q[c])}
                                             if tta else {})) for c in order]})
        if thresholds is not None:  # multi-label: the labels at or above their threshold
            rows[-1]['labels'] = [
                {'class': int(k), 'class_name': names[k], 'probability': float(p[k]),
                 'threshold': float(thresholds[k])}
                for k in p.argsort()[::-1] if p[k] >= thresholds[k]]
        if tta:
            rows[-1]['tta'] = tta_lib.describe(tta)
        if flags is not None:
            rows[-1].update(unknown=bool(flags['is_unknown'][i]),
                            ood_score=float(flags['ood_score'][i]),
                            unknown_rule=runner.unknown['rule'])
    return rows, probs


def _explain_signature(args, opened):
    """The explain_images signature of the first model, when --cam_dir asks for it."""
    from jacktf.app import runtime
    if not args.cam_dir:
        return None
    first = opened[0]
    if first.kind != 'saved_model':
        runtime.fail(f'--cam_dir needs a SavedModel (its explain_images signature); '
                     f'{first.path!r} is a {first.kind} model. Give the SavedModel it '
                     'was exported from.')
    explain = first.module.signatures.get('explain_images')
    if explain is None:
        common.note(f'--cam_dir skipped: the SavedModel {first.path!r} has no '
                    'explain_images signature (its backbone card names no cam_endpoint); '
                    'the predictions follow.')
    return explain


def _write_cams(explain, rows, images, cam_dir):
    import tensorflow as tf
    from PIL import Image
    from jacktf.serve import predict
    os.makedirs(cam_dir, exist_ok=True)
    for row, (_, encoded) in zip(rows, images):
        array = predict.decode(encoded)  # the pixels the serving signature sees
        cam = explain(images=tf.constant(array[None]))['cam'].numpy()[0]
        top = row['predictions'][0]
        overlay = predict.cam_overlay(array, cam, f"{top['class_name']} "
                                      f"{top['probability']:.2f}")
        stem = os.path.splitext(os.path.basename(row['file']))[0]
        row['cam'] = predict.unique_path(cam_dir, stem)  # never overwrites
        Image.fromarray(overlay).save(row['cam'], format='PNG')


def run(args):
    from jacktf.app import runtime
    from jacktf.evaluation import tta as tta_lib
    from jacktf.serve import runners
    tta = tta_lib.parse(args.tta)  # before any model is loaded
    registry = runtime.load_plugins()
    sources = list(args.models or [])
    if args.pretrained:  # an official checkpoint with its own ImageNet classifier
        from jacktf.serve import imagenet_classifier as classifier
        sources.insert(0, classifier.imagenet_saved_model(args.pretrained))
    if not sources:
        runtime.fail('Give the model to predict with: --model (a SavedModel, .tflite or '
                     '.onnx; repeat it to compare them), --saved_model or --pretrained.')
    if args.cam_dir and os.path.exists(args.cam_dir) and not os.path.isdir(args.cam_dir):
        runtime.fail(f'--cam_dir {args.cam_dir!r} is a file. Give a folder (it is created '
                     'if missing).')
    opened = [runners.open_model(source, registry) for source in sources]
    inputs, labels = _labelled(args.inputs)
    images, skipped = _read_inputs(inputs)
    for runner in opened:
        if runner.note:
            common.note(runner.note)
    explain = _explain_signature(args, opened)
    results = [_predict_rows(runner, images, args.top_k, tta, not args.no_unknown)
               for runner in opened]
    tables = [rows for rows, _ in results]
    if explain is not None:
        _write_cams(explain, tables[0], images, args.cam_dir)
    if args.json:
        print(json.dumps([row for rows in tables for row in rows], indent=2))
    elif len(opened) > 1:
        output.print_comparison(opened, tables)
    elif 'labels' in tables[0][0]:
        output.print_label_sets(tables[0])
    else:
        output.print_table(tables[0])
    if labels is not None and not args.json:
        _accuracy(opened[0], images, results[0][1], labels, args.report_dir)
    if skipped:
        for path, reason in skipped:
            common.note(f'skipped {path}: {reason}')
        common.note(f'{len(skipped)} of {len(skipped) + len(images)} images were skipped '
                    f'(listed above); the other {len(images)} were predicted.')
        return 1
    return 0
