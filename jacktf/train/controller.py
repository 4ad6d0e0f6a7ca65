"""Controller: the outer training loop (orbit's Controller, fastai's Learner, Keras fit).

It builds what one run trains with (model, optimizer, global step, checkpoint and its
manager, summary writers), resumes or warm-starts, then runs the inner step in a loop
and calls its callbacks at named events (see callbacks.base.Callback). Everything else
(progress, summaries, checkpoints, best-k, periodic evaluation, export, the divergence
guard, stop signals) is a callback with one job. The setup steps live in
jacktf.train.controller_setup (a mixin).
"""

import contextlib
import gc
import logging
import random
import time

import numpy as np

from jacktf.data.input_errors import input_errors
from jacktf.evaluation.evaluate import evaluate
from jacktf.train import data_plan, feature_cache, seeding, stages as stages_lib
from jacktf.train.callbacks.base import CallbackList
from jacktf.train.controller_setup import ControllerSetup
from jacktf.train.step import averaged_weights

log = logging.getLogger('jacktf')


class Controller(ControllerSetup):
    """Runs one training: handed its collaborators, as orbit's Controller is.

    Args:
      model: the Model to train.
      trainer: the Trainer (the step's settings: steps, optimizer, freeze rules, ...).
      inputs: the run's RunInputs (files, datasets, warm start, labels, export).
      callbacks: Callback instances, run at every event by their ``order``.
      model_dir: the run's model directory.
      strategy: the tf.distribute strategy.
      state: the run's RunState (shared with the forced-stop handler).
      stop: the run's StopRequests.
      evaluate: evaluate on EVAL_FILES (periodically and at the end).
    """

    def __init__(self, *, model, trainer, inputs, callbacks, model_dir, strategy, state,
                 stop, evaluate=True):
        self.model, self.trainer, self.inputs = model, trainer, inputs
        self.callbacks = CallbackList(callbacks)
        self.state, self.stop = state, stop
        self.strategy, self.model_dir = strategy, model_dir
        self.batch_size, self.counters = inputs.batch_size, inputs.counters
        self.do_evaluate = evaluate
        self.stop_training, self.result, self.metrics = False, None, {}
        self.stage, self.evaluated_at = 0, None
        self.feature_cache, self.best, self.evaluation = None, None, None

    # -- the loop --------------------------------------------------------------------
    def fit(self):
        """Trains to Trainer.train_steps; returns the run's summary (or, when a stop
        signal ended it, {step, stopped_by, checkpoint})."""
        exp, model, trainer = self.inputs, self.model, self.trainer
        self._build()
        resumed = self._restore()
        if not resumed:  # a restore point for the divergence guard (same on all workers)
            self.manager.save(checkpoint_number=0)
        self.eval_dataset = exp.dataset(  # with file names, for the top losses
            exp.eval_files, training=False, with_info=True) if (
            self.do_evaluate and exp.eval_files) else None
        self.seed = random.randrange(2 ** 31) if exp.seed is None else exp.seed
        self.class_names = exp.class_names() or [
            str(i) for i in range(model.num_classes)]
        self.start_step = int(self.step.numpy())
        self.feature_cache = feature_cache.prepare(self)
        if self.feature_cache is not None:  # the head trains on cached features
            self.iterator = iter(self.feature_cache.dataset(
                self.batch_size, self.seed, self.start_step * trainer.accumulate_steps))
        train_step = self._enter_stage(trainer.stage_at(self.start_step))
        self.train_writer, self.eval_writer = self._writer('train'), self._writer('eval')
        data = data_plan.describe(exp.plan, trainer, exp.sampling) if exp.plan else \
            'examples not counted'
        data += f', {exp.input_note}' if getattr(exp, 'input_note', '') else ''
        log.info('Training %s + %s head on %s: steps %d..%d, batch %d on %d replica(s), '
                 'input %dx%d (%s preprocessing), %s, %s, %d trainable / %d frozen '
                 'variables, %s, model_dir %s%s', model.backbone_name, model.head_name,
                 exp.train_files, self.start_step, trainer.train_steps, self.batch_size,
                 self.strategy.num_replicas_in_sync, model.image_size, model.image_size,
                 model.preprocessing, data, self.precision_note, len(self.variables),
                 len(self.frozen), seeding.describe(exp.seed, self.seed), self.model_dir,
                 '. Stages: ' + stages_lib.describe(trainer.stages, trainer.stage_spans)
                 if trainer.stages else '')
        t_start = time.time()
        self.callbacks.on_train_begin(self)
        self.done_line = None
        try:
            summary = self._fit(train_step, t_start)
        finally:
            try:
                self.callbacks.on_exit(self)
            finally:
                self._release()
        if self.done_line:
            log.info(*self.done_line)
        return summary

    def _release(self):
        """Stops the input pipeline and closes the summary writers now. The Controller
        sits in reference cycles (callbacks, traced functions), so without this its
        repeating, prefetching training iterator lived on until interpreter shutdown,
        whose teardown of it kept a finished process alive for 15-36 s."""
        for name in ('train_writer', 'eval_writer'):
            writer = getattr(self, name, None)
            if writer is not None:
                writer.close()
        self.iterator = self.eval_dataset = self.feature_cache = None
        gc.collect()  # the cycles' TensorFlow objects go while the runtime is whole

    def _fit(self, train_step, t_start):
        trainer = self.trainer
        with self.stop.interruptible(False):
            while True:
                self.callbacks.on_stage_begin(self, self.stage)
                end = min(trainer.stage_spans[self.stage][1], trainer.train_steps)
                self._loop(train_step, end)
                if self.result is not None:  # a stop signal: saved, nothing more to do
                    self.train_writer.flush()
                    return self.result
                self.callbacks.on_stage_end(self, self.stage)
                if self.stop_training or end >= trainer.train_steps:
                    break
                train_step = self._enter_stage(self.stage + 1)
        final = int(self.step.numpy())
        if self.manager.latest_checkpoint is None or \
                not self.manager.latest_checkpoint.endswith(f'-{final}'):
            self.manager.save(checkpoint_number=final)
        # From here on a stop ends the evaluation or export at once (run() reports it).
        if self.eval_dataset is not None and self.evaluated_at != final:
            self.evaluate(final)
        self.callbacks.on_train_end(self, {'step': final})
        self.train_writer.flush()
        self.eval_writer.flush()
        return self._summary(final, time.time() - t_start)

    def _loop(self, train_step, end):
        state = self.state
        while int(self.step.numpy()) < end and not self.stop_training:
            t_step = time.time()
            # Before the first step a stop needs no checkpoint: stop at once.
            state.in_step = True
            with self.stop.interruptible(not state.stepped):
                loss, total, acc = self._train_step(train_step)
            state.in_step = False
            if not np.isfinite(float(total)):
                self.callbacks.on_loss_nonfinite(self, int(self.step.numpy()) + 1)
                continue
            current = int(self.step.assign_add(1).numpy())
            state.stepped = True
            logs = {'loss': float(loss), 'total_loss': float(total), 'accuracy': float(acc),
                    'seconds': time.time() - t_step}
            self.callbacks.on_step_end(self, current, logs)

    def _train_step(self, train_step):
        """One step; data errors become DataError. The training input repeats: it only
        ends when a whole pass over the files yielded no usable record."""
        with input_errors(self.inputs.train_files, 'TRAIN_FILES', self.counters, ends=True):
            return train_step(self.iterator)

    def evaluate(self, step, interruptible=None):
        """Evaluates the (averaged) weights on EVAL_FILES with the one evaluation
        function (jacktf.evaluation.evaluate), logs, calls on_eval_end.

        ``interruptible``: True, False, or None to keep the enclosing block's setting.
        """
        inputs = self.inputs
        stoppable = contextlib.nullcontext() if interruptible is None else \
            self.stop.interruptible(interruptible)
        with averaged_weights(self.ema, self.all_variables), stoppable:
            # The maps of the averaged weights, the ones evaluated (the chief draws).
            self.evaluation = evaluate(
                self.model, self.eval_dataset, class_names=self.class_names,
                files=inputs.eval_files, counters=self.counters, strategy=self.strategy,
                explain=self.chief)
        metrics = self.evaluation.metrics
        extra = ''.join(f'  {k} {metrics[k]:.4f}' for k in ('mAP', 'macro_f1')
                        if k in metrics)  # multi-label: accuracy is the exact match
        log.info('eval at step %d: accuracy %.4f  loss %.4f%s  (%d examples)', step,
                 metrics['accuracy'], metrics['loss'], extra, metrics['examples'])
        self.metrics, self.evaluated_at = dict(metrics), step
        self.callbacks.on_eval_end(self, step, self.metrics)
        return self.metrics

    def _summary(self, final, seconds):
        metrics, latest = self.metrics, self.manager.latest_checkpoint
        skipped = int(self.counters['skipped'].numpy())
        summary = {'step': final, 'seconds': round(seconds, 1), 'skipped_records': skipped,
                   'checkpoint': latest, 'model_dir': self.model_dir,
                   **{f'eval_{k}': v for k, v in metrics.items()}}
        if self.feature_cache is not None:
            summary['feature_cache'] = self.feature_cache.stats()
        acc = f"eval accuracy {metrics['accuracy']:.4f} on {metrics['examples']} " \
              'examples' if 'accuracy' in metrics else 'no evaluation'
        # Said by fit() once the run has released its input pipeline and writers.
        self.done_line = ('Done at step %d: %s. %d corrupt or oversized records skipped. '
                          'Checkpoint: %s. TensorBoard: tensorboard --logdir %s', final, acc,
                          skipped, latest, self.model_dir)
        return summary
