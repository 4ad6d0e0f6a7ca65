"""`jacktf export`: SavedModel (TF Serving layout), TFLite and ONNX models of a run,
each verified in its own runtime. Exit 0: all written; 1: some fell short (named, the
others written); 2: nothing written."""

from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'export', parents,
                           help='export a SavedModel (TF Serving layout), TFLite and ONNX '
                           'models, each verified in its runtime')
    p.add_argument('--model_dir', required=True, help='the MODEL_DIR of a training run')
    p.add_argument('--checkpoint', help='checkpoint prefix to export (default: the run\'s '
                   'model: its best checkpoint when best-k kept one better than the latest, '
                   'else the latest)')
    p.add_argument('--export_dir', help='default: MODEL_DIR/export')
    p.add_argument('--version', help='the version folder (default: the checkpoint\'s '
                   'training step)')
    p.add_argument('--overwrite', action='store_true',
                   help='replace an existing export of the same version')
    common.add_gin_options(p, required=False)
    p.add_argument('--tflite', action='append', nargs='?', const='float',
                   metavar='VARIANTS', help='also write TFLite models: float, float16, '
                   'dynamic, int8 (comma list or repeated; alone: float; default: none). '
                   'Needs jacktf[tflite]')
    p.add_argument('--onnx', action='store_true',
                   help='also write an ONNX model (needs jacktf[onnx])')
    p.add_argument('--representative_count', type=common.positive_int, default=300,
                   help='TRAIN_FILES images that calibrate the int8 model, the same '
                   'number from each class')
    p.add_argument('--verify_count', type=common.positive_int, default=200,
                   help='EVAL_FILES images each TFLite/ONNX model is checked on against '
                   'the SavedModel')
    p.add_argument('--min_agreement', type=float,
                   help='top-1 agreement every model needs (default 0.98 for int8 and '
                   'dynamic, 0.99 for float, float16 and ONNX)')
    p.add_argument('--float_tolerance', type=float,
                   help='max |probability diff| of the float TFLite model (default 5e-4)')
    p.add_argument('--float16_tolerance', type=float,
                   help='max |probability diff| of the float16 TFLite model (default '
                   '0.05)')
    p.add_argument('--onnx_tolerance', type=float,
                   help='max |probability diff| of the ONNX model (default 5e-4)')
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.serve import deploy, tflite, verify
    variants = tflite.parse_variants(args.tflite)
    limits = verify.thresholds(args.float_tolerance, args.min_agreement,
                               args.onnx_tolerance, args.float16_tolerance)
    experiment = common.experiment_for(args.model_dir, args.gin_file or (), args.gin_param)
    summary = deploy.export_run(
        experiment, checkpoint=args.checkpoint, export_dir=args.export_dir,
        version=args.version, tflite_variants=variants, onnx=args.onnx,
        overwrite=args.overwrite, representative_count=args.representative_count,
        verify_count=args.verify_count, limits=limits)
    return report(summary)


def report(summary):
    """Prints what an export wrote and what fell short; the exit code (0 all written,
    1 some fell short)."""
    saved = summary['saved_model']
    parity = ('not checked: no decodable image found' if saved['parity'] is None
              else f"{saved['parity']:.2g}")
    kept = '; the existing export, kept' if saved['kept'] else ''
    print(f"SavedModel: {saved['path']} (parity max |diff| {parity}{kept})")
    if saved.get('unknown') and not saved['kept']:
        print(f"  unknown answer: {saved['unknown']['rule']} (outputs ood_score, "
              'is_unknown)')
    for result in summary.get('tflite', []) + [summary[k] for k in ('onnx',)
                                               if k in summary]:
        name = 'ONNX' if result['format'] == 'onnx' else f"TFLite {result['variant']}"
        v = result['verification']
        print(f"{name}: {result['path']} ({result['bytes']} bytes; {v['runtime']}: top-1 "
              f"agreement {v['top1_agreement']:.2%}, max |diff| {v['max_abs_diff']:.3g} "
              f"on {v['images']} images)")
    for result in summary.get('failed', []):
        v = result['verification']
        name = 'ONNX' if result['format'] == 'onnx' else f"TFLite {result['variant']}"
        common.note(f"{name}: NOT written: {', '.join(v['shortfalls'])} on {v['images']} "
                    f"images; to write it anyway: {result['flag']}")
    return 1 if summary.get('failed') else 0


def parse_targets(values):
    """`jacktf train --export` values -> (tflite variants, onnx): see
    jacktf.serve.deploy.parse_targets."""
    from jacktf.serve import deploy
    return deploy.parse_targets(values)
