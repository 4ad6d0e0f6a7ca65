"""TensorBoard text and hyperparameters: what a run was, readable next to its curves.

After the run's first step (when MODEL_DIR/operative_config.gin exists): the operative
config and the restore report as text summaries at the run's start step (0 for a fresh
run) in MODEL_DIR/train, and the run's hyperparameters through TensorBoard's HParams
plugin in MODEL_DIR itself, so ``tensorboard --logdir`` over several model directories
compares them in the HPARAMS tab (metrics: the train/ and eval/ scalars).
"""

import dataclasses
import json
import os

import tensorflow as tf

from jacktf.train.callbacks.base import Callback

OPERATIVE_TAG = 'config/operative_config'
RESTORE_TAG = 'config/restore_report'


def _code_block(text):
    """Markdown that TensorBoard shows verbatim (indented code)."""
    return '\n'.join('    ' + line for line in text.splitlines())


def restore_report_text(model_dir):
    """The restore report of MODEL_DIR/restore_report.json as text, or a sentence."""
    path = os.path.join(model_dir, 'restore_report.json')
    if not tf.io.gfile.exists(path):
        return 'No warm start: CHECKPOINT_PATH is None (random initialization).'
    from jacktf.core.restore import RestoreReport
    with tf.io.gfile.GFile(path) as f:
        data = json.load(f)
    names = {field.name for field in dataclasses.fields(RestoreReport)}
    data['shape_mismatched'] = [(d['name'], d['model_shape'], d['checkpoint_shape'])
                                for d in data.get('shape_mismatched', [])]
    report = RestoreReport(**{k: v for k, v in data.items() if k in names})
    return '\n'.join(report.lines())


def _plugin_name(factory):
    if factory is None:
        return 'none'
    entry = getattr(factory, 'jacktf_entry', None)
    return entry.name if entry is not None else getattr(factory, '__name__',
                                                        type(factory).__name__)


def hyperparameters(experiment):
    """{name: bool | int | float | str} of what distinguishes one run from another
    (the app layer puts them in RunInputs.hyperparameters)."""
    model, trainer = experiment.model, experiment.trainer
    augmentations = getattr(experiment, 'augmentations', ())
    values = {
        'backbone': model.backbone_name, 'head': model.head_name,
        'num_classes': model.num_classes, 'image_size': model.image_size,
        'preprocessing': model.preprocessing, 'precision': model.precision,
        'batch_size': experiment.batch_size, 'train_files': str(experiment.train_files),
        'checkpoint_path': str(experiment.checkpoint_path),
        'deterministic': experiment.deterministic,
        'train_steps': trainer.train_steps, 'learning_rate': trainer.learning_rate,
        'optimizer': _plugin_name(trainer.optimizer_factory),
        'lr_schedule': _plugin_name(trainer.lr_schedule_factory),
        'freeze_scopes': ', '.join(map(str, trainer.freeze_scopes)) or 'none',
        'lr_multipliers': json.dumps(trainer.lr_multipliers, sort_keys=True),
        'label_smoothing': trainer.label_smoothing,
        'clip_gradient_norm': float(trainer.clip_gradient_norm or 0.0),
        'moving_average_decay': float(trainer.moving_average_decay or 0.0),
        'accumulate_steps': trainer.accumulate_steps, 'stages': len(trainer.stages),
        'augmentations': ', '.join(getattr(a, 'name', type(a).__name__)
                                   for a in augmentations) or 'none',
    }
    return {k: v if isinstance(v, (bool, int, float, str)) else str(v)
            for k, v in values.items()}


class TensorBoardText(Callback):
    """Writes the text summaries and the HParams session once, after the first step."""

    order = 12  # after AfterFirstStep

    def on_step_end(self, ctl, step, logs):
        if step != ctl.start_step + 1 or not ctl.chief:
            return
        from tensorboard.plugins.hparams import api as hparams_api
        config_path = os.path.join(ctl.model_dir, 'operative_config.gin')
        if tf.io.gfile.exists(config_path):
            with tf.io.gfile.GFile(config_path) as f:
                config = _code_block(f.read())
        else:
            config = 'No operative config (the run was not started from gin recipes).'
        with ctl.train_writer.as_default(step=ctl.start_step):
            tf.summary.text(OPERATIVE_TAG, config, description='Every value the run '
                            'used (MODEL_DIR/operative_config.gin).')
            tf.summary.text(RESTORE_TAG, _code_block(restore_report_text(ctl.model_dir)),
                            description='Where each variable came from at the warm start.')
        ctl.train_writer.flush()
        writer = tf.summary.create_file_writer(ctl.model_dir)
        with writer.as_default(step=ctl.start_step):
            hparams_api.hparams(ctl.inputs.hyperparameters,
                                trial_id=os.path.basename(os.path.abspath(ctl.model_dir)))
        writer.close()
