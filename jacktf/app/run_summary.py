"""The end of a front-door run in a few lines a person reads in five seconds: the
validation accuracy, the worst classes by recall, where the model and the pictures are,
and the one command that predicts with it."""

import json
import logging
import os

from jacktf.core.checkpoint_paths import step_in_name
from jacktf.core.errors import JacktfError
from jacktf.data import split_file

log = logging.getLogger('jacktf')
WORST = 3


def worst_classes(report, count=WORST):
    """[(class, recall, examples)] of the ``count`` classes with the lowest recall (of a
    multi-label report: labels, recall at their tuned thresholds)."""
    per = report.get('per_class') or report.get('per_label') or {}
    rows = [(name, float(m['recall']), int(m.get('support', 0)))
            for name, m in per.items()]
    return sorted(rows, key=lambda r: (r[1], r[0]))[:count]


def _last_eval(experiment, step):
    """The training loop's own report of ``step`` on EVAL_FILES (MODEL_DIR/eval), or
    None when it is of another step or missing."""
    path = os.path.join(experiment.model_dir, 'eval', 'metrics.json')
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return None
    source = str(report.get('source'))
    made_at = int(source.rsplit(' ', 1)[1]) if source.startswith('training at step ') \
        else step_in_name(source)
    if step is None or made_at != step or not ('per_class' in report or
                                               'per_label' in report):
        return None
    return dict(report, report_path=path)


def _evaluate(experiment, files, step=None):
    experiment.eval_files = files
    report = _last_eval(experiment, step) or experiment.evaluate_latest()
    return {'accuracy': float(report['top_1_accuracy']), 'examples': report['examples'],
            'mAP': report.get('mAP'),
            'worst_classes': worst_classes(report),
            'report': report['report_path'],
            'pictures': [os.path.join(os.path.dirname(report['report_path']), name)
                         for name in ('confusion_matrix.png', 'top_losses.png')
                         if os.path.exists(os.path.join(
                             os.path.dirname(report['report_path']), name))]}


def summarize(plan, experiment, result, exported=None):
    """The summary dict of a trained Plan (see format_summary).

    Keys: model_dir, classes, validation and test ({accuracy, examples, worst_classes,
    report, pictures} or None), saved_model (path or None), batch_preview, split,
    predict_command, train (the training loop's summary), export (or None).
    """
    summary = {'model_dir': plan.model_dir, 'classes': plan.classes,
               'split': plan.split_path, 'train': result, 'export': exported,
               'validation': None, 'test': None}
    eval_files = experiment.eval_files
    try:
        if eval_files:
            summary['validation'] = _evaluate(experiment, eval_files,
                                              (result or {}).get('step'))
        if plan.split_path and plan.counts.get('test'):
            summary['test'] = _evaluate(experiment,
                                        split_file.ref(plan.split_path, 'test'))
    finally:
        experiment.eval_files = eval_files
    saved = None
    try:
        from jacktf.serve import saved_models
        saved, _ = saved_models.find_saved_model(plan.model_dir)
    except JacktfError:
        pass
    preview = os.path.join(plan.model_dir, 'batch_preview.png')
    summary.update(saved_model=saved,
                   batch_preview=preview if os.path.exists(preview) else None,
                   predict_command=f'jacktf predict --model {plan.model_dir} IMAGE...')
    return summary


def format_summary(summary):
    """The summary as the lines the command prints."""
    lines = []
    for split in ('validation', 'test'):
        part = summary.get(split)
        if not part:
            continue
        worst = ', '.join(f'{name} {recall:.2f}' for name, recall, _ in
                          part['worst_classes'])
        score = (f'mAP {part["mAP"]:.4f}, exact match {part["accuracy"]:.4f}'
                 if part.get('mAP') is not None else f'accuracy {part["accuracy"]:.4f}')
        lines.append(f'{split} {score} on {part["examples"]} images; lowest recall: '
                     f'{worst}')
        if part['pictures']:
            lines.append(f'  pictures: {" ".join(part["pictures"])}')
    if summary.get('saved_model'):
        lines.append(f'model: {summary["saved_model"]}')
    for key, value in (summary.get('export') or {}).items():
        if isinstance(value, dict) and value.get('path'):
            lines.append(f'export {key}: {value["path"]}')
    lines.append(f'predict: {summary["predict_command"]}')
    return '\n'.join(lines)
