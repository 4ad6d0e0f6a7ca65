"""`--mode=continuous_eval`: a sidecar evaluator that follows a training run.

It watches MODEL_DIR/checkpoints (tf.train.checkpoints_iterator), evaluates each new
checkpoint once on EVAL_FILES with the one evaluation function (jacktf.app.evaluation,
jacktf.evaluation.evaluate), and writes what a training run's own evaluation writes:
the same eval scalars (MODEL_DIR/eval), the eval report (MODEL_DIR/eval/metrics.json
and its pictures) and the best-k checkpoints (MODEL_DIR/best, copies of the evaluated
checkpoints). It stops after evaluating the final checkpoint (step TRAIN_STEPS), when
the training run has ended (its writer lock is gone) and its newest checkpoint was
evaluated, or after ``timeout`` seconds without a new checkpoint.

It takes no writer lock and joins no training cluster: it runs beside a local
`--mode=train` run or a MultiWorkerMirroredStrategy run, on its own device. The last
evaluated step is kept in MODEL_DIR/eval/continuous_eval.json, so a restarted sidecar
does not evaluate a checkpoint twice.
"""

import json
import logging
import os
import time

import tensorflow as tf

from jacktf.core.checkpoint_paths import step_in_name
from jacktf.core.errors import ConfigError, JacktfError
from jacktf.core.files import write_atomic
from jacktf.evaluation.operating_point import MODES
from jacktf.train import lock as lock_lib
from jacktf.train import recovery
from jacktf.train.callbacks import BestK
from jacktf.train.checkpointing import BestCheckpoints

log = logging.getLogger('jacktf')
POLL_SECONDS = 2.0
# A sidecar started before its training run (re)starts must not take the old run's end
# for the new one's: "training has ended" counts only after this long, unless the
# sidecar saw the run hold its lock or evaluated a checkpoint itself.
START_GRACE_SECONDS = 30.0
STATE_NAME = 'continuous_eval.json'


step_of = step_in_name


class CopiedCheckpoint:
    """Best-k's ``checkpoint`` for a sidecar: ``write(prefix)`` copies the evaluated
    training checkpoint's files (data first, index last, each via a temporary name)."""

    def __init__(self, source):
        self.source = source

    def write(self, prefix):
        files = sorted(tf.io.gfile.glob(self.source + '.*'),
                       key=lambda f: f.endswith('.index'))
        tf.io.gfile.makedirs(os.path.dirname(prefix))
        for f in files:
            target = prefix + f[len(self.source):]
            tf.io.gfile.copy(f, target + '.tmp', overwrite=True)
            tf.io.gfile.rename(target + '.tmp', target, overwrite=True)
        return prefix


class Sidecar:
    """Evaluates the checkpoints of ``experiment``'s MODEL_DIR as they appear.

    Args:
      experiment: the Experiment (its EVAL_FILES, Trainer.train_steps, best_k.keep).
      timeout: seconds without a new checkpoint before it stops.
    """

    def __init__(self, experiment, timeout=3600.0):
        if not experiment.eval_files:
            raise ConfigError('--mode=continuous_eval needs EVAL_FILES: set EVAL_FILES in '
                              'the recipe or --gin_param="EVAL_FILES = \'...\'".')
        self.experiment = experiment
        self.timeout = float(3600.0 if timeout is None else timeout)
        self.model_dir = experiment.model_dir
        self.ckpt_dir = os.path.join(self.model_dir, 'checkpoints')
        self.eval_dir = os.path.join(self.model_dir, 'eval')
        self.state_path = os.path.join(self.eval_dir, STATE_NAME)
        self.train_steps = experiment.trainer.train_steps
        best_k = next((c for c in experiment.callbacks() if isinstance(c, BestK)), None)
        self.keep_best = best_k.keep if best_k else 0
        self.best_metric = (best_k.metric if best_k else None) or (
            'mAP' if getattr(experiment.model, 'multi_label', False) else 'accuracy')
        self.last_step = self._load_state()
        self.evaluated = []
        self.started = self.waiting_since = time.time()
        self.saw_training = False

    def _load_state(self):
        try:
            with tf.io.gfile.GFile(self.state_path) as f:
                return int(json.load(f)['step'])
        except (tf.errors.NotFoundError, ValueError, KeyError, TypeError):
            return -1

    def _save_state(self, step, report):
        write_atomic(self.state_path, json.dumps(
            {'step': step, 'checkpoint': report['source'],
             'top_1_accuracy': report['top_1_accuracy']}, indent=2))

    def _training_ended(self):
        """The training run is gone and its newest checkpoint was evaluated."""
        if lock_lib.is_held(self.model_dir):
            self.saw_training = True
            return False
        if not (self.saw_training or self.evaluated or
                time.time() - self.started >= START_GRACE_SECONDS):
            return False
        latest, _ = recovery.recover(self.ckpt_dir, repair=False)
        newest = step_of(latest) if latest else None
        return newest is not None and newest <= self.last_step

    def _stop_waiting(self):
        """checkpoints_iterator's timeout_fn: True ends the iteration."""
        if self._training_ended():
            log.info('continuous_eval: the training run in %s has ended and its newest '
                     'checkpoint was evaluated: stopping.', self.model_dir)
            return True
        waited = time.time() - self.waiting_since
        if waited >= self.timeout:
            log.info('continuous_eval: no new checkpoint in %s for %.0f s (--eval_timeout):'
                     ' stopping.', self.ckpt_dir, waited)
            return True
        return False

    def evaluate(self, path):
        """Evaluates checkpoint ``path``; returns its report, or None when it could not
        be read (rotated away by the training run, or damaged)."""
        step = step_of(path)
        exp = self.experiment
        try:
            report = exp.evaluate_latest(checkpoint=path)
        except (JacktfError, tf.errors.OpError) as e:
            if isinstance(e, JacktfError) and tf.io.gfile.exists(path + '.index'):
                raise  # not the checkpoint: EVAL_FILES, labels, ...
            text = str(e).strip()
            log.warning('continuous_eval: skipped %s: it cannot be read (%s).', path,
                        text.splitlines()[0][:200] if text else type(e).__name__)
            return None
        accuracy = report['top_1_accuracy']  # the scalars: written by evaluate_run
        keep = self.keep_best
        if keep:
            best = BestCheckpoints(self.model_dir, keep, CopiedCheckpoint(path))
            best.rank_by(self.best_metric, MODES[self.best_metric], 0)
            values = dict(report, accuracy=report['top_1_accuracy'])
            best.consider(step, values[self.best_metric])
        self._save_state(step, report)
        log.info('continuous_eval: step %d: accuracy %.4f on %d examples (%s).', step,
                 accuracy, report['examples'], path)
        return report

    def run(self):
        """Follows MODEL_DIR until the final checkpoint, the end of training or the
        timeout; returns {evaluated: [steps], last_step, model_dir}."""
        log.info('continuous_eval: following %s (final step %d; stops after %.0f s without '
                 'a new checkpoint).', self.ckpt_dir, self.train_steps, self.timeout)
        tf.io.gfile.makedirs(self.ckpt_dir)
        for path in tf.train.checkpoints_iterator(
                self.ckpt_dir, min_interval_secs=0, timeout=min(POLL_SECONDS, self.timeout),
                timeout_fn=self._stop_waiting):
            self.waiting_since = time.time()
            step = step_of(path)
            if step is None or step <= 0 or step <= self.last_step:
                continue  # step 0: the restore point written before training
            with recovery.disk_errors(self.model_dir):
                report = self.evaluate(path)
            if report is not None:
                self.last_step = step
                self.evaluated.append(step)
            self.waiting_since = time.time()
            if step >= self.train_steps:
                log.info('continuous_eval: evaluated the final checkpoint (step %d): '
                         'stopping.', step)
                break
        return {'evaluated': self.evaluated, 'last_step': self.last_step,
                'model_dir': self.model_dir}


def run(experiment, timeout=3600.0):
    """Runs a Sidecar for ``experiment`` (see the module docstring)."""
    return Sidecar(experiment, timeout).run()
