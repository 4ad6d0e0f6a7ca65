"""Progress lines and TensorBoard summaries."""

import tensorflow as tf

from jacktf.train.callbacks.base import Callback
from jacktf.train.callbacks.progress_line import ProgressLine
from jacktf.train.step import current_lr


class Progress(Callback):
    """Every ``Trainer.log_every_steps`` (and at the last step) logs one progress line and
    puts it in the step's logs as ``logs['train']`` (loss, total_loss, accuracy,
    images_per_second) with ``logs['learning_rate']``, for the callbacks after it."""

    @staticmethod
    def images_per_step(ctl):
        return ctl.batch_size * ctl.trainer.accumulate_steps

    def on_train_begin(self, ctl):
        self.line = ProgressLine(ctl.trainer.train_steps, self.images_per_step(ctl),
                                 ctl.start_step)

    def on_loss_nonfinite(self, ctl, step):
        # The divergence guard (before this callback) restored an earlier step.
        self.line = ProgressLine(ctl.trainer.train_steps, self.images_per_step(ctl),
                                 int(ctl.step.numpy()))

    def on_step_end(self, ctl, step, logs):
        self.line.add(logs['loss'], logs['total_loss'], logs['accuracy'])
        trainer = ctl.trainer
        if step % trainer.log_every_steps == 0 or step == trainer.train_steps:
            lr = current_lr(ctl.optimizer)
            logs['learning_rate'] = lr
            logs['train'] = self.line.emit(step, lr, int(ctl.counters['skipped'].numpy()))


class TensorBoard(Callback):
    """Train scalars (from Progress's line) in MODEL_DIR/train, eval scalars in
    MODEL_DIR/eval."""

    TRAIN_KEYS = ('loss', 'total_loss', 'accuracy', 'images_per_second')

    def on_step_end(self, ctl, step, logs):
        if 'train' not in logs:
            return
        with ctl.train_writer.as_default(step=step):
            for key in self.TRAIN_KEYS:
                tf.summary.scalar(key, logs['train'][key])
            tf.summary.scalar('learning_rate', logs['learning_rate'])
            if ctl.trainer.stages:
                tf.summary.scalar('stage', ctl.stage)

    def on_eval_end(self, ctl, step, metrics):
        with ctl.eval_writer.as_default(step=step):
            tf.summary.scalar('accuracy', metrics['accuracy'])
            tf.summary.scalar('loss', metrics['loss'])
