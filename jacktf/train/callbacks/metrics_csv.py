"""MODEL_DIR/metrics.csv: one row per evaluation (timm's summary.csv)."""

import csv
import io
import os

import tensorflow as tf

from jacktf.core.files import write_atomic
from jacktf.train.callbacks.base import Callback
from jacktf.train.step import current_lr

COLUMNS = ('step', 'stage', 'train_loss', 'train_accuracy', 'eval_loss', 'eval_accuracy',
           'learning_rate', 'eval_macro_f1', 'eval_balanced_accuracy', 'eval_min_recall')
RANKED = ('macro_f1', 'balanced_accuracy', 'min_recall')  # best-k / early stopping metrics


class MetricsCsv(Callback):
    """Appends step, stage, train loss and accuracy (means over the steps since the
    previous evaluation), eval loss and accuracy, the learning rate and the eval's
    macro-F1, balanced accuracy and worst-class recall after each evaluation; chief
    only. A resumed run first drops rows after its start step."""

    order = 36  # EarlyStopping replays its rows on resume

    def __init__(self, filename='metrics.csv'):
        self.filename = filename

    def on_train_begin(self, ctl):
        self.path = os.path.join(ctl.model_dir, self.filename)
        self.loss = self.accuracy = 0.0
        self.steps = 0
        self.rows = []
        if ctl.chief and tf.io.gfile.exists(self.path):
            with tf.io.gfile.GFile(self.path) as f:
                self.rows = [r for r in csv.DictReader(f)
                             if int(r['step']) <= ctl.start_step]
            self._write()

    def _write(self):
        text = io.StringIO()
        writer = csv.DictWriter(text, COLUMNS, lineterminator='\n')
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomic(self.path, text.getvalue())

    def on_step_end(self, ctl, step, logs):
        self.loss += logs['loss']
        self.accuracy += logs['accuracy']
        self.steps += 1

    def on_eval_end(self, ctl, step, metrics):
        if ctl.chief:
            n = max(self.steps, 1)
            self.rows.append({
                'step': step, 'stage': ctl.stage,
                'train_loss': f'{self.loss / n:.6g}' if self.steps else '',
                'train_accuracy': f'{self.accuracy / n:.6g}' if self.steps else '',
                'eval_loss': f"{metrics['loss']:.6g}",
                'eval_accuracy': f"{metrics['accuracy']:.6g}",
                'learning_rate': f'{current_lr(ctl.optimizer):.6g}',
                **{f'eval_{k}': f'{metrics[k]:.6g}' for k in RANKED if k in metrics}})
            self._write()
        self.loss = self.accuracy = 0.0
        self.steps = 0
