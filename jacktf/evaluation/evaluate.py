"""`jacktf eval` and Experiment.evaluate_latest: the full evaluation report of a
checkpoint or a SavedModel (metrics, confusion matrix, top losses, TTA) on EVAL_FILES."""

import logging
import os

import tensorflow as tf

from jacktf.core import metrics as metrics_lib
from jacktf.core.errors import ConfigError
from jacktf.data import label_match, pipeline
from jacktf.evaluation import data_reports, passes, summaries, tta as tta_lib
from jacktf.evaluation.collect import EvalCollector
from jacktf.evaluation.top_losses import DEFAULT_SIZE
from jacktf.serve import export

log = logging.getLogger('jacktf')


def evaluate(experiment, checkpoint=None, saved_model=None, tta=None, top_losses=None):
    """Full evaluation report of a checkpoint (or a SavedModel) on EVAL_FILES.

    Writes metrics.json, confusion_matrix.png, top_losses.png and top_losses.csv
    into MODEL_DIR/eval (a SavedModel's into MODEL_DIR/eval/saved_model_VERSION,
    next to the checkpoint's), and the pictures to TensorBoard there.

    Args:
      checkpoint: a checkpoint prefix or folder (default: the latest).
      saved_model: evaluate this SavedModel instead of a checkpoint.
      tta: test-time augmentation modes ('flip', 'crops', 'flip,crops'), or None;
        the report then holds the TTA numbers under 'tta' beside the plain ones.
      top_losses: examples in the top-losses gallery (default 16; 0: none).
    """
    if not experiment.eval_files:
        raise ConfigError('EVAL_FILES is not set: nothing to evaluate.')
    tta = tta_lib.parse(tta)
    names, labels_path = experiment.class_names()
    mapping = label_match.label_map(  # by name; refuses classes the model lacks
        names if labels_path else None, pipeline.labels_for(experiment.eval_files),
        source=experiment.eval_files, labels_path=labels_path)
    collector = EvalCollector(len(names), DEFAULT_SIZE if top_losses is None
                              else top_losses)
    report_dir = data_reports.report_dir(experiment.model_dir, experiment.eval_files)
    decode_fn = experiment.decode_fn
    if mapping:
        experiment.decode_fn = label_match.remapped(decode_fn, mapping)
    try:
        labels, probabilities, averaged, examples, source, report_dir, version = _passes(
            experiment, collector, names, checkpoint, saved_model, tta, report_dir)
    finally:
        experiment.decode_fn = decode_fn
    step = int(version) if version.isdigit() else None
    report = metrics_lib.classification_report(labels, probabilities, names)
    report['absent_classes'] = label_match.absent_classes(names, report['confusion_matrix'])
    label_match.warn_absent(report['absent_classes'], 'EVAL_FILES', experiment.eval_files,
                            len(names))
    if tta:
        augmented = metrics_lib.classification_report(labels, averaged, names)
        report['tta'] = {'views': tta_lib.describe(tta), **{
            k: v for k, v in augmented.items()
            if k.endswith('_accuracy') or k == 'macro_f1'}}
    report['source'] = source
    report['eval_files'] = str(experiment.eval_files)
    report['misclassified'] = collector.misclassified
    report['listed_in_top_losses'] = len(examples)
    path, images = metrics_lib.write_report(
        report, report_dir, examples=examples if collector.top.size else None,
        misclassified=collector.misclassified, step=step)
    writer = tf.summary.create_file_writer(report_dir)
    summaries.write_images(writer, images, step or 0)
    writer.close()
    log.info('eval of %s: top-1 %.4f on %d examples; report %s', source,
             report['top_1_accuracy'], report['examples'], path)
    return dict(report, report_path=path)


def _passes(experiment, collector, names, checkpoint, saved_model, tta, report_dir):
    """(labels, probabilities, averaged, examples, source, report dir, version)."""
    if saved_model:
        source, note = export.find_saved_model(saved_model)
        if note:
            log.info(note)
        module, serve = export.load_saved_model(source)
        # Next to the checkpoint's report, not over it.
        version = os.path.basename(source)
        report_dir = os.path.join(report_dir, f'saved_model_{version}')
        labels, probabilities, averaged, examples = passes.saved_model_pass(
            experiment, module, serve, source, names, collector, tta)
    else:
        source = experiment.restore_latest(checkpoint)
        version = source.rsplit('-', 1)[-1]
        labels, probabilities, averaged, examples = passes.checkpoint_pass(
            experiment, collector, tta)
    return labels, probabilities, averaged, examples, source, report_dir, version
