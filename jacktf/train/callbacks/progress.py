"""Progress lines, the live progress bar, and TensorBoard summaries."""

import contextlib
import sys
import time

import tensorflow as tf

from jacktf.evaluation.evaluate import write_scalars
from jacktf.train.callbacks.base import Callback
from jacktf.train.callbacks.progress_line import ProgressLine
from jacktf.train.step import current_lr


def in_notebook():
    """Whether this process is a Jupyter (IPython kernel) notebook's."""
    shell = getattr(sys.modules.get('IPython'), 'get_ipython', lambda: None)()
    return type(shell).__name__ == 'ZMQInteractiveShell'


class Progress(Callback):
    """Every ``every_steps`` (and at the last step) logs one progress line and puts it
    in the step's logs as ``logs['train']`` (loss, total_loss, accuracy,
    images_per_second) with ``logs['learning_rate']``, for the callbacks after it
    (gin: ``progress.every_steps = 50``).

    On a terminal or in a Jupyter notebook (``bar`` None and stderr a TTY or a notebook
    kernel, or True) a tqdm bar (``tqdm.auto``: a widget in notebooks) also shows every
    step: epoch, step, loss, accuracy, learning rate, img/s and the ETA; log lines print
    above it. Elsewhere (logs, pipes, CI) only the lines.

    Args:
      every_steps: steps between progress lines (and train summaries).
      bar: the live progress bar: None when stderr is a terminal or a notebook's, True
        or False to force it on or off.
      stream: where the bar goes (default sys.stderr).
    """

    order = 20  # puts logs['train'] for the callbacks after it

    def __init__(self, every_steps=20, bar=None, stream=None):
        self.every_steps, self.bar_choice = max(1, int(every_steps)), bar
        self.stream = stream
        self.bar, self.exit_stack = None, None

    @staticmethod
    def images_per_step(ctl):
        return ctl.batch_size * ctl.trainer.accumulate_steps

    def _line(self, ctl, first_step):
        return ProgressLine(ctl.trainer.train_steps, self.images_per_step(ctl), first_step,
                            ctl.trainer.steps_per_epoch)

    def wants_bar(self, ctl):
        """The trainer's choice, else whether the bar's stream is a terminal."""
        choice = self.bar_choice
        if choice is not None:
            return bool(choice) and ctl.chief
        stream = self.stream or sys.stderr
        tty = hasattr(stream, 'isatty') and stream.isatty()
        return ctl.chief and (tty or (self.stream is None and in_notebook()))

    def on_train_begin(self, ctl):
        self.line = self._line(ctl, ctl.start_step)
        self.bar = None
        if self.wants_bar(ctl):
            from tqdm.auto import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm
            import logging
            self.exit_stack = contextlib.ExitStack()
            self.bar = self.exit_stack.enter_context(tqdm(
                total=ctl.trainer.train_steps, initial=ctl.start_step, unit='step',
                file=self.stream or sys.stderr, dynamic_ncols=True, leave=True,
                bar_format='{percentage:3.0f}%|{bar:20}| step {n_fmt}/{total_fmt} '
                           '[{elapsed}, ETA {remaining}]{postfix}'))
            # Log lines go above the bar instead of through it.
            self.exit_stack.enter_context(logging_redirect_tqdm(
                [logging.getLogger('jacktf')], tqdm_class=tqdm))
            self.rate = 0.0

    def on_loss_nonfinite(self, ctl, step):
        # The divergence guard (before this callback) restored an earlier step.
        restored = int(ctl.step.numpy())
        self.line = self._line(ctl, restored)
        if self.bar is not None:
            self.bar.n = restored
            self.bar.refresh()

    def on_step_end(self, ctl, step, logs):
        self.line.add(logs['loss'], logs['total_loss'], logs['accuracy'])
        trainer = ctl.trainer
        if self.bar is not None:
            self._update_bar(ctl, step)
        if step % self.every_steps == 0 or step == trainer.train_steps:
            lr = current_lr(ctl.optimizer)
            logs['learning_rate'] = lr
            logs['train'] = self.line.emit(step, lr, int(ctl.counters['skipped'].numpy()))

    def _update_bar(self, ctl, step):
        loss, _, acc = self.line.means()
        if step > self.line.s0:  # the rate since the last line (the first holds tracing)
            seconds = max(time.time() - self.line.t0, 1e-9)
            self.rate = (step - self.line.s0) * self.images_per_step(ctl) / seconds
        rate = self.rate
        epoch = self.line.epoch(step).strip()
        self.bar.set_postfix_str(
            f'{epoch + "  " if epoch else ""}loss {loss:.4f}  acc {acc:.3f}  '
            f'lr {current_lr(ctl.optimizer):.3g}  {rate:.1f} img/s', refresh=False)
        self.bar.update(step - self.bar.n)

    def on_train_end(self, ctl, logs):
        self.on_exit(ctl)  # the closing lines print below the finished bar

    def on_exit(self, ctl):
        if self.exit_stack is not None:
            self.exit_stack.close()
        self.bar, self.exit_stack = None, None


class TensorBoard(Callback):
    """Train scalars (from Progress's line) in MODEL_DIR/train; eval scalars in
    MODEL_DIR/eval, written by the one evaluation's write_scalars (the same tags and
    values `jacktf eval` and the continuous_eval sidecar write for the checkpoint)."""

    order = 22  # reads Progress's logs['train']

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
        if ctl.evaluation is not None:
            write_scalars(ctl.eval_writer, step, ctl.evaluation)
