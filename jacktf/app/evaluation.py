"""Evaluating a checkpoint or a SavedModel of a run: `jacktf eval`, ``--mode=eval`` and
the continuous_eval sidecar.

The wiring only: restore, the eval dataset, then the one evaluation function
(jacktf.evaluation.evaluate) and its writers, the same ones the training loop uses, so
the report and the TensorBoard scalars of a checkpoint are the same whoever ran it.
"""

import logging
import os

import tensorflow as tf

from jacktf.core.checkpoint_paths import step_in_name
from jacktf.core.errors import ConfigError
from jacktf.evaluation import evaluate as evaluate_lib
from jacktf.data import label_match, pipeline
from jacktf.evaluation import data_reports, passes, tta as tta_lib
from jacktf.evaluation.top_losses import DEFAULT_SIZE
from jacktf.serve import export

log = logging.getLogger('jacktf')


def evaluate_run(experiment, checkpoint=None, saved_model=None, tta=None,
                 top_losses=None):
    """The report of :func:`run_evaluation` (the same arguments)."""
    return run_evaluation(experiment, checkpoint, saved_model, tta, top_losses)[0]


def run_evaluation(experiment, checkpoint=None, saved_model=None, tta=None,
                   top_losses=None):
    """Full evaluation of a checkpoint (or a SavedModel) on EVAL_FILES.

    Writes metrics.json, confusion_matrix.png, top_losses.png and top_losses.csv into
    MODEL_DIR/eval (a SavedModel's into MODEL_DIR/eval/saved_model_VERSION, next to the
    checkpoint's), and the scalars and pictures to TensorBoard there, at the step of the
    checkpoint.

    Args:
      experiment: the run's Experiment.
      checkpoint: a checkpoint prefix or folder (default: the run's model, its best
        checkpoint when best-k kept one, else the latest).
      saved_model: evaluate this SavedModel instead of a checkpoint.
      tta: test-time augmentation modes ('flip', 'crops', 'flip,crops'), or None; the
        report then holds the TTA numbers under 'tta' beside the plain ones.
      top_losses: examples in the top-losses gallery (default 16; 0: none).

    Returns:
      (report, result): the report (a dict, with 'source' and 'report_path') and the
      jacktf.evaluation.evaluate.EvalResult (its top-loss examples with their pictures).
    """
    if not experiment.eval_files:
        raise ConfigError('EVAL_FILES is not set: nothing to evaluate.')
    tta = tta_lib.parse(tta)
    names, labels_path = experiment.class_names()
    mapping = label_match.label_map(  # by name; refuses classes the model lacks
        names if labels_path else None, pipeline.labels_for(experiment.eval_files),
        source=experiment.eval_files, labels_path=labels_path)
    keep = DEFAULT_SIZE if top_losses is None else top_losses
    report_dir = data_reports.report_dir(experiment.model_dir, experiment.eval_files)
    decode_fn = experiment.decode_fn
    if mapping:
        experiment.decode_fn = label_match.remapped(decode_fn, mapping)
    try:
        result, source, step, report_dir = _result(
            experiment, names, checkpoint, saved_model, tta, keep, report_dir)
    finally:
        experiment.decode_fn = decode_fn
    report = result.report
    _leakage(experiment, result, report)
    report['absent_classes'] = label_match.absent_classes(names, report.get(
        'confusion_matrix') or [[s['support']] for s in report['per_label'].values()])
    label_match.warn_absent(report['absent_classes'], 'EVAL_FILES', experiment.eval_files,
                            len(names))
    writer = tf.summary.create_file_writer(report_dir)
    path = evaluate_lib.write_outputs(result, report_dir, step=step, writer=writer,
                                      source=source, eval_files=experiment.eval_files)
    if step is not None:
        evaluate_lib.write_scalars(writer, step, result)
    writer.close()
    log.info('eval of %s: top-1 %.4f on %d examples; report %s', source,
             report['top_1_accuracy'], report['examples'], path)
    return dict(report, source=source, eval_files=str(experiment.eval_files),
                report_path=path), result


def _leakage(experiment, result, report):
    """Adds 'leakage' to ``report`` and warns when eval images have near-duplicates in
    another split (dataset.json's near-duplicate groups): the accuracy without them."""
    from jacktf.data import near_duplicates
    leaked = near_duplicates.leaked_files(pipeline.list_files(experiment.eval_files))
    found = evaluate_lib.without_leaked(result, leaked)
    if found:
        report['leakage'] = found
        log.warning('%d eval images have a near-duplicate in another split (dataset.json): '
                    'top-1 %.4f without them on %d examples (%.4f with them).',
                    found['leaked_images'], found['accuracy_without_leaked'],
                    found['examples_without_leaked'], report['top_1_accuracy'])


def _result(experiment, names, checkpoint, saved_model, tta, keep, report_dir):
    """(EvalResult, source, step or None, report dir) of a checkpoint or a SavedModel."""
    if saved_model:
        if getattr(experiment.model, 'multi_label', False):
            raise ConfigError('Evaluating a multi-label SavedModel (--saved_model) is not '
                              'available: evaluate its checkpoint instead (leave out '
                              '--saved_model, or give --checkpoint).')
        source, note = export.find_saved_model(saved_model)
        if note:
            log.info(note)
        module, serve = export.load_saved_model(source)
        report_dir = os.path.join(report_dir, f'saved_model_{os.path.basename(source)}')
        result = passes.saved_model_pass(
            module, serve, source, names, files=experiment.eval_files,
            decode_fn=experiment.decode_fn, batch_size=experiment.eval_batch_size,
            skip_corrupt=experiment.skip_corrupt, counters=experiment.counters,
            model_dir=experiment.model_dir, tta=tta, top_losses=keep,
            model=experiment.model)
        version = os.path.basename(source)
        step = int(version) if version.isdigit() else None
    else:
        source = experiment.restore_latest(checkpoint)
        step = step_in_name(source)
        dataset = experiment.dataset(experiment.eval_files, training=False, with_info=True,
                                     tta=tta)
        result = evaluate_lib.evaluate(
            experiment.model, dataset, class_names=names, files=experiment.eval_files,
            counters=experiment.counters, tta=tta, top_losses=keep)
    return result, source, step, report_dir
