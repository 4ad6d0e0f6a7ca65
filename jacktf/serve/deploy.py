"""``jacktf export``: the SavedModel of one training step and, from the same weights,
TFLite and ONNX models, each verified in its own runtime against the SavedModel.

Layout (``MODEL_DIR/export`` by default, numbered by training step)::

    export/600/                 SavedModel (TF Serving)
    export/tflite/600/          float.tflite, int8.tflite, ... + float.json, ... + labels.txt
    export/onnx/600/            model.onnx + model.json + labels.txt

Everything is written into hidden folders and renamed into place once the checks are
done: each format that passed is written, one that fell short is not (it is reported
with its numbers and the flag that writes it anyway); when every requested TFLite/ONNX
model fell short nothing is written. An
existing version is refused unless ``overwrite``; an existing SavedModel of the same
step is kept (after checking it holds the same weights) when only other formats are
added.
"""

import logging
import os

import tensorflow as tf

from jacktf.core.errors import ConfigError
from jacktf.evaluation import unknown as unknown_lib
from jacktf.serve import (derived_models, export, model_card, onnx_export, samples, saved_models,
                          staging, tflite, tflite_metadata, verify, versions)
from jacktf.serve.export import ExportError

log = logging.getLogger('jacktf')


def export_run(experiment, *, checkpoint=None, export_dir=None, version=None,
               tflite_variants=(), onnx=False, overwrite=False, representative_count=300,
               verify_count=200, limits=None, registry=None):
    """Exports a training run's checkpoint (its best by default) in every format asked.

    Args:
      experiment: the run's Experiment (from its operative config).
      checkpoint: a checkpoint prefix or folder; None for the run's model (the best
        checkpoint best-k kept, else the latest; see Experiment.restore_latest).
      export_dir: the export base folder; None for MODEL_DIR/export_best for the best
        checkpoint, else MODEL_DIR/export.
      version: the version number; None for the checkpoint's global step.
      tflite_variants: TFLite variants ('float', 'float16', 'dynamic', 'int8').
      onnx: also write an ONNX model.
      overwrite: replace existing exports of this version.
      representative_count: TRAIN_FILES images that calibrate the int8 model (taken
        evenly from each class, see ``samples.stratified``).
      verify_count: EVAL_FILES images each TFLite/ONNX model is checked on.
      limits: thresholds by format (default ``verify.THRESHOLDS``).
      registry: the Registry of preprocessors (default: the process default).

    Returns:
      The summary dict of ``export_all``, plus the checkpoint.

    Raises:
      ConfigError, ExportError: see ``export_all`` and ``versions.export_version``.
    """
    for value, flag in ((representative_count, '--representative_count'),
                        (verify_count, '--verify_count')):
        if int(value) < 1:
            raise ConfigError(f'{flag} must be at least 1, got {value}.')
    path = experiment.restore_latest(checkpoint)
    number = versions.export_version(path, version)
    use_thresholds = getattr(experiment, 'use_thresholds', None)
    if use_thresholds is not None:  # a multi-label model's tuned thresholds
        use_thresholds(versions.checkpoint_step(path))
    names, labels_path = experiment.class_names()
    held_out = experiment.eval_files or experiment.train_files
    derived = bool(tflite_variants or onnx)
    count = int(verify_count) if derived else 4
    images, labels = samples.held_out(held_out, experiment.decode_fn, count)
    representative, taken = [], {}
    if 'int8' in tflite_variants:
        representative, taken = samples.stratified(
            experiment.train_files, experiment.decode_fn, int(representative_count))
    which = 'EVAL_FILES' if experiment.eval_files else 'TRAIN_FILES'
    unknown = unknown_lib.read(path)
    if unknown is None:
        log.info('%s has no unknown calibration (%s): the export answers without '
                 '"unknown". To add it: jacktf calibrate --model_dir %s --checkpoint %s, '
                 'then export again with --overwrite.', path, unknown_lib.metadata_path(path),
                 experiment.model_dir, path)
    summary = export_all(
        experiment.model, export_dir=export_dir or experiment.export_base(path),
        version=number, class_names=names, labels_path=labels_path,
        tflite_variants=tflite_variants, onnx=onnx, verify_images=images,
        verify_source=f'{which} {held_out}', verify_labels=labels,
        representative=representative,
        representative_source=f'TRAIN_FILES {experiment.train_files}, stratified by class '
                              f'(images per label: {taken})',
        overwrite=overwrite, limits=limits, registry=registry,
        source={'checkpoint': path, 'step': number, **_operating_point(experiment, number)},
        unknown=unknown)
    if not summary['saved_model']['kept']:
        model_card.store_operating_point(experiment.model_dir, number,
                                         summary['saved_model']['path'])
    summary['checkpoint'] = path
    return summary


def _operating_point(experiment, step):
    """{'operating_point': ...} for the cards when ``step`` was evaluated with a
    threshold curve (two classes), else {}."""
    point = model_card.operating_point_of(experiment.model_dir, step)
    return {'operating_point': point} if point else {}


def _targets(export_dir, version, tflite_variants, onnx):
    out = {'saved_model': os.path.join(export_dir, str(version))}
    if tflite_variants:
        out['tflite'] = os.path.join(export_dir, 'tflite', str(version))
    if onnx:
        out['onnx'] = os.path.join(export_dir, 'onnx', str(version))
    return out


def _keep_existing(model, path, parity_images):
    """Checks that the existing SavedModel ``path`` holds ``model``'s weights."""
    module, _ = saved_models.load_saved_model(path)
    if not parity_images:
        raise ExportError(f'{path} already exists and no image could be read to check that '
                          'it holds these weights. Give --overwrite to replace it.')
    try:
        diff = export.check_parity(model, module, parity_images)
    except ExportError as e:
        raise ExportError(f'{path} already exists but holds other weights than this '
                          f'checkpoint ({e}). Give --overwrite to replace it, or another '
                          '--version.') from None
    log.info('Keeping the existing SavedModel %s: it holds the same weights (max |diff| '
             '%.2g on %d images); the other formats are checked against it.', path, diff,
             len(parity_images))
    return diff


def export_all(model, *, export_dir, version, class_names, labels_path=None,
               tflite_variants=(), onnx=False, verify_images=(), verify_source='',
               verify_labels=None, representative=(), representative_source='',
               overwrite=False, limits=None, registry=None, source=None, unknown=None):
    """Writes the SavedModel and the TFLite/ONNX models of ``model`` as one export.

    Args:
      model: the jacktf Model with the weights.
      export_dir: the export base folder.
      version: the version number (training step).
      class_names: one name per class; labels_path: the labels.txt to ship, or None.
      tflite_variants: TFLite variants to write; onnx: write an ONNX model.
      verify_images: encoded images the TFLite/ONNX models are checked on (the first
        four also check the SavedModel against the eval path).
      verify_source, representative_source: where the images came from (for the card).
      verify_labels: the true label of each verify image (None where unknown): each
        model's accuracy is reported beside its agreement.
      representative: encoded images that calibrate the int8 model.
      overwrite: replace existing folders of this version.
      limits: thresholds by format (default ``verify.THRESHOLDS``).
      registry: the Registry of preprocessors (default: the process default).
      source: facts about the weights for the cards (checkpoint, step).
      unknown: the calibration of these weights (``jacktf.evaluation.unknown``): the
        SavedModel gains ``ood_score`` / ``is_unknown``, the TFLite/ONNX cards and the
        TFLite metadata carry the probability threshold; None: no unknown answer.

    Returns:
      {'version', 'saved_model': {path, parity, kept}, 'tflite': [...], 'onnx': ...};
      each TFLite/ONNX entry holds its path, bytes and verification numbers.

    Raises:
      ExportError: a target exists (without ``overwrite``), a conversion failed, or
        every TFLite/ONNX model fell short of its thresholds (the message has every
        model's numbers). When only some fell short, the others and the SavedModel are
        written and the summary's ``failed`` lists the rest.
      ConfigError: a runtime or converter is not installed, or there is no image to
        verify on.
    """
    from jacktf.core import plugins
    registry = registry or plugins.default_registry()
    limits = limits or verify.THRESHOLDS
    tflite_variants = list(tflite_variants or ())
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise ExportError(f'The export folder {export_dir!r} is a file. Give another '
                          '--export_dir, or move the file away.')
    targets = _targets(export_dir, version, tflite_variants, onnx)
    derived = [k for k in targets if k != 'saved_model']
    if derived:  # fail before any work when a runtime is missing or nothing to verify
        if tflite_variants:
            _require_litert()
        if onnx:
            _require_onnx()
        if not verify_images:
            raise ConfigError(f'No decodable image in {verify_source or "the eval files"} '
                              'to verify the TFLite/ONNX models on.')
    parity = list(verify_images[:4])
    keep = _existing(targets, derived, overwrite, version)
    folders = {}
    try:
        summary = {'version': int(version)}
        if keep:
            diff = _keep_existing(model, targets['saved_model'], parity)
            reference_path = targets['saved_model']
        else:
            folders['saved_model'] = staging.staging_dir(targets['saved_model'])
            export.write_saved_model(model, folders['saved_model'],
                                     class_names=class_names, labels_path=labels_path,
                                     unknown=unknown)
            diff = export.check_parity(model, tf.saved_model.load(
                folders['saved_model']), parity) if parity else None
            reference_path = folders['saved_model']
        summary['saved_model'] = {'path': targets['saved_model'], 'parity': diff,
                                  'kept': keep, 'unknown': unknown}
        if derived:
            summary.update(derived_models.derive(
                model, targets, folders, reference_path, tflite_variants, onnx,
                (verify_images, verify_labels), verify_source, representative,
                representative_source, limits, registry, class_names,
                dict(source or {}, saved_model=targets['saved_model']), unknown))
        for key, folder in folders.items():  # all checks passed: into place
            if staging.publish(folder, targets[key]):
                log.info('Replaced the existing export %s (--overwrite).', targets[key])
    finally:
        for key, folder in folders.items():
            staging.discard(folder)
            if key != 'saved_model':  # export/tflite/ made for a version that failed
                try:
                    os.rmdir(os.path.dirname(targets[key]))
                except OSError:
                    pass  # it holds other versions
    _log_summary(summary)
    return summary


def _existing(targets, derived, overwrite, version):
    """Whether an existing SavedModel of this version is kept (only other formats are
    added); raises ExportError when a target exists and ``overwrite`` is not given."""
    if overwrite:
        return False
    existing = [targets[k] for k in derived if os.path.exists(targets[k])]
    if existing:
        raise ExportError(export.already_exported(existing[0], version))
    if os.path.exists(targets['saved_model']):
        if not derived:
            raise ExportError(export.already_exported(targets['saved_model'], version))
        return True
    return False


def _require_litert():
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        raise ConfigError(tflite.MISSING) from None
    tflite_metadata.schema()  # the standard metadata's schema comes with mediapipe


def _require_onnx():
    for module in ('tf2onnx', 'onnxruntime'):
        try:
            __import__(module)
        except ImportError:
            raise ConfigError(f'--onnx needs {module}, which is not installed: '
                              f'{onnx_export.EXTRA}.') from None


def _log_summary(summary):
    for result in summary.get('failed', []):
        v = result['verification']
        log.warning('%s NOT written: %s vs the SavedModel: %s - FAILS: %s. To write it '
                    'anyway: %s.', derived_models.display_name(result), v['runtime'],
                    verify.describe(v), ', '.join(v['shortfalls']), result['flag'])
    for result in summary.get('tflite', []) + ([summary['onnx']] if 'onnx' in summary
                                               else []):
        v = result['verification']
        log.info('%s: %s, %d bytes (%.1f KB); %s vs the SavedModel: %s (%s)',
                 derived_models.display_name(result), result['path'], result['bytes'],
                 result['bytes'] / 1024,
                 v['runtime'], verify.describe(v), verify.describe_limits(v['thresholds']))


def parse_targets(values):
    """(tflite variants, onnx) from `jacktf train --export` values: 'tflite:int8',
    'tflite:float,int8', 'tflite' (float), 'onnx'; repeated or comma separated.

    Raises:
      ConfigError: an unknown format (the message gives the accepted forms).
    """
    from jacktf.core.errors import ConfigError
    from jacktf.serve import tflite
    variants, onnx = [], False
    for value in values or ():
        kind, _, rest = str(value).partition(':')
        kind = kind.strip().lower()
        if kind == 'onnx' and not rest:
            onnx = True
        elif kind == 'tflite':
            variants += [v for v in tflite.parse_variants([rest or 'float'])
                         if v not in variants]
        else:
            raise ConfigError(f'--export {value!r} is not an export format: give '
                              'tflite:VARIANTS (float, float16, dynamic, int8; e.g. '
                              'tflite:float,int8) or onnx.')
    return variants, onnx
